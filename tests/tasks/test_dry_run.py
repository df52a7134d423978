"""dryRun writes nothing, anywhere: every mode, run dry on a library where each of them has something to write,
leaves Stash, the face services, the state folder and the hook queue exactly as they were (PRODUCT.md §3).

What stops the writes is the ports the session hands a dry run (``ports.py``), not each mode's care: the
second test takes the writer's own dry-run check away and the ports still write nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stash_compreface import tasks
from stash_compreface.ports import DryRunRefused, ReadOnlyFaceService, ReadOnlyStash, ReadOnlyStateFiles
from stash_compreface.runtime.session import task_context
from stash_compreface.stash.models import ItemKind
from stash_compreface.tasks.writes import Writes
from testdoubles.reporter import MemoryReporter
from tests.library import enrol, photo, portrait, sprite
from tests.tasks.conftest import COOKIE, TaskWorld, frame, task_world
from tests.video.videos import write_h264


def stash_data(world: TaskWorld) -> dict[str, Any]:
    stash = world.stash
    with stash.lock:
        return copy.deepcopy({"tags": stash.tags, "images": stash.images, "performers": stash.performers,
                              "galleries": stash.galleries, "scenes": stash.scenes})


def face_data(world: TaskWorld) -> dict[str, Any]:
    with world.compreface.lock:
        return copy.deepcopy(world.compreface.subjects)


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under the state folder (state, face store, engine.json, scene-faces/, hook-queue/), by path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[TaskWorld, dict[str, dict[str, str]]]]:
    """A small world after real runs, with something left for every mode to write, and each mode's args."""
    with task_world(tmp_path) as world:
        state = world.state_dir
        world.configure(autoRecognize=True, frameInterval=2, minFacesForNewPerformer=2)
        alice = enrol(world, "Alice", 1)
        world.stash.add_performer("Bob", image=portrait(2))  # for synchronizePerformers
        linked = world.stash.add_image(photo(1, size=180, seed=1))
        world.stash.add_image(photo(8, size=170, seed=2))  # a stranger seen once: a candidate
        world.stash.add_image(photo(9, size=160, seed=3))  # another one
        sheet, vtt = sprite([1, None, 1, 1])
        pictures = [frame([1, 7], seed=i) for i in range(3)]
        video = write_h264(tmp_path / "clip.mp4", seconds=6, fps=1, gop_s=2, size=(640, 360),
                           picture=lambda t: pictures[min(int(t // 2), 2)])
        scene = world.stash.add_scene("Clip", path="/media/not-mounted-here/clip.mp4", sprite=sheet, vtt=vtt,
                                      video=video.read_bytes(), duration=6.0)
        real = world.run("recognizeImagesHQ")
        assert real.error is None and isinstance(real.output["runId"], int)
        assert world.run("identifyScene", sceneId=scene, associateExisting="false").error is None  # scene-faces/
        assert world.run("importFromCompreFace").error is None  # the built-in store, faces.sqlite3
        assert world.run("identifyImage", imageId=linked, associateExisting="false").error is None  # looks/
        candidates = [c["subject"] for c in world.run("reviewData").output["candidates"]]
        assert len(candidates) >= 2
        alice_face = world.run("performerFaces", performerId=alice).output["faces"][0]

        # Left for the dry runs: new images (one in a gallery, one queued by a scan hook), an unscanned scene.
        fresh = world.stash.add_image(photo(1, 2, size=150, seed=4))
        stranger = world.stash.add_image(photo(10, size=200, seed=5))
        gallery = world.stash.add_gallery("Holiday", [fresh])
        queued = world.stash.add_image(photo(1, size=175, seed=6))
        queue = state / "hook-queue"
        queue.mkdir(parents=True, exist_ok=True)
        (queue / "queue.txt").write_text(f"image:{queued}\nscene:{scene}\n", encoding="utf-8")
        (queue / "task-pending.json").write_text("{}", encoding="utf-8")
        args = {
            "identifyImage": {"imageId": fresh},
            "createPerformerFromImage": {"imageId": stranger},
            "identifyGallery": {"galleryId": gallery},
            "identifyScene": {"sceneId": scene},
            "rejectMatch": {"imageId": linked, "performerId": alice},
            "confirmMatch": {"imageId": fresh, "performerId": alice, "faceIndex": "0"},
            "undoRun": {"runId": str(real.output["runId"])},
            "nameCandidate": {"subject": candidates[0], "name": "Dana"},
            "mergeIntoPerformer": {"subject": candidates[1], "performerId": alice},
            "rejectCandidate": {"subject": candidates[0]},
            "mergeCandidates": {"subjects": candidates[:2]},
            "candidateFaces": {"subjects": candidates[:2]},
            "performerFaces": {"performerId": alice},
            "removeFace": {"performerId": alice, "subject": alice_face["subject"],
                           "exampleId": alice_face["exampleId"]},
            "assignFace": {"imageId": linked, "faceIndex": "0", "performerId": alice},
            "nameFace": {"imageId": linked, "faceIndex": "0", "name": "Erin"},
            "notThisFace": {"imageId": linked, "faceIndex": "0"},
        }
        yield world, args


def test_every_mode_run_dry_changes_nothing_anywhere(library: tuple[TaskWorld, dict[str, dict[str, str]]]) -> None:
    world, args = library
    assert set(args) <= set(tasks.MODES)
    stash, faces, files = stash_data(world), face_data(world), folder_files(world.state_dir)
    assert "faces.sqlite3" in files and "hook-queue/queue.txt" in files
    assert any(name.startswith("scene-faces/") for name in files)
    mutations, runs = world.stash.mutation_count(), len(world.runs)
    world.configure(autoRecognize=True, frameInterval=2, minFacesForNewPerformer=2, dryRun=True)

    for mode in tasks.MODES:
        run = world.run(mode, **args.get(mode, {}))
        assert run.error is None, f"{mode}: {run.error}"
        assert run.messages("error") == [], f"{mode}: {run.messages('error')}"
        if isinstance(run.output, dict) and "runId" in run.output and mode != "undoRun":
            assert run.output["runId"] is None, mode

    said = [m for run in world.runs[runs:] for m in run.messages("info") if m.startswith("dry run: would")]
    assert len(said) >= 10  # the modes did find things to write, and said so
    assert world.stash.mutation_count() == mutations  # not one mutation reached Stash
    assert stash_data(world) == stash  # ... and its data is as it was
    assert face_data(world) == faces  # CompreFace's subjects and examples
    assert folder_files(world.state_dir) == files  # state file, face store, scene faces, hook queue: byte for byte


def test_the_ports_stop_a_write_that_bypasses_the_writer(world: TaskWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=180, seed=1))
    for seed in (2, 3):
        world.stash.add_image(photo(42, size=170, seed=seed))  # a stranger twice: a performer to create
    world.configure(dryRun=True)
    faces = face_data(world)

    # Raw writes through the context's ports, as a new write path that forgot the writer would make them.
    reporter = MemoryReporter()
    with task_context(stash_url=world.stash.url, reporter=reporter, state_dir=world.state_dir,
                      session_cookie=COOKIE) as ctx:
        assert isinstance(ctx.stash, ReadOnlyStash) and isinstance(ctx.files, ReadOnlyStateFiles)
        assert isinstance(ctx.face_service, ReadOnlyFaceService)
        ctx.stash.update_items(ItemKind.IMAGE, [image], add_tags=["1"])
        ctx.stash.create_tag("Anything")
        with pytest.raises(DryRunRefused):  # a mutation the wrapper has no answer for is not sent
            ctx.stash.execute("PerformerDestroy", {"input": {"id": "1"}})
        assert ctx.stash.find_image(image) is not None  # queries still go through
        ctx.face_service.add_example("Alice", photo(1))
        ctx.face_service.delete_subject("Alice")
        ctx.files.replace_folder(world.state_dir / "scene-faces" / "1", {"0.jpg": b"x"})
    assert world.stash.mutation_count() == 0 and face_data(world) == faces
    assert not (world.state_dir / "scene-faces").exists()
    assert any(m.startswith("dry run: would update images") for m in reporter.messages("info"))

    # A writer that forgot its dry-run check: every write reaches the ports, which write nothing.
    def careless(self: Writes, what: str, write: Any, *, stash: bool = True) -> Any:
        return write()

    monkeypatch.setattr(Writes, "_write", careless)
    run = world.run("recognizeImagesHQ")
    assert any(m.startswith("dry run: would update images") for m in run.messages("info"))
    assert world.stash.mutation_count() == 0 and face_data(world) == faces
