"""undoRun undoes exactly one run, once, and never what the user decided since: the plugin run as Stash runs
it (a subprocess per run, stdin JSON), the runs sharing only the state folder."""

from __future__ import annotations

import pytest

from tests.e2e.world import World
from tests.library import (
    MATCHED,
    SCANNED,
    created_performers,
    delete_performer,
    enrol,
    image_tags,
    photo,
    snapshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

COUNTS = ("unlinked", "untagged", "examplesDeleted", "subjectsDeleted", "performersDeleted", "aliasesRemoved")


def ok(world: World, mode: str, **args: str) -> dict:
    run = world.run(mode, **args)
    assert run.error is None, (run.error, run.messages("error"))
    return run.output


def test_undoing_a_run_twice_with_a_run_in_between_changes_nothing_the_second_time(world: World) -> None:
    world.configure(minFacesForNewPerformer=2)
    alice = enrol(world, "Alice", 1)
    known = [world.stash.add_image(photo(1, size=170 + 8 * i, seed=i)) for i in range(2)]
    strangers = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=10 + i)) for i in range(3)]
    first = str(ok(world, "recognizeImagesHQ")["runId"])
    ok(world, "undoRun", runId=first)

    ok(world, "recognizeImagesHQ")  # run 2 links and tags the same images again
    (created,) = created_performers(world)
    assert all(world.stash.images[i].performer_ids == {alice} for i in known)
    assert all(world.stash.images[i].performer_ids == {created} for i in strangers)
    after_run_2 = snapshot(world)

    again = world.run("undoRun", runId=first)
    assert again.error is None, again.error
    assert snapshot(world) == after_run_2  # run 2's links, tags, performer and faces all stay
    assert all(again.output[name] == 0 for name in COUNTS), again.output
    assert any(f"run {first}" in m and "already undone" in m for m in again.messages("info")), again.messages()


def test_a_renamed_created_performer_survives_an_undo_and_the_next_run_links_her(world: World) -> None:
    world.configure(minFacesForNewPerformer=2)
    images = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(3)]
    run_id = str(ok(world, "recognizeImagesHQ")["runId"])
    (created,) = created_performers(world)
    subject = world.stash.performers[created].name
    faces = world.compreface.example_count(subject)
    with world.stash.lock:
        world.stash.performers[created].name = "Jane"  # the user names her

    undo = world.run("undoRun", runId=run_id)
    assert undo.error is None, undo.error
    assert any("kept" in m and "Jane" in m for m in undo.messages("info")), undo.messages()
    assert list(world.stash.performers) == [created]
    assert all(world.stash.images[i].performer_ids == {created} for i in images)  # kept means kept
    assert all(image_tags(world, i) == {SCANNED, MATCHED} for i in images)
    assert world.compreface.example_count(subject) == faces  # her subject and faces stay

    later = world.stash.add_image(photo(42, size=180, seed=30))
    ok(world, "recognizeImagesHQ")
    assert list(world.stash.performers) == [created]  # no duplicate of her
    assert world.stash.images[later].performer_ids == {created}
    assert world.stash.performers[created].name == "Jane"
    assert world.stash.performers[created].aliases == [subject]
    assert world.compreface.example_count(subject) >= faces


def test_a_performer_the_user_deleted_stays_deleted_after_an_undo_and_a_run(world: World) -> None:
    world.configure(minFacesForNewPerformer=2)
    images = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(3)]
    run_id = str(ok(world, "recognizeImagesHQ")["runId"])
    (created,) = created_performers(world)
    delete_performer(world, created)

    undo = world.run("undoRun", runId=run_id)
    assert undo.error is None, undo.error
    assert any("deleted in Stash" in m for m in undo.messages("info")), undo.messages()

    later = [world.stash.add_image(photo(42, size=170 + 8 * i, seed=20 + i)) for i in range(3)]
    ok(world, "recognizeImagesHQ")
    ok(world, "recognizeImagesHQ")
    assert world.stash.performers == {}  # no performer made of that face again
    assert all(world.stash.images[i].performer_ids == set() for i in images + later)
