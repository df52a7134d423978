"""Scene sprite and video modes and resetUnmatchedScenes in-process."""

from __future__ import annotations

import pytest

from testdoubles.vision import VisionDouble
from tests.library import ERROR, MATCHED, SCANNED, UNIDENTIFIED, created_performers, enrol, frames, sprite
from tests.tasks.conftest import TaskWorld


def test_sprites_link_performers_seen_consistently_not_strays(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    user = world.stash.add_performer("Carol")
    cells = [1 if i % 3 == 0 else None for i in range(27)]
    cells[4] = 2  # Bob in a single thumbnail: not enough evidence
    image, vtt = sprite(cells)
    scene = world.stash.add_scene("Clip", sprite=image, vtt=vtt, performers=[user])
    no_sprite = world.stash.add_scene("Not generated")
    run = world.run("recognizeNewSceneSprites")
    assert run.error is None
    assert set(world.stash.scenes[scene].performer_ids) == {user, alice}
    assert world.stash.tag_names("scene", scene) == {SCANNED, MATCHED}
    assert world.stash.tag_names("scene", no_sprite) == {ERROR}
    assert any(f"scene {no_sprite}" in m and "sprite" in m for m in run.messages("error"))
    # 27 thumbnails, nine per recognition
    assert world.compreface.calls["POST /api/v1/recognition/recognize"] == 3


def test_new_skips_scanned_scenes_all_revisits_them(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    image, vtt = sprite([1, None, 1, 1])
    scene = world.stash.add_scene("Clip", sprite=image, vtt=vtt)
    assert world.run("recognizeNewSceneSprites").error is None
    downloads = world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"]
    assert world.run("recognizeNewSceneSprites").error is None
    assert world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"] == downloads
    assert world.run("recognizeAllSceneSprites").error is None
    assert world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"] == downloads + 1


def test_reset_unmatched_scenes(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    matched_image, matched_vtt = sprite([1, 1, 1])
    empty_image, empty_vtt = sprite([None, None])
    matched = world.stash.add_scene("A", sprite=matched_image, vtt=matched_vtt)
    empty = world.stash.add_scene("B", sprite=empty_image, vtt=empty_vtt)
    broken = world.stash.add_scene("C")
    assert world.run("recognizeNewSceneSprites").error is None
    run = world.run("resetUnmatchedScenes")
    assert run.error is None and run.output["reset"] == 2
    assert world.stash.tag_names("scene", matched) == {SCANNED, MATCHED}
    assert world.stash.tag_names("scene", empty) == set()
    assert world.stash.tag_names("scene", broken) == set()


@pytest.mark.parametrize("legacy", [False, True], ids=["frames-route", "legacy-route"])
def test_video_frames_through_the_vision_service(world: TaskWorld, legacy: bool) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    with VisionDouble.running(legacy_frame_route=legacy) as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, None, 1, 2, 1, 1, None]))  # Bob: one stray frame
        clip = world.stash.add_scene("A", path="/videos/a.mp4")
        unseen = world.stash.add_scene("B", path="/videos/not-mounted.mp4")
        run = world.run("recognizeNewScenes")
        assert run.error is None
        assert set(world.stash.scenes[clip].performer_ids) == {alice}
        assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
        assert world.stash.tag_names("scene", unseen) == {ERROR}
        assert any(f"scene {unseen}" in m and "same path" in m for m in run.messages("error"))
        # enhancement as documented (§6.3); the enhanced representative's frame is fetched restored alike
        faces = vision.analyze_bodies[0]["modules"]["faces"]["parameters"]
        assert faces["enhancement"]["enabled"] is True and faces["use_sprites"] is False
        assert vision.frame_queries and all(q.get("enhance") == "1" for q in vision.frame_queries)


def test_a_failed_vision_job_tags_the_scene_error(world: TaskWorld) -> None:
    with VisionDouble.running() as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, 1]))
        vision.fail_jobs = True
        clip = world.stash.add_scene("A", path="/videos/a.mp4")
        run = world.run("recognizeAllScenes")
        assert run.error is None
        assert world.stash.tag_names("scene", clip) == {ERROR}
        assert any("decoder crashed" in m for m in run.messages("error"))


def test_a_performer_rejected_for_a_scene_is_not_linked_again_through_the_vision_service(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    with VisionDouble.running() as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, 1, None, 1, 1]))
        vision.add_video("/videos/b.mp4", frames([1, 1, 1]))
        rejected = world.stash.add_scene("A", path="/videos/a.mp4")
        other = world.stash.add_scene("B", path="/videos/b.mp4")
        assert world.run("recognizeAllScenes").error is None
        assert alice in world.stash.scenes[rejected].performer_ids

        assert world.run("rejectMatch", sceneId=rejected, performerId=alice).error is None
        assert alice not in world.stash.scenes[rejected].performer_ids
        run = world.run("recognizeAllScenes")
        assert run.error is None
        assert alice not in world.stash.scenes[rejected].performer_ids  # the user's no holds
        assert alice in world.stash.scenes[other].performer_ids  # the same run still links her elsewhere

        looked = world.run("identifyScene", sceneId=rejected, associateExisting="false")
        assert looked.error is None
        assert [(p["status"], p["performer"]["id"]) for p in looked.output["people"]] == [("rejected", alice)]


def test_a_new_person_through_the_vision_service_becomes_a_candidate_then_a_performer(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    with VisionDouble.running() as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url, minFacesForNewPerformer=2)
        vision.add_video("/videos/a.mp4", frames([7, 7, 7, 1, 1]))
        vision.add_video("/videos/b.mp4", frames([7, 7, 7]))
        vision.add_video("/videos/c.mp4", frames([8, 8]))  # two frames: too few to be a candidate
        first = world.stash.add_scene("A", path="/videos/a.mp4")
        stranger = world.stash.add_scene("C", path="/videos/c.mp4")
        assert world.run("recognizeNewScenes").error is None
        (subject,) = [s for s in world.compreface.subject_names() if s.startswith(f"Person {first} ")]
        assert not created_performers(world)  # seen in one scene: a candidate, no performer yet
        assert world.stash.tag_names("scene", first) == {SCANNED, MATCHED}  # Alice found: not Unidentified
        assert world.stash.tag_names("scene", stranger) == {SCANNED, UNIDENTIFIED}
        assert len(world.compreface.subject_names()) == 2  # Alice and the candidate, nobody for the stranger

        second = world.stash.add_scene("B", path="/videos/b.mp4")
        assert world.run("recognizeNewScenes").error is None
        (performer,) = created_performers(world)
        assert world.stash.performers[performer].name == subject
        # the candidate's scenes are linked once it is a performer
        assert performer in world.stash.scenes[first].performer_ids
        assert performer in world.stash.scenes[second].performer_ids
