"""The pages' face actions in-process (tasks/face_actions.py): each click one run, and "Not this person" on
one face of a group photo acts on that face only."""

from __future__ import annotations

from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld


def faces(run_output: dict) -> dict[int, dict]:
    return {f["index"]: f for f in run_output["faces"]}


def test_not_this_person_on_one_face_keeps_the_performer_another_face_is_theirs(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    group = world.stash.add_image(photo(1, 1, size=200, width=800, height=600, seed=3))  # Alice, and a lookalike
    look = world.run("identifyImage", imageId=group, associateExisting="false").output
    assert [f["performer"] for f in look["faces"]] == [{"id": alice, "name": "Alice"}] * 2

    confirmed = world.run("assignFace", imageId=group, faceIndex="0", performerId=alice)
    assert confirmed.error is None, confirmed.error
    assert world.stash.images[group].performer_ids == {alice}

    run = world.run("notThisFace", imageId=group, faceIndex="1")
    assert run.error is None, run.error
    assert world.stash.images[group].performer_ids == {alice}  # face 1 is hers: she stays
    after = faces(run.output)
    assert after[0]["performer"] == {"id": alice, "name": "Alice"} and after[0]["linked"] is True
    assert after[1]["performer"] is None and after[1]["rejected"] == "Alice"
    assert "stays linked" in run.output["message"]
    # The next look keeps the user's word on face 2, and recognition does not unlink her.
    again = faces(world.run("identifyImage", imageId=group, associateExisting="false").output)
    assert again[0]["performer"] == {"id": alice, "name": "Alice"} and again[0]["linked"] is True
    assert again[1]["performer"] is None and again[1]["rejected"] == "Alice"
    assert world.run("identifyImagesAll").error is None
    assert world.stash.images[group].performer_ids == {alice}

    # Not her on face 1 either: now no face is hers, and she leaves the image for good.
    last = world.run("notThisFace", imageId=group, faceIndex="0")
    assert last.error is None, last.error
    assert world.stash.images[group].performer_ids == set()
    assert all(f["performer"] is None for f in last.output["faces"])
    assert world.run("identifyImagesAll").error is None
    assert world.stash.images[group].performer_ids == set()


def test_assign_face_to_another_performer_is_one_run_and_idempotent(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    dana = world.stash.add_performer("Dana")
    assert alice != dana
    image = world.stash.add_image(photo(1, size=200, width=800, height=600, seed=5))
    world.run("identifyImage", imageId=image, associateExisting="false")
    runs_before = world.run("reviewData").output["runs"]

    run = world.run("assignFace", imageId=image, faceIndex="0", performerId=dana)
    assert run.error is None, run.error
    assert run.output["message"] == "Dana linked to face 1; not Alice"
    assert faces(run.output)[0]["performer"] == {"id": dana, "name": "Dana"}
    assert world.stash.images[image].performer_ids == {dana}
    runs = world.run("reviewData").output["runs"]
    assert len(runs) == len(runs_before) + 1 and runs[0]["mode"] == "assignFace"  # one click, one run

    performers_before = dict(world.stash.performers)
    again = world.run("assignFace", imageId=image, faceIndex="0", performerId=dana)
    assert again.error is None, again.error
    assert world.stash.images[image].performer_ids == {dana}
    assert world.stash.performers.keys() == performers_before.keys()
    assert sum(a.startswith("Person ") for a in world.stash.performers[dana].aliases) == 1  # no second subject


def test_a_face_action_without_a_look_or_a_face_index_says_what_to_do(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=200, seed=5))
    run = world.run("assignFace", imageId=image, faceIndex="0", performerId=alice)
    assert run.error is not None and "look at it again" in run.error
    run = world.run("notThisFace", imageId=image)
    assert run.error is not None and "needs faceIndex" in run.error
    assert world.stash.images[image].performer_ids == set()
