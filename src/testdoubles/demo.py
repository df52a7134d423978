"""`stash-compreface demo`: the plugin, run exactly as Stash runs it, against the doubles.

It starts the Stash and CompreFace doubles on 127.0.0.1, generates a small library (performers with
profile photos, photos of them, strangers, a broken file), then runs Synchronize Performers and
Recognize Images (HQ) through the plugin protocol and prints what changed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import stash_compreface

from .compreface import RECOGNITION_KEY, CompreFaceDouble
from .stash import StashDouble
from .stash_runner import PluginRun, mode_call, run_plugin
from .synthetic import SyntheticFace, draw_image, noise_image

COOKIE = "ZGVtby1zZXNzaW9uLWNvb2tpZQ=="
NAMES = ("Ada", "Grace", "Linus", "Margaret")


def plugin_folder() -> Path | None:
    """The repository's plugin folder (a source checkout); runs in this interpreter, no venv needed."""
    candidate = Path(stash_compreface.__file__).resolve().parents[2] / "plugin"
    return candidate if (candidate / "compreface.yml").is_file() else None


def demo_library(stash: StashDouble, size: int, *, broken: bool = True) -> dict[str, str]:
    """Performers 0-3 known by profile; strangers 10 and 11 appear often, 12 once (never a performer); with
    ``broken``, a file that is not an image (its item fails). Image id -> who is in it."""
    for person, name in enumerate(NAMES):
        stash.add_performer(name, image=draw_image(420, 520, [SyntheticFace(person, 110, 120, 200)], seed=person))
    stash.add_performer("Nobody Yet")
    plan: list[tuple[int, ...]] = [(0,), (1,), (2, 3), (10,), (3,), (11,), (10,), (0, 10), (2,), (), (11,), (1,)]
    labels: dict[str, str] = {}
    for i in range(size):
        people = plan[i % len(plan)]
        if not people:
            data = noise_image(320, 240, seed=i)
        else:
            faces = [SyntheticFace(p, 40 + 220 * k, 50 + (i % 3) * 10, 150 - 30 * k + (i % 4) * 6)
                     for k, p in enumerate(people)]
            data = draw_image(520, 320, faces, seed=i)
        labels[stash.add_image(data, path=f"/photos/img_{i:03d}.jpg")] = (
            "+".join(NAMES[p] if p < len(NAMES) else f"stranger{p}" for p in people) or "no face")
    once = draw_image(520, 320, [SyntheticFace(12, 200, 60, 140)], seed=99)
    labels[stash.add_image(once, path="/photos/stranger_once.jpg")] = "stranger12"
    if broken:
        labels[stash.add_image(b"\xff\xd8\xff\xe0 this is not really a jpeg", path="/photos/broken.jpg")] = "broken"
    return labels


def _show(run: PluginRun, verbose: bool) -> None:
    for level, message in run.logs:
        if (verbose or level in ("info", "warning", "error")) and not message.startswith("identifyImage="):
            print(f"    [{level}] {message}")
    print(f"    -> {'error: ' + run.error if run.error else 'ok'}")


def run_demo(*, images: int = 40, verbose: bool = False) -> int:
    folder = plugin_folder()
    if folder is None:
        print("The demo runs the plugin folder of a source checkout: run it from a clone (pip install -e .)")
        return 1
    print("Starting a Stash double and a CompreFace double on 127.0.0.1 ...")
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash, \
            tempfile.TemporaryDirectory() as state:
        labels = demo_library(stash, max(12, images))
        stash.configure_plugin("compreface", {"comprefaceUrl": compreface.url,
                                              "recognitionApiKey": RECOGNITION_KEY, "stateDir": state})
        print(f"Library: {len(stash.performers)} performers, {len(stash.images)} images\n")
        env: dict[str, str | None] = {"STASH_COMPREFACE_NO_VENV": "1"}

        def run(mode: str, **args: str) -> PluginRun:
            print(f"$ plugin task {mode} {' '.join(f'{k}={v}' for k, v in args.items())}")
            task, call_args = mode_call(folder, mode, dict(args))
            result = run_plugin(folder, task=task, args=call_args, port=stash.port, cookie=COOKIE, env=env)
            _show(result, verbose)
            return result

        failed = [r for r in (run("synchronizePerformers"), run("recognizeImagesHQ")) if r.error]
        print(f"\nCompreFace subjects: {len(compreface.subject_names())}")
        print("\nImages after recognition:")
        names = {pid: p.name for pid, p in stash.performers.items()}
        for image_id, image in stash.images.items():
            tags = sorted(stash.tag_names("image", image_id))
            linked = sorted(names[p] for p in image.performer_ids)
            print(f"  image {image_id:>3} ({labels[image_id]:<14}) tags {tags}  performers {linked}")
        created = [p.name for p in stash.performers.values() if p.name.startswith("Person ")]
        print(f"\nPerformers created for strangers seen more than once: {created or 'none'}")
        sample = next(iter(stash.images))
        result = run("identifyImage", imageId=sample)
        for face in (result.output or {}).get("faces", []):
            who = face["performer"]["name"] if face["performer"] else "unknown"
            print(f"    face {face['index']}: {who} (similarity {face['similarity']}) box {face['box']}")
        gaps = stash.unsupported + compreface.unsupported
        for gap in gaps:  # the doubles model what the plugin sends: anything else is a gap to close
            print(f"  !! {gap}")
        return 1 if failed or gaps else 0
