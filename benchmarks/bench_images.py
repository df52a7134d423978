"""Image recognition throughput and memory, against the original plugin's strategy, in one run.

    python benchmarks/bench_images.py                 # N = 1,000 and 10,000
    python benchmarks/bench_images.py --sizes 500     # quicker

Both runs work on the same generated library in the Stash and CompreFace doubles, with injected
service latency (default 40 ms per CompreFace recognition, 10 ms per Stash call). "ours" is the plugin
run as Stash runs it (a subprocess speaking the plugin protocol, default settings); its peak RSS is the
kernel's high-water mark of that process alone. "baseline" follows the original Go plugin: one image at a time,
its GraphQL round trips per image (findImage, two findPerformers and a findPerformer per matched face,
an imageUpdate for performers, then a findImage + imageUpdate per tag written or removed). The baseline
is sampled on the first images of the library (its rate is steady), so the figures come from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stash_compreface.compreface.client import CompreFaceClient
from stash_compreface.stash.client import StashClient
from stash_compreface.stash.models import ItemKind
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.synthetic import SyntheticFace, draw_image, noise_image

COOKIE = "benchmark-session-cookie"
PERSONS = 40
POOL = 60


def build_library(stash: StashDouble, compreface: CompreFaceDouble, n: int) -> None:
    """Known performers (one subject each), then ``n`` images reusing a pool of photos (memory-light)."""
    for person in range(PERSONS):
        subject = f"Person 0 BENCH{person:011d}"
        stash.add_performer(f"Performer {person}", aliases=[subject])
        compreface.add_subject_example(subject, draw_image(400, 400, [SyntheticFace(person, 100, 100, 200)],
                                                           seed=person))
    pool = []
    for i in range(POOL):
        if i % 5 == 4:
            pool.append(noise_image(480, 360, seed=i))
        else:
            face = SyntheticFace(i % PERSONS, 40 + (i * 7) % 200, 30 + (i * 11) % 100, 140 + (i % 5) * 10)
            pool.append(draw_image(480, 360, [face], seed=i))
    for i in range(n):
        stash.add_image(pool[i % POOL], path=f"/library/img_{i:06d}.jpg")


def _watch_peak(pid: int, peak: list[int]) -> None:
    """Follow the kernel's high-water mark (VmHWM) of the plugin's own address space.

    ru_maxrss would also count the pre-exec fork of this (large) benchmark process.
    """
    while True:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"stash_compreface" not in cmdline.read():  # not exec'd yet: still our fork
                    time.sleep(0.01)
                    continue
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.05)


def run_ours(stash: StashDouble, state_dir: Path) -> tuple[float, int, int]:
    """The plugin as Stash starts it; returns (seconds, graphql operations, peak RSS in KiB)."""
    stdin = json.dumps({
        "server_connection": {"Scheme": "http", "Host": "0.0.0.0", "Port": stash.port,
                              "SessionCookie": {"Name": "session", "Value": COOKIE}, "Dir": str(state_dir),
                              "PluginDir": str(state_dir)},
        "args": {"mode": "recognizeImagesHQ", "limit": "0"},
    })
    before = len(stash.operations)
    elapsed, output, peak = run_plugin_process(stdin)
    if output.get("error"):
        raise SystemExit(f"plugin failed: {output['error']}")
    return elapsed, len(stash.operations) - before, peak


def run_plugin_process(stdin: str) -> tuple[float, dict, int]:
    """The plugin as Stash starts it (the state goes to <PluginDir>/data): seconds, its JSON output and
    its own peak RSS in KiB (VmHWM, watched while it runs)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "stash_compreface", "plugin"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
                            cwd=tempfile.gettempdir())
    drained: dict[str, bytes] = {}
    threads = [threading.Thread(target=lambda n=n, s=s: drained.__setitem__(n, s.read()), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    peak = [0]
    threads.append(threading.Thread(target=_watch_peak, args=(proc.pid, peak), daemon=True))
    for t in threads:
        t.start()
    assert proc.stdin is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    proc.wait()
    elapsed = time.perf_counter() - started
    for t in threads:
        t.join()
    return elapsed, json.loads(drained.get("stdout") or b"{}"), peak[0]


def run_baseline(stash: StashDouble, compreface: CompreFaceDouble, sample: int) -> tuple[float, int]:
    """The original's strategy on ``sample`` images; returns (seconds, graphql operations)."""
    client = StashClient(stash.url, session_cookie=COOKIE)
    faces = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY)
    scanned, matched, complete, partial = (client.create_tag(n) for n in
                                           ("Baseline Scanned", "Baseline Matched", "Baseline Complete",
                                            "Baseline Partial"))

    def add_tag(image_id: str, tag: str, remove: bool = False) -> None:
        client.find_image(image_id)  # B2/B3 re-read the image before every tag write
        if remove:
            client.update_items(ItemKind.IMAGE, [image_id], remove_tags=[tag])
        else:
            client.update_items(ItemKind.IMAGE, [image_id], add_tags=[tag])

    before = len(stash.operations)
    started = time.perf_counter()
    done = 0
    while done < sample:
        _, page = client.find_images({"page": 1, "per_page": 20},
                                     {"tags": {"value": [scanned], "modifier": "EXCLUDES"}})
        for image in page[: sample - done]:
            full = client.find_image(image.id)
            assert full is not None
            with client.download(full.url, what="image") as media:
                data = media.read()
            found = faces.recognize(data, min_probability=0.8, candidates=1)
            performers = []
            for face in found:
                if face.best and face.best.similarity >= 0.81:
                    hits = client.find_performers_named(face.best.subject)
                    if hits:
                        client.find_performer(hits[0].id)
                        performers.append(hits[0].id)
            if performers:
                client.update_items(ItemKind.IMAGE, [image.id], add_performers=performers)
            add_tag(image.id, scanned)
            if performers:
                add_tag(image.id, matched)
            add_tag(image.id, complete)
            add_tag(image.id, partial, remove=True)
            done += 1
    elapsed = time.perf_counter() - started
    client.close()
    faces.close()
    return elapsed, len(stash.operations) - before


def measure(n: int, baseline_sample: int, recognize_ms: float, stash_ms: float) -> dict[str, float]:
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash, \
            tempfile.TemporaryDirectory() as tmp:
        build_library(stash, compreface, n)
        stash.configure_plugin("compreface", {"comprefaceUrl": compreface.url, "recognitionApiKey": RECOGNITION_KEY})
        compreface.recognize_latency_s = recognize_ms / 1000
        stash.graphql_latency_s = stash_ms / 1000
        ours_s, ours_ops, rss_kib = run_ours(stash, Path(tmp))
        images = sum(1 for i in stash.images.values() if i.tag_ids)
        if images != n:
            raise SystemExit(f"ours tagged {images} of {n} images")
        for image in stash.images.values():  # the baseline gets the same, untouched library
            image.tag_ids.clear()
        base_s, base_ops = run_baseline(stash, compreface, min(n, baseline_sample))
    sample = min(n, baseline_sample)
    return {"n": n, "ours_ips": n / ours_s, "base_ips": sample / base_s, "ours_rt": ours_ops / n,
            "base_rt": base_ops / sample, "rss_mib": rss_kib / 1024, "ours_s": ours_s, "base_sample": sample}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--baseline-sample", type=int, default=200)
    parser.add_argument("--recognize-ms", type=float, default=40.0)
    parser.add_argument("--stash-ms", type=float, default=10.0)
    ns = parser.parse_args()
    print(f"latency: CompreFace recognize {ns.recognize_ms:.0f} ms, Stash call {ns.stash_ms:.0f} ms; "
          f"ours = default settings (maxConcurrency 4, maxBatchSize 20)")
    print(f"{'N':>7} {'ours img/s':>11} {'baseline img/s':>15} {'ratio':>6} {'GraphQL/img ours':>17} "
          f"{'baseline':>9} {'peak RSS ours':>14}")
    rows = []
    for n in ns.sizes:
        r = measure(n, ns.baseline_sample, ns.recognize_ms, ns.stash_ms)
        rows.append(r)
        print(f"{n:>7} {r['ours_ips']:>11.1f} {r['base_ips']:>15.1f} {r['ours_ips'] / r['base_ips']:>5.1f}x "
              f"{r['ours_rt']:>17.2f} {r['base_rt']:>9.2f} {r['rss_mib']:>11.1f} MiB", flush=True)
    if len(rows) > 1:
        print(f"peak RSS ratio N={rows[-1]['n']} / N={rows[0]['n']}: {rows[-1]['rss_mib'] / rows[0]['rss_mib']:.2f}")


if __name__ == "__main__":
    main()
