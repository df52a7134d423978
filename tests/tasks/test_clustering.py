"""Issue 18: one person, one performer. Degraded copies of a person (``testdoubles.degrade.DegradedLooks``:
they resemble each other more than the person's clean faces, as blurred or dark copies do with real
engines) may join that person, never found a second one; a candidate that turns out at group level to be
a known person's becomes theirs instead of a second performer, and undoRun takes that back."""

from __future__ import annotations

import pytest

from stash_compreface.tasks import performers
from testdoubles.degrade import DegradedLooks, look_of
from tests.library import (
    created_performers,
    enrol,
    person_aliases,
    person_of_performer,
    person_of_subject,
    photo,
    subject_of,
)
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


def _two_performers_of_one_person(world: TaskWorld, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Person 7's clean photos and sharp degraded looks made two performers, as before groups were compared
    (the code without the group judgement and the merge); (the clean one, the looks' one)."""
    clean = [world.stash.add_image(photo(7, size=150 + 10 * i, seed=i)) for i in range(2)]
    looks = [world.stash.add_image(photo(look_of(7), size=150 + 10 * i, seed=20 + i)) for i in range(2)]
    with monkeypatch.context() as patched:
        patched.setattr(performers, "group_owner", lambda *args, **kwargs: None)
        patched.setattr(performers.PerformerDirectory, "merge_split", lambda self: 0)
        assert world.run("recognizeImagesHQ").error is None
    first, second = created_performers(world)
    assert person_of_performer(world, first) == person_of_performer(world, second) == 7
    assert {world.stash.images[i].performer_ids == {first} for i in clean} == {True}
    assert {world.stash.images[i].performer_ids == {second} for i in looks} == {True}
    return first, second


def test_two_performers_of_one_person_are_merged_by_a_rerun_and_undo_recreates_the_other(
        world: TaskWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    kept, merged = _two_performers_of_one_person(world, monkeypatch)
    images = list(world.stash.images)
    subject = world.stash.performers[merged].name

    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.logs
    assert list(world.stash.performers) == [kept], "the younger performer is merged into the older"
    assert person_aliases(world, kept) == [subject]
    assert all(world.stash.images[i].performer_ids == {kept} for i in images)
    assert world.run("recognizeImagesHQ").error is None and list(world.stash.performers) == [kept]  # once

    undone = world.run("undoRun", runId=str(run.output["runId"]))
    assert undone.error is None, undone.logs
    assert undone.output["performersRecreated"] == 1
    (again,) = [p for p in world.stash.performers if p != kept]
    assert world.stash.performers[again].name == subject and person_aliases(world, kept) == []
    assert any(f"re-created as performer {again}" in m for m in undone.messages("info"))
    assert {i for i in images if world.stash.images[i].performer_ids == {again}} == set(images[2:])
    assert {i for i in images if world.stash.images[i].performer_ids == {kept}} == set(images[:2])
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.performers.keys() == {kept, again}, "an undone merge is not made again"


def test_a_performer_the_user_edited_is_never_merged(world: TaskWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    kept, edited = _two_performers_of_one_person(world, monkeypatch)
    with world.stash.lock:
        world.stash.performers[edited].aliases.append("Jane")  # the user's edit: it is theirs now
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.performers.keys() == {kept, edited}
