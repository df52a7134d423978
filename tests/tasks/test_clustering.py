"""Issue 18: one person, one performer. Degraded copies of a person (``testdoubles.degrade.DegradedLooks``:
they resemble each other more than the person's clean faces, as blurred or dark copies do with real
engines) may join that person, never found a second one; a candidate that turns out at group level to be
a known person's becomes theirs instead of a second performer, and undoRun takes that back."""

from __future__ import annotations

import pytest

from testdoubles.degrade import DegradedLooks, look_of
from tests.library import created_performers, enrol, person_aliases, person_of_subject, photo, subject_of
from tests.tasks.conftest import TaskWorld

pytestmark = pytest.mark.world(engine=DegradedLooks())

SOFT = 0.008  # sharpness ~16: passes the subject gate (12), not the founding gate (20)


def test_a_person_seen_clean_twice_and_blurred_five_times_is_one_performer(world: TaskWorld) -> None:
    clean = [world.stash.add_image(photo(7, size=150 + 10 * i, seed=i)) for i in range(2)]
    blurred = [world.stash.add_image(photo(look_of(7), blur=SOFT, seed=10 + i)) for i in range(5)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.logs
    (performer,) = created_performers(world)
    assert all(set(world.stash.images[i].performer_ids) == {performer} for i in clean)
    assert all(set(world.stash.images[i].performer_ids) <= {performer} for i in blurred)
    assert len(world.compreface.subject_names()) == 1, "no subject founded by a degraded copy"


def test_a_candidate_that_is_a_known_performer_as_a_group_joins_them_and_undo_takes_it_back(
        world: TaskWorld) -> None:
    known = enrol(world, "Known", 7)
    looks = [world.stash.add_image(photo(look_of(7), size=150 + 10 * i, seed=20 + i)) for i in range(3)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.logs
    assert created_performers(world) == [], "no second performer of the same person"
    assert all(set(world.stash.images[i].performer_ids) == {known} for i in looks)
    (joined,) = [a for a in person_aliases(world, known) if a != subject_of(world, known)]
    assert person_of_subject(world, joined) == 7

    undone = world.run("undoRun", runId=str(run.output["runId"]))
    assert undone.error is None, undone.logs
    assert person_aliases(world, known) == [subject_of(world, known)]
    assert not any(world.stash.images[i].performer_ids for i in looks)
    assert world.stash.performers.keys() == {known}
