"""What the undo journal costs on disk: bytes per recognised image and per run, and the state file under retention.

    .venv/bin/python benchmarks/bench_journal.py                              # 2,000 images; 24 runs of 100
    .venv/bin/python benchmarks/bench_journal.py --images 500 --runs 14 --per-run 50 --keep 10

Everything runs in-process against the Stash and CompreFace doubles (synthetic faces), through the same
``task_context`` the plugin runtime builds, with a state folder on disk:

* one Recognize Images (High Quality) run over ``--images`` images: known performers (one subject each),
  strangers who turn up twice (a candidate, then a performer linked to both images), and images without a
  face. Printed: the journal's entries, its bytes on disk (``dbstat``: the pages of the journal's tables and
  indexes, free space inside them included) per image and per entry, and the state file's size;
* ``--runs`` runs of ``--per-run`` images each (the scan tags are cleared between runs, so each run journals
  as much as the first), with ``journalRuns`` set to ``--keep``: the state file's size after each run. With
  retention it stops growing once ``--keep`` runs are journalled (freed pages are reused, the file is never
  shrunk); without (an older plugin ignores the setting) it grows with every run.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from stash_compreface import tasks  # noqa: E402
from stash_compreface.runtime.reporter import MemoryReporter  # noqa: E402
from stash_compreface.runtime.session import task_context  # noqa: E402
from stash_compreface.settings import parse_args  # noqa: E402
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble  # noqa: E402
from testdoubles.stash import StashDouble  # noqa: E402
from testdoubles.synthetic import SyntheticFace, draw_image, noise_image  # noqa: E402

COOKIE = "benchmark-session-cookie"
KNOWN = 30  # enrolled performers
POOL = 60  # distinct pictures, reused across the library (memory-light)
JOURNAL_TABLES = ("runs", "run_writes")


def picture(i: int) -> bytes:
    """Every 5th picture has no face; every 4th a stranger (persons KNOWN.., each in two pictures); else a known
    performer."""
    if i % 5 == 4:
        return noise_image(360, 270, seed=i)
    person = KNOWN + (i // 8) % 8 if i % 4 == 3 else i % KNOWN
    face = SyntheticFace(person, 30 + (i * 7) % 120, 20 + (i * 11) % 60, 140 + (i % 5) * 8)
    return draw_image(360, 270, [face], seed=i)


def enrol(stash: StashDouble, compreface: CompreFaceDouble) -> None:
    for person in range(KNOWN):
        subject = f"Person 0 BENCH{person:011d}"
        stash.add_performer(f"Performer {person}", aliases=[subject])
        compreface.add_subject_example(subject, draw_image(400, 400, [SyntheticFace(person, 100, 100, 200)],
                                                           seed=person))


def run(stash: StashDouble, state_dir: Path, mode: str) -> dict:
    reporter = MemoryReporter()
    with task_context(stash_url=stash.url, reporter=reporter, state_dir=state_dir, session_cookie=COOKIE) as ctx:
        output = tasks.run(mode, ctx, parse_args({"mode": mode, "limit": "0"}))
    return output if isinstance(output, dict) else {}


def journal_bytes(path: Path) -> tuple[int, int, int]:
    """(bytes on disk of the journal's tables and their indexes, journal entries, runs with entries)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        owners = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_schema WHERE tbl_name IN (?, ?)", JOURNAL_TABLES)}
        pages = db.execute(f"SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ({','.join('?' * len(owners))}) "
                           "GROUP BY name", sorted(owners)).fetchall()
        (entries,) = db.execute("SELECT COUNT(*) FROM run_writes").fetchone()
        (runs,) = db.execute("SELECT COUNT(DISTINCT run_id) FROM run_writes").fetchone()
    return sum(size for _, size in pages), int(entries), int(runs)


def state_size(state_dir: Path) -> int:
    """The state file and its WAL (the connection is closed, so the WAL was checkpointed)."""
    return sum(p.stat().st_size for p in state_dir.rglob("state.sqlite3*") if p.is_file())


def one_run(images: int) -> None:
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash, \
            tempfile.TemporaryDirectory() as tmp:
        enrol(stash, compreface)
        stash.configure_plugin("compreface", {"faceEngine": "compreface", "comprefaceUrl": compreface.url,
                                              "recognitionApiKey": RECOGNITION_KEY})
        pool = [picture(i) for i in range(POOL)]
        for i in range(images):
            stash.add_image(pool[i % POOL], path=f"/library/img_{i:06d}.jpg")
        started = time.perf_counter()
        output = run(stash, Path(tmp), "recognizeImagesHQ")
        elapsed = time.perf_counter() - started
        state = next(Path(tmp).rglob("state.sqlite3"))
        size, entries, _ = journal_bytes(state)
        linked = sum(1 for image in stash.images.values() if image.performer_ids)
        print(f"one run over {images} images ({elapsed:.0f} s): {linked} linked, "
              f"{output.get('changes', {}).get('performersCreated', '?')} performers created, "
              f"{entries} journal entries")
        print(f"  journal: {size} bytes = {size / images:.0f} bytes per image, {size / max(entries, 1):.0f} per "
              f"entry; state file {state_size(state.parent)} bytes")


def retention(runs: int, per_run: int, keep: int) -> None:
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash, \
            tempfile.TemporaryDirectory() as tmp:
        enrol(stash, compreface)
        stash.configure_plugin("compreface", {"faceEngine": "compreface", "comprefaceUrl": compreface.url,
                                              "recognitionApiKey": RECOGNITION_KEY, "journalRuns": keep})
        pool = [picture(i) for i in range(POOL)]
        for i in range(per_run):
            stash.add_image(pool[i % POOL], path=f"/library/img_{i:06d}.jpg")
        print(f"{runs} runs of {per_run} images, journalRuns {keep}:")
        sizes = []
        for number in range(1, runs + 1):
            with stash.lock:  # every run recognises the library again, so each journals as much
                for image in stash.images.values():
                    image.tag_ids.clear()
                    image.performer_ids.clear()
            run(stash, Path(tmp), "recognizeImagesHQ")
            state = next(Path(tmp).rglob("state.sqlite3"))
            size, entries, kept = journal_bytes(state)
            sizes.append(state_size(state.parent))
            print(f"  run {number:>3}: journal of {kept} runs, {entries} entries, {size} bytes "
                  f"({size / max(kept, 1):.0f} per run); state file {sizes[-1]} bytes", flush=True)
        if runs > keep:
            print(f"  state file after run {runs} / after run {keep}: {sizes[-1] / sizes[keep - 1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="images of the single run")
    parser.add_argument("--runs", type=int, default=24, help="runs of the retention part (0: skip it)")
    parser.add_argument("--per-run", type=int, default=100, help="images of each retention run")
    parser.add_argument("--keep", type=int, default=10, help="journalRuns of the retention part")
    ns = parser.parse_args()
    one_run(ns.images)
    if ns.runs:
        retention(ns.runs, ns.per_run, ns.keep)


if __name__ == "__main__":
    main()
