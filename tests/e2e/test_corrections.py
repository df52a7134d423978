"""The user's corrections hold across runs, with the plugin run as Stash runs it (subprocess, stdin JSON).

rejectMatch, a deleted performer and undoRun are tested in-process in tests/tasks/test_undo_and_reject.py
and tests/tasks/test_review.py; here the same promises are kept by separate processes that share only
the state folder, as the runs of a user's Stash do.
"""

from __future__ import annotations

import pytest

from tests.e2e.world import World
from tests.library import (
    MATCHED,
    SCANNED,
    UNIDENTIFIED,
    created_performers,
    delete_performer,
    enrol,
    image_tags,
    photo,
    snapshot,
    sprite,
    subject_of,
    user_adds,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv


def ok(world: World, mode: str, **args: str) -> dict:
    run = world.run(mode, **args)
    assert run.error is None, (run.error, run.messages("error"))
    return run.output


def test_a_rejected_match_is_not_linked_again_by_the_next_runs(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    bob = enrol(world, "Bob", 2)
    carol = world.stash.add_performer("Carol")  # the user's own, on the wrong image and the wrong scene
    subject = subject_of(world, alice)
    wrong = world.stash.add_image(photo(1, 2, size=180, seed=1), performers=[carol])
    right = world.stash.add_image(photo(1, size=170, seed=2))
    sheet, vtt = sprite([1, None, 1, 1, None, 1])
    wrong_scene = world.stash.add_scene("Wrong", sprite=sheet, vtt=vtt, performers=[carol])
    ok(world, "recognizeImagesHQ")
    ok(world, "recognizeNewSceneSprites")
    assert world.stash.images[wrong].performer_ids == {alice, bob, carol}
    assert world.stash.scenes[wrong_scene].performer_ids == {alice, carol}
    learned = world.compreface.example_count(subject)
    assert learned == 3  # the enrolment photo and one from each image

    ok(world, "rejectMatch", imageId=wrong, performerId=alice)
    assert world.stash.images[wrong].performer_ids == {bob, carol}  # bulk REMOVE: the others stay
    assert world.compreface.example_count(subject) == learned - 1  # the example taught by that image is gone
    ok(world, "rejectMatch", sceneId=wrong_scene, performerId=alice)
    assert world.stash.scenes[wrong_scene].performer_ids == {carol}

    # New photos and a new scene of Alice: the full reruns link her there, never to the rejected items.
    later = world.stash.add_image(photo(1, size=160, seed=3))
    sheet, vtt = sprite([1, 1, None, 1])
    later_scene = world.stash.add_scene("Later", sprite=sheet, vtt=vtt)
    ok(world, "identifyImagesAll")
    ok(world, "recognizeAllSceneSprites")
    assert world.stash.images[wrong].performer_ids == {bob, carol}
    assert world.stash.scenes[wrong_scene].performer_ids == {carol}
    assert alice in world.stash.images[right].performer_ids
    assert alice in world.stash.images[later].performer_ids
    assert alice in world.stash.scenes[later_scene].performer_ids
    assert image_tags(world, wrong) == {SCANNED, MATCHED}  # Bob is still matched there


def test_a_performer_the_user_deleted_is_not_created_again(world: World) -> None:
    world.configure(minFacesForNewPerformer=2)
    first = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(2)]
    ok(world, "recognizeImagesHQ")
    (performer,) = created_performers(world)
    subject = world.stash.performers[performer].name
    assert all(world.stash.images[i].performer_ids == {performer} for i in first)
    delete_performer(world, performer)

    later = [world.stash.add_image(photo(42, size=160 + 8 * i, seed=20 + i)) for i in range(3)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert not [p for p in world.stash.performers.values() if subject in (p.name, *p.aliases)]
    assert world.stash.performers == {}
    assert any(subject in m and "was deleted in Stash" in m for m in run.messages("info")), run.messages()
    assert all(image_tags(world, i) == {SCANNED, UNIDENTIFIED} for i in later)  # seen, left for review


def test_undo_run_restores_the_library_and_keeps_the_users_edits(world: World) -> None:
    world.configure(minFacesForNewPerformer=2)
    alice = enrol(world, "Alice", 1)
    carol = world.stash.add_performer("Carol", tags=["Favourite"])
    known = world.stash.add_image(photo(1, size=180, seed=1), tags=["Beach"], performers=[carol])
    strangers = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(3)]
    others = [world.stash.add_image(photo(43, size=140 + 8 * i, seed=10 + i)) for i in range(2)]
    world.stash.add_scene("Clip", performers=[carol], tags=["Beach"])
    before = snapshot(world)

    output = ok(world, "recognizeImagesHQ")
    run_id = str(output["runId"])
    assert len(created_performers(world)) == 2
    (kept,) = [p for p in created_performers(world) if world.stash.images[others[0]].performer_ids == {p}]
    assert alice in world.stash.images[known].performer_ids
    during = snapshot(world)
    assert during["subjects"] != before["subjects"]

    # The user's edits between the run and the undo: a tag and a performer on images by hand, and a name
    # for one of the performers the run created.
    bob = world.stash.add_performer("Bob")
    holiday = world.stash.add_tag("Holiday")
    user_adds(world, "image", known, tags=(holiday,))
    user_adds(world, "image", strangers[0], performers=(bob,))
    user_adds(world, "performer", kept, aliases=("Dana",))
    kept_name = world.stash.performers[kept].name

    ok(world, "undoRun", runId=run_id)
    expected = {
        **before,
        "images": {**before["images"],
                   known: ({"Beach", "Holiday"}, {carol}),
                   strangers[0]: (set(), {bob}),
                   # the kept performer keeps the links the run made, with their tags
                   **{i: during["images"][i] for i in others}},
        "performers": {**before["performers"], bob: ("Bob", (), set()), kept: (kept_name, ("Dana",), set())},
        # ... and its subject and faces, or the next run would grow a second one of them
        "subjects": {**before["subjects"], kept_name: during["subjects"][kept_name]},
    }
    after = snapshot(world)
    # Links, tags, the unedited created performer, its subject and every other learned example are gone;
    # what the user did by hand stays.
    assert after == expected

    ok(world, "undoRun", runId=run_id)  # again: nothing left to undo
    assert snapshot(world) == after
