"""What the verified backup costs at the end of a run that changed the state or the face store.

    .venv/bin/python benchmarks/bench_backup.py                     # 100,000 journal entries, 5,000 examples
    .venv/bin/python benchmarks/bench_backup.py --entries 20000 --examples 1000

A state file with ``--entries`` journal entries (links over 1,000 runs, as a large library's history) plus
as many sightings, refusals and learned claims as a tenth of that; a face store with ``--examples`` examples
(128-float vectors and a 6 KB crop each, as the built-in engine stores them). For each file: its size, and
the time of closing it unchanged (the baseline: no backup) against closing it after one write (online
backup into a temporary file, ``PRAGMA integrity_check`` on the copy, atomic rename), as the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from stash_compreface.engine.store import SubjectStore  # noqa: E402
from stash_compreface.stash.models import ItemKind, ItemRef  # noqa: E402
from stash_compreface.tasks.state import StateStore  # noqa: E402


def fill_state(path: Path, entries: int) -> None:
    store = StateStore(path)
    db = store._shared._db
    with db:
        runs = max(1, entries // 100)
        db.executemany("INSERT INTO runs(id, mode, started_at) VALUES (?, 'recognizeImagesHQ', 0)",
                       [(r + 1,) for r in range(runs)])
        db.executemany("INSERT INTO run_writes(run_id, seq, kind, target, detail) VALUES (?, ?, 'link', ?, ?)",
                       [(i // 100 + 1, i % 100 + 1, f"image:{i}", '{"performers": ["12"], "tags": ["3", "4"]}')
                        for i in range(entries)])
        side = entries // 10
        db.executemany("INSERT INTO sightings(subject, item) VALUES (?, ?)",
                       [(f"Person {i % 997} ABCDEFGHIJKLMNOP", f"image:{i}") for i in range(side)])
        db.executemany("INSERT INTO learned(subject, item) VALUES (?, ?)",
                       [(f"Person {i % 997} ABCDEFGHIJKLMNOP", f"image:{i}") for i in range(side)])
        db.executemany("INSERT INTO refusals(item, performer_id, subject, created_at) VALUES (?, '7', '', 0)",
                       [(f"image:{i}",) for i in range(side // 10)])
    store.close()


def fill_faces(path: Path, examples: int) -> None:
    store = SubjectStore(path)
    rng = np.random.default_rng(1)
    crop = os.urandom(6000)
    for i in range(examples):
        store.add_example(f"Person {i // 5}", "sface", rng.normal(size=128).astype(np.float32), crop=crop)
    store.close()


def timed_close(open_it, write) -> float:  # type: ignore[no-untyped-def]
    store = open_it()
    if write is not None:
        write(store)
    start = time.perf_counter()
    store.close()
    return (time.perf_counter() - start) * 1000


def best(times: list[float]) -> float:
    return min(times)


def report(what: str, path: Path, unchanged: float, changed: float) -> None:
    copy = Path(f"{path}.backup").stat().st_size
    print(f"{what}, {path.stat().st_size / 2**20:.1f} MiB: close unchanged {unchanged:.1f} ms, close with backup "
          f"{changed:.1f} ms (+{changed - unchanged:.1f} ms, {changed / max(unchanged, 0.01):.0f}x); "
          f"backup {copy / 2**20:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--examples", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.sqlite3"
        fill_state(state, args.entries)
        items = iter(ItemRef(ItemKind.IMAGE, str(10**9 + n)) for n in range(args.repeat))  # a new refusal each

        def refuse(store: StateStore) -> None:
            store.refusals.add(next(items), "8", ["Person 1 A"])

        unchanged = best([timed_close(lambda: StateStore(state), None) for _ in range(args.repeat)])
        changed = best([timed_close(lambda: StateStore(state), refuse) for _ in range(args.repeat)])
        report(f"state file: {args.entries:,} journal entries", state, unchanged, changed)

        faces = Path(folder) / "faces.sqlite3"
        fill_faces(faces, args.examples)
        vector = np.ones(128, dtype=np.float32)
        unchanged = best([timed_close(lambda: SubjectStore(faces), None) for _ in range(args.repeat)])
        changed = best([timed_close(lambda: SubjectStore(faces), lambda s: s.add_example("Extra", "sface", vector))
                        for _ in range(args.repeat)])
        report(f"face store: {args.examples:,} examples", faces, unchanged, changed)


if __name__ == "__main__":
    main()
