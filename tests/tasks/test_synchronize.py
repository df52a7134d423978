"""synchronizePerformers in-process: every real profile enrolled once, aliases before subjects."""

from __future__ import annotations

import uuid

import pytest

from testdoubles.synthetic import SyntheticFace, noise_image
from tests.library import (
    ERROR,
    SYNCED,
    assert_synchronized_once,
    person_aliases,
    portrait,
    subject_of,
)
from tests.tasks.conftest import TaskWorld


def test_sync_enrols_every_real_profile_once_and_tags_it(world: TaskWorld) -> None:
    s = world.stash
    alice = s.add_performer("Alice", image=portrait(1))
    bob = s.add_performer("Bob", aliases=["Bobby"], image=portrait(2))
    carol = s.add_performer("Carol", aliases=["Person 77 ABCDEFGHIJKLMNOP"], image=portrait(3))
    plugin_made = s.add_performer("Person 9 QWERTYUIOPASDFGH", image=portrait(4))
    group = s.add_performer("Frank", image=portrait(5, extra=SyntheticFace(6, 340, 20, 60)))
    placeholder = s.add_performer("Dave")
    faceless = s.add_performer("Eve", image=noise_image(300, 300, seed=3))

    run = world.run("synchronizePerformers")

    assert run.error is None, run.logs
    enrolled = [alice, bob, carol, plugin_made, group]
    subjects = {subject_of(world, p) for p in enrolled}
    assert set(world.compreface.subject_names()) == subjects
    assert all(world.compreface.example_count(name) == 1 for name in subjects)
    assert person_aliases(world, carol) == ["Person 77 ABCDEFGHIJKLMNOP"]
    assert person_aliases(world, plugin_made) == []  # its name already is its subject
    for performer in (alice, bob, group):
        (alias,) = person_aliases(world, performer)
        assert alias.startswith(f"Person {performer} ")
    assert "Bobby" in s.performers[bob].aliases
    for performer in enrolled:
        assert s.tag_names("performer", performer) == {SYNCED}
    assert s.tag_names("performer", placeholder) == set()
    assert s.tag_names("performer", faceless) == {ERROR}
    assert any(f"performer {faceless} (Eve)" in m and "no face" in m for m in run.messages("error"))
    # The largest face of the group portrait is the one enrolled.
    (example,) = world.compreface.subjects[subject_of(world, group)]
    assert world.compreface.engine.detect(example.image)[0].person == 5

    mutations = s.mutation_count()
    again = world.run("synchronizePerformers")
    assert again.error is None
    assert set(world.compreface.subject_names()) == subjects
    assert all(world.compreface.example_count(name) == 1 for name in subjects)
    assert s.mutation_count() == mutations


def test_wrong_key_stops_at_once_naming_the_setting(world: TaskWorld) -> None:
    world.stash.add_performer("Alice", image=portrait(1))
    world.configure(recognitionApiKey=str(uuid.uuid4()))
    run = world.run("synchronizePerformers")
    assert run.error is not None and "recognitionApiKey" in run.error
    assert world.stash.mutation_count() == 0
    assert world.compreface.subject_names() == []


def test_alias_is_saved_before_the_subject_and_reused(world: TaskWorld) -> None:
    alice = world.stash.add_performer("Alice", image=portrait(1))
    world.compreface.fail_next("/api/v1/recognition/faces", 500, times=50)
    first = world.run("synchronizePerformers")
    assert first.error is None
    (alias,) = person_aliases(world, alice)
    assert world.compreface.subject_names() == []
    assert world.stash.tag_names("performer", alice) == set()  # CompreFace's fault: not blamed on Alice
    assert any("next run" in m for m in first.messages("warning"))

    world.compreface.faults.clear()
    second = world.run("synchronizePerformers")
    assert second.error is None
    assert person_aliases(world, alice) == [alias]
    assert world.compreface.subject_names() == [alias]
    assert world.stash.tag_names("performer", alice) == {SYNCED}


@pytest.mark.parametrize("stop_at", [1, 3, 6])
def test_a_stopped_run_then_a_rerun_leaves_no_duplicates(world: TaskWorld, stop_at: int) -> None:
    performers = [world.stash.add_performer(f"Performer {i}", image=portrait(10 + i)) for i in range(8)]
    world.configure(maxConcurrency=2, maxBatchSize=3)
    stopped = world.run("synchronizePerformers", stop_at_progress=stop_at)
    # A stop that lands after the last page was queued currently ends without an error (reported to the lead).
    assert stopped.error == "stopped on request"
    assert stopped.progress[stop_at - 1] < 1.0
    assert world.run("synchronizePerformers").error is None

    assert_synchronized_once(world, performers)
