"""recognizeNewScenes / recognizeAllScenes without a Vision Service: frames sampled from the video itself.

Each scene is a real H.264 file, written with PyAV (the ``videos`` fixture, conftest.py): one picture per
5-second sample with synthetic faces drawn at known times, which the CompreFace double recognises (and
embeds, through its calculator plugin). The file is not at the scene's path on this machine, so the plugin
reads it from the Stash double's stream route, with HTTP Range, as it would in a Docker container that
does not mount the media.
"""

from __future__ import annotations

from testdoubles.compreface import DETECTION_KEY
from tests.library import ERROR, MATCHED, SCANNED, UNIDENTIFIED, created_performers, enrol
from tests.tasks.conftest import SAMPLE_S, TaskWorld, Videos


def test_known_performer_in_many_frames_linked_stray_not_user_performers_kept(world: TaskWorld,
                                                                               videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    user = world.stash.add_performer("Carol")
    # Alice in 6 of 8 samples (half a minute at 5 s), Bob in a single one, a stranger in a single one.
    clip = videos.scene("A", [[1], [1], [], [1, 2], [1], [], [1, 33], [1]], performers=[user])
    run = world.run("recognizeNewScenes")
    assert run.error is None, run.logs
    assert set(world.stash.scenes[clip].performer_ids) == {user, alice}  # the user's own performer kept
    assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
    # the stranger seen once is nobody's candidate: no subject, no performer
    assert len(world.compreface.subjects) == 2  # Alice and Bob only
    assert created_performers(world) == []
    assert run.output["matched"] == 1
    assert world.stash.stream_bytes_sent > 0  # read from Stash's stream: the path is not mounted here


def test_unknown_person_in_enough_frames_of_two_scenes_becomes_a_performer_linked_to_both(
        world: TaskWorld, videos: Videos) -> None:
    enrol(world, "Alice", 1)
    a = videos.scene("A", [[7], [7], [7, 1], [7]])
    b = videos.scene("B", [[], [7], [7], [7]])
    c = videos.scene("C", [[8], [], []])  # one frame: not a candidate
    world.configure(frameInterval=SAMPLE_S, maxConcurrency=1)
    run = world.run("recognizeNewScenes")
    assert run.error is None, run.logs
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


def test_unknown_person_in_one_scene_waits_for_a_second_sighting(world: TaskWorld, videos: Videos) -> None:
    a = videos.scene("A", [[7], [7], [7], [7]])
    assert world.run("recognizeNewScenes").error is None
    assert created_performers(world) == []
    # someone the user may want to name: the scene is Unidentified, for review
    assert world.stash.tag_names("scene", a) == {SCANNED, UNIDENTIFIED}
    assert len(world.compreface.subjects) == 1  # the candidate, with its first example


def test_unreadable_video_is_an_item_error_naming_the_scene(world: TaskWorld, videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    broken = world.stash.add_scene("Broken", path="/media/not-mounted-here/broken.mp4",
                                   video=b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 50)
    good = videos.scene("Good", [[1], [1], [1]])
    run = world.run("recognizeAllScenes")
    assert run.error is None
    assert world.stash.tag_names("scene", broken) == {ERROR}
    assert any(f"scene {broken}" in m for m in run.messages("error"))
    assert set(world.stash.scenes[good].performer_ids) == {alice}


def test_a_30_sample_scene_is_detected_per_frame_but_recognised_once(world: TaskWorld, videos: Videos) -> None:
    """Group first, then recognise each group's best faces. Before (recognise every face of every frame):
    30 recognitions for 30 samples. Now: 30 detections and one embeddings recognition for the scene."""
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    clip = videos.scene("Long", [[1, 2] if i % 10 == 0 else [1] for i in range(30)])
    world.configure(frameInterval=SAMPLE_S, detectionApiKey=DETECTION_KEY)
    world.compreface.calls.clear()
    run = world.run("recognizeNewScenes")
    assert run.error is None, run.logs
    assert set(world.stash.scenes[clip].performer_ids) == {alice}  # Bob in 3 of 30 frames: too few
    calls = world.compreface.calls
    assert calls["POST /api/v1/detection/detect"] == 30
    assert calls["POST /api/v1/recognition/recognize"] == 0
    assert calls["POST /api/v1/recognition/embeddings/recognize"] == 1
