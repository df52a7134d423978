"""rejectMatch and undoRun in-process: what the user sees in Stash and in the face service afterwards."""

from __future__ import annotations

import sqlite3

from tests.library import MATCHED, SCANNED, created_performers, enrol, image_tags, photo, snapshot
from tests.tasks.conftest import TaskWorld


def test_a_rejected_match_is_removed_forgotten_and_not_linked_again(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    subject = next(iter(world.compreface.subject_names()))
    wrong = world.stash.add_image(photo(1, size=180, seed=1))
    right = world.stash.add_image(photo(1, size=170, seed=2))
    assert world.run("recognizeImagesHQ").error is None
    assert alice in world.stash.images[wrong].performer_ids
    learned = world.compreface.example_count(subject)
    assert learned == 3  # the enrolment photo and one from each image

    assert image_tags(world, wrong) == {SCANNED, MATCHED}
    run = world.run("rejectMatch", imageId=wrong, performerId=alice)
    assert run.error is None, run.error
    assert alice not in world.stash.images[wrong].performer_ids
    assert image_tags(world, wrong) == {SCANNED}  # no performer left: no longer Matched
    assert world.compreface.example_count(subject) == learned - 1  # the example taught by that image is gone

    assert world.run("identifyImagesAll").error is None
    assert world.run("recognizeImagesHQ").error is None
    assert alice not in world.stash.images[wrong].performer_ids  # not linked again
    assert alice in world.stash.images[right].performer_ids  # the run did match Alice elsewhere
    assert world.compreface.example_count(subject) == learned - 1  # and did not learn the face again

    again = world.run("rejectMatch", imageId=wrong, performerId=alice)
    assert again.error is None and again.output["examplesDeleted"] == 0


def test_reject_match_names_the_missing_argument(world: TaskWorld) -> None:
    run = world.run("rejectMatch", imageId="3")
    assert run.error is not None and "performerId" in run.error


def test_undo_run_restores_the_library_and_keeps_the_users_edits(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    known = world.stash.add_image(photo(1, size=180, seed=1))
    strangers = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(5)]
    before = snapshot(world)

    run = world.run("recognizeImagesHQ")
    assert run.error is None
    run_id = run.output["runId"]
    assert isinstance(run_id, int)
    (created,) = created_performers(world)
    assert all(created in world.stash.images[i].performer_ids for i in strangers)
    assert image_tags(world, known) == {SCANNED, MATCHED}
    assert len(world.compreface.subject_names()) == 2

    # The user's own edits between the run and the undo.
    holiday = world.stash.add_tag("Holiday")
    bob = world.stash.add_performer("Bob")
    with world.stash.lock:
        world.stash.images[known].tag_ids.add(holiday)
        world.stash.images[strangers[0]].performer_ids.add(bob)

    undo = world.run("undoRun", runId=str(run_id))
    assert undo.error is None, undo.error
    after = snapshot(world)
    assert after["subjects"] == before["subjects"]  # the new subject and the learned example are gone
    assert created not in world.stash.performers
    assert set(after["performers"]) == {alice, bob}
    assert after["images"][known] == ({"Holiday"}, set())
    assert after["images"][strangers[0]] == (set(), {bob})
    assert all(after["images"][i] == (set(), set()) for i in strangers[1:])

    twice = world.run("undoRun", runId=str(run_id))
    assert twice.error is None
    assert snapshot(world) == after


def test_undo_keeps_a_created_performer_the_user_has_edited(world: TaskWorld) -> None:
    images = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(5)]
    run = world.run("recognizeImagesHQ")
    (created,) = created_performers(world)
    world.stash.execute(f'mutation {{ bulkPerformerUpdate(input: {{ids: ["{created}"], alias_list: '
                        '{values: ["Jane"], mode: ADD}}) { id } }')
    assert world.run("undoRun", runId=run.output["runId"]).error is None
    assert created in world.stash.performers  # the user named it: kept
    # ... whole: with its links (and the tags that came with them), its subject and faces
    assert all(world.stash.images[i].performer_ids == {created} for i in images)
    assert all(image_tags(world, i) == {SCANNED, MATCHED} for i in images)
    subject = world.stash.performers[created].name
    assert world.compreface.subjects[subject]
    later = world.stash.add_image(photo(42, size=190, seed=9))
    assert world.run("recognizeImagesHQ").error is None
    assert list(world.stash.performers) == [created]  # no second performer of that face
    assert world.stash.images[later].performer_ids == {created}


def test_a_dry_run_journals_nothing(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    world.stash.add_image(photo(1, size=180, seed=1))
    world.configure(dryRun=True)
    run = world.run("recognizeImagesHQ")
    assert run.error is None and run.output["runId"] is None
    world.configure()
    real = world.run("recognizeImagesHQ")
    files = list(world.state_dir.rglob("state.sqlite3"))
    assert files
    with sqlite3.connect(files[0]) as db:
        assert db.execute("SELECT id FROM runs").fetchall() == [(real.output["runId"],)]


def test_dry_run_corrections_only_say_what_they_would_do(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=180, seed=1))
    run = world.run("recognizeImagesHQ")
    assert run.error is None and alice in world.stash.images[image].performer_ids
    before = snapshot(world)
    world.configure(dryRun=True)
    rejected = world.run("rejectMatch", imageId=image, performerId=alice)
    undone = world.run("undoRun", runId=str(run.output["runId"]))
    assert rejected.error is None and undone.error is None
    assert snapshot(world) == before  # nothing written, in Stash or in CompreFace
    said = rejected.messages("info") + undone.messages("info")
    assert any("dry run: would remove" in m and alice in m for m in said)
    assert any("dry run: would delete example" in m for m in said)
    world.configure()
    assert alice in world.stash.images[image].performer_ids
    assert world.run("identifyImagesAll").error is None  # the dry run remembered no refusal
    assert alice in world.stash.images[image].performer_ids
