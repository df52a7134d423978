"""Scenes from the video itself: local extraction against the original plugin's Vision jobs, in one run.

    PYTHONPATH=src python benchmarks/bench_scenes.py                      # 10 scenes of 120 s, 720p
    PYTHONPATH=src python benchmarks/bench_scenes.py --scenes 4 --seconds 300 --interval 5

The run first writes real H.264 files with PyAV (720p, keyframes every 2, 3, 4 or 5 s by scene, the
picture changing every 2 s, a synthetic performer's face on screen for one minute at known times), then
measures three cases, each in a child process of its own so its CPU time (``time.process_time`` around
the work) and peak RSS (``VmHWM``) are its own:

* (a) file: ``video.frames.sample_frames`` on each scene's file, default ``frameInterval`` (10 s);
* (b) stream: the same through the Stash double's ``/scene/{id}/stream`` (Range, as Go's ServeFile) with
  the session cookie; the bytes the double sent and its request count are printed;
* (c) the original plugin's strategy: one Vision Service job per scene, the first poll 2 s after the
  submission and then every 2 s (its ``WaitForCompletion`` ticker), results fetched when completed. The
  Vision double is made to take ``duration / 2 s x --vision-ms-per-frame`` per job: the service samples a
  frame every 2 s (``face_sampling_interval``'s default, the only one it honours) and runs InsightFace
  buffalo_l on each. 40 ms a frame is a GPU figure (frame seek + JPEG q95 + RetinaFace at 640 + ArcFace)
  and favours the baseline: on a CPU it is several times longer, and the service's own scene-detection
  pass and its CPU/GPU are not counted at all. (c)'s CPU and RSS are the plugin side only.

* (d) the whole pipeline with the built-in engine, for each of ``--pipeline-sizes`` (720p and 1080p): the
  scene source the plugin uses without a Vision Service (``tasks.scenes.local_frames.LocalFrameSource``:
  sampling with PyAV, detection with embeddings, the scene gate, grouping by person, one recognition of
  each group's best faces) and the decision (``faces.scene_decision.decide``), on scenes where a real
  photo of a person (the engine tests' photos) is on screen for one minute and that person is a subject.
  It prints CPU seconds per hour of video (a few minutes of video extrapolated: the cost is per sampled
  frame, so it scales with the duration), split into sampling, detection + embedding, gate and the rest,
  for the baseline code (``--baseline``, as in bench_engines.py) and the current code, and checks that the
  person is recognised in every scene.

The generated videos are low frame rate (``--fps``, default 4) so that writing them stays near 30 s;
keyframe-only sampling never decodes the frames in between (the figures show it), so the frame rate
changes only how many packets are demuxed, not what is decoded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path += [str(ROOT / "src"), str(ROOT / "tests")]  # after PYTHONPATH: a baseline tree there wins

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_engines import BASELINE_REV  # noqa: E402

COOKIE = "benchmark-session-cookie"
POLL_S = 2.0  # the original's ticker: the first poll after 2 s, so every job costs at least 2 s
FACE_FROM, FACE_TO = 30.0, 90.0  # the performer is on screen for one minute in every scene


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


# -- the videos --------------------------------------------------------------------------------------------------


def write_scenes(folder: Path, n: int, seconds: float, fps: int, size: tuple[int, int]) -> list[dict[str, Any]]:
    """``n`` MP4s; a handful of backgrounds rendered once, shifted sideways every 2 s (so no two sample
    points show the same picture), the performer's synthetic face pasted over them between FACE_FROM and
    FACE_TO."""
    import numpy as np

    from testdoubles import synthetic

    width, height = size
    face = synthetic.SyntheticFace(person=3, x=width // 2 - height // 8, y=height // 5, size=height // 3)
    x0, y0, x1, y1 = face.box
    with_face = np.asarray(synthetic.render(width, height, [face], seed=0))[y0:y1, x0:x1]
    return _write_pasted(folder, "scene", n, seconds, fps, size, with_face, (x0, y0))


def _write_pasted(folder: Path, prefix: str, n: int, seconds: float, fps: int, size: tuple[int, int],
                  pasted: Any, at: tuple[int, int]) -> list[dict[str, Any]]:
    """The scenes of :func:`write_scenes` and :func:`write_photo_scenes`: ``pasted`` (an array) at ``at``
    between FACE_FROM and FACE_TO over shifting backgrounds."""
    import numpy as np
    from PIL import Image, ImageFilter
    from video.videos import write_h264

    from testdoubles import synthetic

    width, height = size
    x0, y0 = at
    x1, y1 = x0 + pasted.shape[1], y0 + pasted.shape[0]
    # A light blur drops the per-pixel noise, which only made the encoder slow (keyframes of pure noise).
    plain = [np.asarray(synthetic.render(width, height, [], seed=s).filter(ImageFilter.GaussianBlur(1.0)))
             for s in range(3)]
    scenes = []
    for i in range(n):
        cache: dict[tuple[int, bool], Image.Image] = {}

        def picture(t: float, i: int = i, cache: dict[tuple[int, bool], Image.Image] = cache) -> Image.Image:
            key = (int(t // 2), FACE_FROM <= t < FACE_TO)
            if key not in cache:
                cache.clear()
                arr = np.roll(plain[(key[0] + i) % len(plain)], key[0] * 53 + i * 101, axis=1)
                if key[1]:
                    arr = arr.copy()
                    arr[y0:y1, x0:x1] = pasted
                cache[key] = Image.fromarray(arr)
            return cache[key]

        gop = 2 + i % 4
        path = write_h264(folder / f"{prefix}_{i:02d}.mp4", seconds=seconds, fps=fps, gop_s=gop, size=size,
                          picture=picture)
        scenes.append({"path": str(path), "gop_s": gop, "bytes": path.stat().st_size})
    return scenes


# -- the children --------------------------------------------------------------------------------------------------


def child_extract(job: dict[str, Any]) -> dict[str, Any]:
    """(a) or (b): every scene through sample_frames, frames consumed as they come (as the task does)."""
    import threading

    from stash_compreface.video.frames import ExtractionStats, VideoSource, sample_frames

    per_scene = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for scene in job["scenes"]:
        source = VideoSource(path=scene.get("path"), stream_url=scene.get("url"),
                             headers=job.get("headers") or {}, duration_s=job["seconds"])
        stats = ExtractionStats()
        times = [frame.timestamp_s for frame in sample_frames(source, interval_s=job["interval"],
                                                              stop=threading.Event(), stats=stats)]
        per_scene.append({**vars(stats), "times": times})
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0, "rss_kib": vm_hwm_kib(),
            "scenes": per_scene}


def child_pipeline(job: dict[str, Any]) -> dict[str, Any]:
    """(d) every scene through the local-frame source and the decision, one after another, with the CPU
    time of each stage (``time.process_time``: this process only does this)."""
    import threading
    from types import SimpleNamespace

    from stash_compreface.engine.service import BuiltinFaceService
    from stash_compreface.faces.scene_decision import decide
    from stash_compreface.settings import Settings
    from stash_compreface.tasks.scenes import frame_faces
    from stash_compreface.tasks.scenes.local_frames import LocalFrameSource
    from stash_compreface.tasks.scenes.options import SceneOptions
    from stash_compreface.video.frames import VideoSource, sample_frames

    cpu0, wall0 = time.process_time(), time.perf_counter()
    service = BuiltinFaceService(None)
    service.add_example(job["person"], Path(job["example"]).read_bytes())
    load_cpu = time.process_time() - cpu0
    spent = {"sampling": 0.0, "detection": 0.0, "gate": 0.0}

    def timed(stage: str, call: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                spent[stage] += time.process_time() - started
        return wrapper

    def frames(scene: dict[str, Any], interval: float, stop: threading.Event) -> Any:
        source = VideoSource(path=scene["path"], stream_url=None, duration_s=job["seconds"])
        iterator = iter(sample_frames(source, interval_s=interval, stop=stop))
        while True:
            started = time.process_time()
            try:
                frame = next(iterator)
            except StopIteration:
                return
            finally:
                spent["sampling"] += time.process_time() - started
            yield frame

    stop = threading.Event()
    class Timed:
        """The service as the source sees it, its detection timed."""

        detect = staticmethod(timed("detection", service.detect))

        def __getattr__(self, name: str) -> Any:
            return getattr(service, name)

    faces = Timed()
    ctx = SimpleNamespace(frames=frames, face_service=faces, stop=stop, check_stop=lambda: None)
    options = SceneOptions.from_settings(Settings())
    source = LocalFrameSource(ctx, options)  # type: ignore[arg-type]
    observe = frame_faces.observe
    frame_faces.observe = timed("gate", observe)  # type: ignore[assignment]  # local_frames calls it by name
    import stash_compreface.tasks.scenes.local_frames as local_frames
    local_frames.observe = frame_faces.observe  # type: ignore[assignment]
    found, sampled = 0, 0
    cpu1 = time.process_time()
    for scene in job["scenes"]:
        seen = source.faces(scene)  # type: ignore[arg-type]
        sampled += len(seen.times)
        decision = decide(seen.groups, seen.frames_with_faces, min_similarity=options.min_similarity)
        found += any(named.subject == job["person"] and named.evidence is not None for named in decision.named)
    total = time.process_time() - cpu1
    return {"cpu_s": total, "load_cpu_s": load_cpu, "wall_s": time.perf_counter() - wall0, "rss_kib": vm_hwm_kib(),
            "sampled": sampled, "found": found, **{f"{k}_s": v for k, v in spent.items()}}


def write_photo_scenes(folder: Path, n: int, seconds: float, fps: int, size: tuple[int, int], photo: bytes
                       ) -> list[dict[str, Any]]:
    """``n`` MP4s like ``write_scenes``' with a real photo of a person (a third of the frame's height) on
    screen between FACE_FROM and FACE_TO instead of the synthetic face."""
    import io

    import numpy as np
    from PIL import Image

    width, height = size
    person = Image.open(io.BytesIO(photo)).convert("RGB")
    person = person.resize((round(person.width * height / 2 / person.height), height // 2), Image.Resampling.LANCZOS)
    at = (width // 2 - person.width // 2, height // 4)
    return _write_pasted(folder, f"photo_scene_{width}", n, seconds, fps, size, np.asarray(person), at)


def child_vision(job: dict[str, Any]) -> dict[str, Any]:
    """(c) the original: submit, wait 2 s, poll every 2 s until completed, fetch results; one scene at a time."""
    import httpx

    cpu0, wall0 = time.process_time(), time.perf_counter()
    polls = faces = 0
    with httpx.Client(base_url=job["url"], timeout=60) as client:
        for i, scene in enumerate(job["scenes"]):
            answer = client.post("/vision/analyze", json={
                "source": scene["path"], "source_id": str(i + 1), "processing_mode": "sequential",
                "modules": {"faces": {"enabled": True, "parameters": {"face_min_confidence": 0.7}}}})
            answer.raise_for_status()
            job_id = answer.json()["job_id"]
            while True:
                time.sleep(POLL_S)
                polls += 1
                status = client.get(f"/vision/jobs/{job_id}/status")
                if status.status_code == 200 and status.json()["status"] == "completed":
                    break
            results = client.get(f"/vision/jobs/{job_id}/results")
            results.raise_for_status()
            faces += len(results.json()["faces"]["faces"])
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0, "rss_kib": vm_hwm_kib(),
            "polls": polls, "faces": faces}


def run_child(kind: str, job: dict[str, Any], folder: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    spec = folder / f"{kind}.json"
    spec.write_text(json.dumps(job))
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(spec)], capture_output=True, text=True,
                          check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"case {kind} failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- (c)'s Vision Service: a job takes as long as the service would work on the video -------------------------------


def timed_vision(seconds_per_job: float) -> Any:
    from testdoubles.vision import VisionDouble, VisionHandler

    class Jobs(dict[str, dict[str, Any]]):
        def __setitem__(self, key: str, value: dict[str, Any]) -> None:
            super().__setitem__(key, {**value, "submitted": time.monotonic()})

    class Handler(VisionHandler):
        def handle_request(self, method: str) -> None:
            parts = self.path_only.strip("/").split("/")
            if method == "GET" and len(parts) == 4 and parts[:2] == ["vision", "jobs"] and parts[3] == "status":
                with self.double.lock:
                    job = self.double.jobs.get(parts[2])
                if job is not None and time.monotonic() - job["submitted"] < seconds_per_job:
                    return self.send_json(200, {"job_id": parts[2], "status": "processing", "progress": 0.5,
                                                "error": None})
            return super().handle_request(method)

    class Timed(VisionDouble):
        handler_class = Handler

        def __init__(self) -> None:
            super().__init__()
            self.jobs = Jobs()
            self.not_found_polls = self.processing_polls = 0

    return Timed()


# -- report --------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--fps", type=int, default=4)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--interval", type=float, default=10.0, help="frameInterval (the plugin's default: 10 s)")
    parser.add_argument("--vision-ms-per-frame", type=float, default=40.0)
    parser.add_argument("--vision-sampling-s", type=float, default=2.0)
    parser.add_argument("--pipeline-sizes", nargs="*", default=["1280x720", "1920x1080"])
    parser.add_argument("--pipeline-scenes", type=int, default=3)
    parser.add_argument("--pipeline-only", action="store_true", help="only (d), the whole pipeline")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision of the code to compare (d) with")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        job = json.loads(Path(ns.child[1]).read_text())
        kinds = {"vision": child_vision, "pipeline": child_pipeline}
        print(json.dumps(kinds.get(ns.child[0], child_extract)(job)))
        return
    if ns.pipeline_only:
        pipeline(ns)
        return

    from testdoubles import synthetic
    from testdoubles.stash import StashDouble

    size = tuple(int(v) for v in ns.size.split("x"))
    hours = ns.scenes * ns.seconds / 3600
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        scenes = write_scenes(folder, ns.scenes, ns.seconds, ns.fps, size)  # type: ignore[arg-type]
        total_bytes = sum(s["bytes"] for s in scenes)
        print(f"{ns.scenes} H.264 scenes {size[0]}x{size[1]}, {ns.seconds:.0f} s each at {ns.fps} fps "
              f"({hours * 60:.0f} min of video), keyframes every 2-5 s, written in "
              f"{time.perf_counter() - started:.1f} s: {total_bytes / 1e6:.1f} MB "
              f"({min(s['bytes'] for s in scenes) / 1e6:.1f}-{max(s['bytes'] for s in scenes) / 1e6:.1f} MB each); "
              f"face on screen {FACE_FROM:.0f}-{FACE_TO:.0f} s; frameInterval {ns.interval:g} s; "
              f"{os.cpu_count()} CPUs")
        base = {"seconds": ns.seconds, "interval": ns.interval}

        results: dict[str, dict[str, Any]] = {}
        results["file"] = run_child("file", {**base, "scenes": [{"path": s["path"]} for s in scenes]}, folder)

        with StashDouble.running(session_cookie=COOKIE) as stash:
            urls = []
            for i, s in enumerate(scenes):
                scene_id = stash.add_scene(f"Scene {i}", path=f"/media/not-here/scene_{i:02d}.mp4",
                                           duration=ns.seconds, video=Path(s["path"]).read_bytes())
                urls.append({"url": f"{stash.url}/scene/{scene_id}/stream"})
            results["stream"] = run_child("stream", {**base, "scenes": urls,
                                                     "headers": {"Cookie": f"session={COOKIE}"}}, folder)
            sent, requests = stash.stream_bytes_sent, len(stash.stream_ranges)

        per_job = ns.seconds / ns.vision_sampling_s * ns.vision_ms_per_frame / 1000
        vision = timed_vision(per_job)
        with vision:
            face_jpeg = synthetic.draw_image(320, 240, [synthetic.SyntheticFace(3, 110, 60, 90)])
            for s in scenes:
                vision.add_video(s["path"], [(t, face_jpeg) for t in range(int(FACE_FROM), int(FACE_TO), 10)])
            results["vision"] = run_child("vision", {"url": vision.url, "scenes": scenes}, folder)

    print(f"\n{'case':<44} {'scenes/s':>9} {'CPU s/h video':>14} {'wall s':>8} {'peak RSS':>10}")
    labels = {"file": "(a) local extraction, the file",
              "stream": "(b) local extraction, Stash's stream (Range)",
              "vision": "(c) original: Vision job/scene, 2 s poll"}
    for key, label in labels.items():
        r = results[key]
        print(f"{label:<44} {ns.scenes / r['wall_s']:9.2f} {r['cpu_s'] / hours:14.1f} {r['wall_s']:8.2f} "
              f"{r['rss_kib'] / 1024:7.1f} MiB")
    a, b, c = results["file"], results["stream"], results["vision"]
    print(f"  (c) modelled service time {per_job:.1f} s/job ({ns.vision_ms_per_frame:g} ms x a frame every "
          f"{ns.vision_sampling_s:g} s), {c['polls']} polls for {ns.scenes} jobs; its CPU s/h is the plugin side only"
          f" (the service's {per_job * ns.scenes / hours:.0f} GPU-s/h of video come on top); {c['faces']} face "
          "groups returned")
    print(f"  ratios: scenes/s file/original {c['wall_s'] / a['wall_s']:.1f}x, stream/original "
          f"{c['wall_s'] / b['wall_s']:.1f}x, file/stream {b['wall_s'] / a['wall_s']:.2f}x; CPU stream/file "
          f"{b['cpu_s'] / a['cpu_s']:.2f}x; peak RSS file/original {a['rss_kib'] / c['rss_kib']:.2f}x, "
          f"stream/file {b['rss_kib'] / a['rss_kib']:.2f}x")
    seeks = sum(s["seeks"] for s in b["scenes"])
    print(f"  stream: Stash sent {sent / 1e6:.1f} MB in {requests} requests for {total_bytes / 1e6:.1f} MB of files "
          f"({sent / total_bytes:.0%}; request_size 1 MiB): {sent / 1e6 / max(1, seeks):.2f} MB per seek, while "
          f"{ns.interval:g} s of these files is {total_bytes / 1e6 / hours / 3600 * ns.interval:.2f} MB (of a "
          f"4-8 Mbit/s video, {ns.interval * 0.5:g}-{ns.interval:g} MB)")

    print("\nDecoded vs sampled (ExtractionStats, summed over the scenes):")
    frames_in_files = round(ns.scenes * ns.seconds * ns.fps)
    keyframes_in_files = sum(int(ns.seconds // s["gop_s"]) + 1 for s in scenes)
    for key in ("file", "stream"):
        per = results[key]["scenes"]
        total = {f: sum(s[f] for s in per) for f in ("seeks", "packets", "decoded", "keyframes", "yielded",
                                                      "duplicates", "exact_seeks")}
        on_face = sum(sum(FACE_FROM <= t < FACE_TO for t in s["times"]) for s in per)
        print(f"  {key:<6} frames in files {frames_in_files} (keyframes {keyframes_in_files}); packets demuxed "
              f"{total['packets']}; decoded {total['decoded']} (keyframes {total['keyframes']}); sampled "
              f"{total['yielded']} (duplicates dropped {total['duplicates']}); seeks {total['seeks']}, exact "
              f"{total['exact_seeks']}; sampled frames while the face is on screen: {on_face} "
              f"({on_face / ns.scenes:.1f} per scene)")
    pipeline(ns)


def pipeline(ns: argparse.Namespace) -> None:
    """(d): the whole local-frame pipeline with the built-in engine, baseline and current code, per size."""
    from bench_engines import DEFAULT_PHOTOS, baseline_tree, code_env

    from testdoubles.photos import load_photos

    photos = load_photos(DEFAULT_PHOTOS)
    hours = ns.pipeline_scenes * ns.seconds / 3600
    print(f"\n(d) the whole pipeline (LocalFrameSource + decide, built-in engine, frameInterval {ns.interval:g} s): "
          f"{ns.pipeline_scenes} scenes of {ns.seconds:.0f} s per size ({hours * 60:.0f} min of video, "
          "extrapolated to an hour), a real photo on screen for one minute; CPU s per hour of video:")
    print(f"  {'size':<10} {'code':<9} {'total':>7} {'sampling':>9} {'detect+embed':>13} {'gate':>6} {'rest':>6} "
          f"{'frames':>7} {'CPU-ms/frame':>13} {'found':>6} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = baseline_tree(ns.baseline, folder / "baseline")
        example = folder / "example.jpg"
        example.write_bytes(photos["obama_1"])
        for size_text in ns.pipeline_sizes:
            size = tuple(int(v) for v in size_text.split("x"))
            scenes = write_photo_scenes(folder, ns.pipeline_scenes, ns.seconds, ns.fps, size,  # type: ignore[arg-type]
                                        photos["obama_2"])
            job = {"seconds": ns.seconds, "scenes": scenes, "person": "Obama", "example": str(example)}
            results = {}
            for code, tree in (("baseline", base), ("current", None)):
                job_code = {**job}
                r = run_child("pipeline", job_code, folder, env=code_env(tree))
                results[code] = r
                rest = r["cpu_s"] - r["sampling_s"] - r["detection_s"] - r["gate_s"]
                print(f"  {size_text:<10} {code:<9} {r['cpu_s'] / hours:7.1f} {r['sampling_s'] / hours:9.1f} "
                      f"{r['detection_s'] / hours:13.1f} {r['gate_s'] / hours:6.1f} {rest / hours:6.1f} "
                      f"{r['sampled']:7d} {1000 * r['cpu_s'] / max(1, r['sampled']):13.1f} "
                      f"{r['found']:>3}/{ns.pipeline_scenes:<2} {r['rss_kib'] / 1024:6.1f} MiB")
            b, c = results["baseline"], results["current"]
            print(f"  {size_text:<10} ratio current/baseline CPU {c['cpu_s'] / b['cpu_s']:.2f}x")


if __name__ == "__main__":
    main()
