"""Issue 18: one person, one performer. Degraded copies of a person (``testdoubles.degrade.DegradedLooks``:
they resemble each other more than the person's clean faces, as blurred or dark copies do with real
engines) may join that person, never found a second one; a candidate that turns out at group level to be
a known person's becomes theirs instead of a second performer, and undoRun takes that back."""

from __future__ import annotations

import pytest

from testdoubles.degrade import DegradedLooks, look_of
from tests.library import created_performers, photo
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
