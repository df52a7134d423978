"""recognizeNewScenes / recognizeAllScenes without a Vision Service: frames sampled locally.

The frame source is a fake (the shared contract's ``sample_frames`` shape): synthetic faces drawn on
frames, which the CompreFace double recognises (and embeds, through its calculator plugin).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image

from stash_compreface.errors import MediaError
from stash_compreface.stash.models import Scene
from stash_compreface.tasks import scene_recognizer
from testdoubles.synthetic import SyntheticFace, render
from tests.library import ERROR, MATCHED, SCANNED, created_performers, enrol
from tests.tasks.conftest import TaskWorld


@dataclass(frozen=True)
class Frame:
    timestamp_s: float
    image: Image.Image


def frame(persons: list[int], seed: int) -> Image.Image:
    """A 640x360 frame with one 150 px face per person, side by side (the first moves a little)."""
    faces = [SyntheticFace(p, 30 + 200 * i + (seed % 5) * 4, 60, 150 if i == 0 else 110) for i, p in enumerate(persons)]
    return render(640, 360, faces, seed=seed)


class FakeVideos:
    """Videos by path: the persons in view in each sampled frame; a path of None's frames raises."""

    def __init__(self) -> None:
        self.videos: dict[str, list[list[int]]] = {}
        self.stop_after: int | None = None
        self.frames_given = 0
        self.intervals: list[float] = []

    def __call__(self, scene: Scene, interval_s: float, stop: threading.Event) -> Iterator[Frame]:
        self.intervals.append(interval_s)
        if scene.path not in self.videos:
            raise MediaError(f"the video {scene.path} cannot be read: moov atom not found")
        for i, persons in enumerate(self.videos[scene.path]):
            if self.stop_after is not None and i == self.stop_after:
                stop.set()  # the user presses Stop while frames are still coming
            self.frames_given += 1
            yield Frame(i * interval_s, frame(persons, seed=i))


@pytest.fixture
def videos(monkeypatch: pytest.MonkeyPatch) -> FakeVideos:
    fake = FakeVideos()
    monkeypatch.setattr(scene_recognizer, "default_frame_source", fake)
    return fake


def test_known_performer_in_many_frames_linked_stray_not_user_performers_kept(world: TaskWorld,
                                                                               videos: FakeVideos) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    user = world.stash.add_performer("Carol")
    world.configure(frameInterval=5)
    # Alice in 6 of 8 frames (half a minute at 5 s), Bob in a single frame, a stranger in a single frame.
    videos.videos["/videos/a.mp4"] = [[1], [1], [], [1, 2], [1], [], [1, 33], [1]]
    clip = world.stash.add_scene("A", path="/videos/a.mp4", performers=[user])
    run = world.run("recognizeNewScenes")
    assert run.error is None
    assert set(world.stash.scenes[clip].performer_ids) == {user, alice}
    assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
    assert videos.intervals == [5.0]
    # the stranger seen once is nobody's candidate: no subject, no performer
    assert len(world.compreface.subjects) == 2  # Alice and Bob only
    assert created_performers(world) == []
    assert run.output["matched"] == 1


def test_unknown_person_in_enough_frames_of_two_scenes_becomes_a_performer_linked_to_both(
        world: TaskWorld, videos: FakeVideos) -> None:
    enrol(world, "Alice", 1)
    videos.videos["/videos/a.mp4"] = [[7], [7], [7, 1], [7]]
    videos.videos["/videos/b.mp4"] = [[], [7], [7], [7]]
    videos.videos["/videos/c.mp4"] = [[8], [], []]  # one frame: not a candidate
    a = world.stash.add_scene("A", path="/videos/a.mp4")
    b = world.stash.add_scene("B", path="/videos/b.mp4")
    c = world.stash.add_scene("C", path="/videos/c.mp4")
    world.configure(maxConcurrency=1)
    run = world.run("recognizeNewScenes")
    assert run.error is None
    created = created_performers(world)
    assert len(created) == 1
    assert created[0] in world.stash.scenes[a].performer_ids
    assert created[0] in world.stash.scenes[b].performer_ids
    assert world.stash.tag_names("scene", a) == {SCANNED, MATCHED}
    assert world.stash.tag_names("scene", c) == {SCANNED}
    assert run.output["created_performers"] == 1
    # one new subject only (the second scene recognised the candidate of the first)
    assert len([s for s in world.compreface.subjects if s.startswith(f"Person {a} ")]) == 1
    assert len(world.compreface.subjects) == 2


def test_unknown_person_in_one_scene_waits_for_a_second_sighting(world: TaskWorld, videos: FakeVideos) -> None:
    videos.videos["/videos/a.mp4"] = [[7], [7], [7], [7]]
    a = world.stash.add_scene("A", path="/videos/a.mp4")
    assert world.run("recognizeNewScenes").error is None
    assert created_performers(world) == []
    assert world.stash.tag_names("scene", a) == {SCANNED}
    assert len(world.compreface.subjects) == 1  # the candidate, with its first example


def test_unreadable_video_is_an_item_error_naming_the_scene(world: TaskWorld, videos: FakeVideos) -> None:
    alice = enrol(world, "Alice", 1)
    videos.videos["/videos/a.mp4"] = [[1], [1], [1]]
    broken = world.stash.add_scene("Broken", path="/videos/broken.mp4")
    good = world.stash.add_scene("Good", path="/videos/a.mp4")
    run = world.run("recognizeAllScenes")
    assert run.error is None
    assert world.stash.tag_names("scene", broken) == {ERROR}
    assert any(f"scene {broken}" in m and "moov atom" in m for m in run.messages("error"))
    assert set(world.stash.scenes[good].performer_ids) == {alice}


def test_a_stop_interrupts_the_frames(world: TaskWorld, videos: FakeVideos) -> None:
    enrol(world, "Alice", 1)
    videos.videos["/videos/a.mp4"] = [[1]] * 50
    videos.stop_after = 3
    clip = world.stash.add_scene("A", path="/videos/a.mp4")
    run = world.run("recognizeNewScenes")
    assert run.error == "stopped on request"
    assert videos.frames_given <= 4
    assert world.stash.tag_names("scene", clip) == set()
    assert not world.stash.scenes[clip].performer_ids


def test_without_a_frame_source_or_vision_service_the_setting_is_named(world: TaskWorld) -> None:
    world.stash.add_scene("Clip", path="/videos/clip.mp4")
    run = world.run("recognizeNewScenes")
    assert run.error is not None and "visionServiceUrl" in run.error
    assert world.stash.mutation_count() == 0
