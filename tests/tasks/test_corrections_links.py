"""A performer's link to its face survives a rename, an undo keeps what later runs rely on, and corrections
refuse arguments that name nothing (an unknown performer, a blank name) before writing anything."""

from __future__ import annotations

import pytest

from tests.library import MATCHED, SCANNED, created_performers, enrol, image_tags, photo, portrait, snapshot
from tests.tasks.conftest import TaskWorld


def _created(world: TaskWorld, count: int = 3) -> tuple[str, str, list[str]]:
    """A performer the plugin created for an unknown face: its id, its subject (its name) and its images."""
    world.configure(minFacesForNewPerformer=2)
    images = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(count)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.messages("error")
    (performer,) = created_performers(world)
    return performer, world.stash.performers[performer].name, images


def _rename(world: TaskWorld, performer: str, name: str) -> None:
    with world.stash.lock:
        world.stash.performers[performer].name = name


def test_a_renamed_created_performer_is_still_recognised_and_gets_its_subject_as_alias_once(
        world: TaskWorld) -> None:
    performer, subject, _ = _created(world)
    _rename(world, performer, "Jane")

    later = world.stash.add_image(photo(42, size=170, seed=50))
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.messages("error")
    assert world.stash.images[later].performer_ids == {performer}  # not Unidentified
    assert image_tags(world, later) == {SCANNED, MATCHED}
    assert list(world.stash.performers) == [performer]  # no second performer of her
    assert world.stash.performers[performer].name == "Jane"
    assert world.stash.performers[performer].aliases == [subject]  # healed in Stash: the subject is her alias

    another = world.stash.add_image(photo(42, size=180, seed=51))
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.images[another].performer_ids == {performer}
    assert world.stash.performers[performer].aliases == [subject]  # added once


def test_removing_the_alias_a_rename_put_back_unlinks_the_face(world: TaskWorld) -> None:
    performer, _, _ = _created(world)
    _rename(world, performer, "Jane")
    world.stash.add_image(photo(42, size=170, seed=50))
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.performers[performer].aliases  # the heal put the subject back as her alias
    with world.stash.lock:
        world.stash.performers[performer].aliases = []  # ... and the user removes it: the face is unlinked

    later = world.stash.add_image(photo(42, size=175, seed=52))
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert world.stash.images[later].performer_ids == set()
    assert world.stash.performers[performer].aliases == []  # not put back a second time
    assert list(world.stash.performers) == [performer]
    assert any("no longer holds it" in m for m in run.messages()), run.messages()


def test_undo_keeps_a_created_performer_a_later_run_linked_and_that_runs_links(world: TaskWorld) -> None:
    performer, _, first = _created(world)
    run_id = world.runs[-1].output["runId"]
    later = [world.stash.add_image(photo(42, size=170 + 8 * i, seed=60 + i)) for i in range(2)]
    assert world.run("recognizeImagesHQ").error is None
    assert all(world.stash.images[i].performer_ids == {performer} for i in later)

    undo = world.run("undoRun", runId=str(run_id))
    assert undo.error is None, undo.error
    assert list(world.stash.performers) == [performer]  # the later run's links rely on her
    assert all(world.stash.images[i].performer_ids == {performer} for i in later + first)
    assert any("kept" in m and performer in m for m in undo.messages("info")), undo.messages()


def test_reject_match_of_a_performer_that_does_not_exist_names_performer_id_and_writes_nothing(
        world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=180, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    assert alice in world.stash.images[image].performer_ids
    before = snapshot(world)

    run = world.run("rejectMatch", imageId=image, performerId="999")
    assert run.error is not None and "performerId 999" in run.error
    assert snapshot(world) == before
    assert world.run("identifyImagesAll").error is None
    assert alice in world.stash.images[image].performer_ids  # no refusal was recorded either


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_name_is_refused_naming_it_and_nothing_is_created(world: TaskWorld, blank: str) -> None:
    image = world.stash.add_image(photo(42, size=180, seed=1))
    before = snapshot(world)
    run = world.run("createPerformerFromImage", imageId=image, faceIndex="0", name=blank)
    assert run.error is not None and "name is blank" in run.error, run.error
    named = world.run("nameCandidate", subject="Person 1 ABCDEFGHIJKLMNOP", name=blank)
    assert named.error is not None and "name is blank" in named.error, named.error
    assert snapshot(world) == before
    assert world.stash.performers == {}


def test_undo_keeps_a_created_performer_the_user_linked_to_another_image_by_hand(world: TaskWorld) -> None:
    performer, _, first = _created(world)
    run_id = world.runs[-1].output["runId"]
    own = world.stash.add_image(photo(7, size=170, seed=70))  # someone else's photo the user tags her in
    world.stash.execute(f'mutation {{ bulkImageUpdate(input: {{ids: ["{own}"], performer_ids: '
                        f'{{ids: ["{performer}"], mode: ADD}}}}) {{ id }} }}')

    undo = world.run("undoRun", runId=str(run_id))
    assert undo.error is None, undo.error
    assert list(world.stash.performers) == [performer]
    assert world.stash.images[own].performer_ids == {performer}  # the user's link stays
    assert all(world.stash.images[i].performer_ids == {performer} for i in first)


def test_undoing_the_run_that_put_a_renamed_performers_alias_back_keeps_her_linked(world: TaskWorld) -> None:
    performer, subject, _ = _created(world)
    _rename(world, performer, "Jane")
    world.stash.add_image(photo(42, size=170, seed=50))
    healed = world.run("recognizeImagesHQ")
    assert healed.error is None and world.stash.performers[performer].aliases == [subject]

    assert world.run("undoRun", runId=str(healed.output["runId"])).error is None
    assert world.stash.performers[performer].aliases == []  # the run's alias is reverted ...
    later = world.stash.add_image(photo(42, size=180, seed=51))
    assert world.run("recognizeImagesHQ").error is None
    assert list(world.stash.performers) == [performer]  # ... but not her link: no second performer
    assert world.stash.images[later].performer_ids == {performer}
    assert world.stash.performers[performer].aliases == [subject]


def test_undoing_a_sync_keeps_the_alias_of_a_face_later_runs_kept_learning(world: TaskWorld) -> None:
    alice = world.stash.add_performer("Alice", image=portrait(1))
    synced = world.run("synchronizePerformers")
    assert synced.error is None, synced.messages("error")
    (subject,) = world.stash.performers[alice].aliases
    images = [world.stash.add_image(photo(1, size=160 + 8 * i, seed=i)) for i in range(2)]
    assert world.run("recognizeImagesHQ").error is None  # links Alice and learns her faces from the images
    assert all(world.stash.images[i].performer_ids == {alice} for i in images)

    assert world.run("undoRun", runId=str(synced.output["runId"])).error is None
    assert world.stash.performers[alice].aliases == [subject]  # the later run relies on it
    later = [world.stash.add_image(photo(1, size=180 + 8 * i, seed=40 + i)) for i in range(3)]
    assert world.run("recognizeImagesHQ").error is None
    assert list(world.stash.performers) == [alice]  # her face did not come back as a stranger
    assert all(world.stash.images[i].performer_ids == {alice} for i in later)
