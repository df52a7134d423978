"""confirmMatch in-process: the user's "this performer is in this image/scene" (rejectMatch is the no), and with
faceIndex, "this face is this performer", which recognition then learns."""

from __future__ import annotations

from tests.library import MATCHED, SCANNED, enrol, image_tags, image_updates, person_aliases, photo, sprite, subject_of
from tests.tasks.conftest import TaskWorld, Videos


def _remove_by_hand(world: TaskWorld, kind: str, item: str, performer: str) -> None:
    """The user takes the performer off the item in Stash (not through the plugin)."""
    with world.stash.lock:
        table = world.stash.images if kind == "image" else world.stash.scenes
        table[item].performer_ids.discard(performer)


def test_confirm_links_keeps_the_items_own_links_is_idempotent_and_lifts_a_refusal(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    carol = world.stash.add_performer("Carol")
    image = world.stash.add_image(photo(1, size=180, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    assert world.run("rejectMatch", imageId=image, performerId=alice).error is None
    assert world.run("identifyImagesAll").error is None
    assert alice not in world.stash.images[image].performer_ids  # refused: the runs leave it off
    holiday = world.stash.add_tag("Holiday")
    with world.stash.lock:  # the user's own edits
        world.stash.images[image].performer_ids.add(carol)
        world.stash.images[image].tag_ids.add(holiday)

    run = world.run("confirmMatch", imageId=image, performerId=alice)
    assert run.error is None, run.error
    assert set(world.stash.images[image].performer_ids) == {carol, alice}  # bulk ADD: Carol stays
    assert image_tags(world, image) == {"Holiday", SCANNED, MATCHED}
    assert run.output["linked"] is True and run.output["learned"] is False
    assert run.output["performer"] == {"id": alice, "name": "Alice"}
    assert any("linked to image" in m for m in run.messages("info"))

    writes = image_updates(world, image)
    again = world.run("confirmMatch", imageId=image, performerId=alice)
    assert again.error is None and again.output["linked"] is False
    assert any("already in image" in m for m in again.messages("info"))
    assert image_updates(world, image) == writes  # nothing written the second time

    # The refusal is gone: when the link is lost, the next recognition run links Alice again.
    _remove_by_hand(world, "image", image, alice)
    assert world.run("identifyImagesAll").error is None
    assert alice in world.stash.images[image].performer_ids


def test_confirm_for_a_scene_lifts_the_scenes_refusal(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    sheet, vtt = sprite([1, None, 1, 1, None, 1])
    scene = world.stash.add_scene("Clip", sprite=sheet, vtt=vtt)
    assert world.run("recognizeAllSceneSprites").error is None
    assert world.run("rejectMatch", sceneId=scene, performerId=alice).error is None
    assert world.run("recognizeAllSceneSprites").error is None
    assert alice not in world.stash.scenes[scene].performer_ids

    run = world.run("confirmMatch", sceneId=scene, performerId=alice)
    assert run.error is None, run.error
    assert alice in world.stash.scenes[scene].performer_ids and run.output["item"] == f"scene {scene}"
    _remove_by_hand(world, "scene", scene, alice)
    assert world.run("recognizeAllSceneSprites").error is None
    assert alice in world.stash.scenes[scene].performer_ids


def test_confirming_a_face_teaches_it_to_a_performer_without_a_subject(world: TaskWorld) -> None:
    dana = world.stash.add_performer("Dana")  # no Person alias, no subject: recognition cannot know her
    image = world.stash.add_image(photo(5, size=180, seed=1))
    other = world.stash.add_image(photo(5, size=170, seed=7))
    assert world.run("identifyImage", imageId=other, associateExisting="false").output["faces"][0]["performer"] is None

    run = world.run("confirmMatch", imageId=image, performerId=dana, faceIndex="0")
    assert run.error is None, run.error
    assert run.output["linked"] is True and run.output["learned"] is True
    assert set(world.stash.images[image].performer_ids) == {dana}
    (alias,) = person_aliases(world, dana)
    assert world.compreface.example_count(alias) == 1

    again = world.run("confirmMatch", imageId=image, performerId=dana, faceIndex="0")
    assert again.error is None and again.output["learned"] is False
    assert person_aliases(world, dana) == [alias]  # exactly one alias, however often it is confirmed
    assert world.compreface.example_count(alias) == 1  # and the face learned once

    found = world.run("identifyImage", imageId=other, associateExisting="false")
    assert found.error is None
    assert found.output["faces"][0]["performer"] == {"id": dana, "name": "Dana"}


def test_another_performer_for_a_wrongly_matched_face_sticks_and_undo_reverts_it(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    # Alice's subject wrongly holds a face of person 2 (a bad example learned long ago): 2 is matched as Alice.
    world.compreface.add_subject_example(subject_of(world, alice), photo(2, size=200, seed=902))
    bob = world.stash.add_performer("Bob")
    image = world.stash.add_image(photo(2, size=180, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    assert set(world.stash.images[image].performer_ids) == {alice}

    # "Pick another performer" on the image page: not Alice, this is Bob.
    assert world.run("rejectMatch", imageId=image, performerId=alice).error is None
    confirm = world.run("confirmMatch", imageId=image, performerId=bob, faceIndex="0")
    assert confirm.error is None, confirm.error
    assert set(world.stash.images[image].performer_ids) == {bob}
    (bob_subject,) = person_aliases(world, bob)
    assert world.compreface.example_count(bob_subject) == 1

    for _ in range(2):
        assert world.run("identifyImagesAll").error is None
        assert set(world.stash.images[image].performer_ids) == {bob}  # Alice never back, Bob stays

    undo = world.run("undoRun", runId=str(confirm.output["runId"]))
    assert undo.error is None, undo.error
    assert bob not in world.stash.images[image].performer_ids
    assert bob_subject not in world.compreface.subject_names()  # the learned example (and its subject) gone
    assert person_aliases(world, bob) == []
    assert bob in world.stash.performers  # the user's performer itself is not the run's to delete


def test_confirm_match_errors_name_the_argument_and_write_nothing(world: TaskWorld) -> None:
    dana = world.stash.add_performer("Dana")
    image = world.stash.add_image(photo(5, size=180))
    scene = world.stash.add_scene("Clip")
    cases = [
        ({"performerId": dana}, ["imageId", "sceneId"]),  # neither item
        ({"imageId": image, "sceneId": scene, "performerId": dana}, ["imageId", "sceneId"]),  # both
        # a scene's faces are those of the last look at it (identifyScene): none yet
        ({"sceneId": scene, "performerId": dana, "faceIndex": "0"}, ["faceIndex", "look at the scene again"]),
        ({"imageId": image}, ["performerId"]),
        ({"imageId": image, "performerId": "999"}, ["performerId 999"]),
        ({"imageId": image, "performerId": dana, "faceIndex": "5"}, ["faceIndex 5", "1 face"]),
    ]
    for args, expected in cases:
        error = world.run("confirmMatch", **args).error or ""
        assert all(e in error for e in expected), (args, error)
    # A failed confirmation leaves no trace: no link, no alias, no subject.
    assert world.stash.mutation_count() == 0
    assert world.stash.performers[dana].aliases == []
    assert world.compreface.subject_names() == []


def test_a_face_from_the_scene_page_is_taught_once_and_forgotten_with_a_rejection(world: TaskWorld,
                                                                                    videos: Videos) -> None:
    enrol(world, "Alice", 1)
    dana = world.stash.add_performer("Dana")
    clip = videos.scene("A", [[1], [1], [1]])
    looked = world.run("identifyScene", sceneId=clip, associateExisting="false").output
    (alice_face,) = looked["people"]
    args = {"sceneId": clip, "performerId": dana, "faceIndex": str(alice_face["index"])}

    first = world.run("confirmMatch", **args)
    assert first.error is None and first.output["learned"] is True
    subject = subject_of(world, dana)
    assert world.compreface.example_count(subject) == 1  # the face the page showed, now one of Dana's
    assert world.run("confirmMatch", **args).output["learned"] is False  # once per scene
    assert world.compreface.example_count(subject) == 1
    assert world.stash.scenes[clip].performer_ids == {dana}

    rejected = world.run("rejectMatch", sceneId=clip, performerId=dana)
    assert rejected.error is None and rejected.output["examplesDeleted"] == 1
    assert world.compreface.example_count(subject) == 0
