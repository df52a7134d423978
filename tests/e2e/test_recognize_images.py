"""Image runs that need the real process: a SIGKILL mid-run, and CompreFace outages end to end.

The behaviour of the image modes is tested in-process in tests/tasks/test_recognize_images.py.
"""

from __future__ import annotations

import random

import pytest

from tests.e2e.world import World
from tests.library import (
    MATCHED,
    SCANNED,
    created_performers,
    duplicate_tag_names,
    enrol,
    people_in,
    person_of_performer,
    photo,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv


def tags(world: World, image_id: str) -> set[str]:
    return world.stash.tag_names("image", image_id)


def test_compreface_failures_are_retried_and_never_blamed_on_the_image(world: World) -> None:
    enrol(world, "Alice", 1)
    flaky = world.stash.add_image(photo(1, seed=1))
    world.compreface.fail_next("/api/v1/recognition/recognize", 502, times=2)
    run = world.run("recognizeImagesHQ")
    assert run.error is None and tags(world, flaky) == {SCANNED, MATCHED}

    # CompreFace keeps failing on this image: the image stays untagged (not Error), and the next run,
    # once CompreFace is well again, takes it up.
    down = world.stash.add_image(photo(1, seed=2))
    world.compreface.fail_next("/api/v1/recognition/recognize", 500, html=False,
                               body={"message": "Error during synchronization between servers", "code": 41},
                               times=20)
    run = world.run("recognizeImagesHQ")
    assert tags(world, down) == set()
    assert any(f"image {down} " in m and "next run" in m for m in run.messages("warning"))
    world.compreface.faults.clear()
    run = world.run("recognizeImagesHQ")
    assert run.error is None and tags(world, down) == {SCANNED, MATCHED}


def _library(world: World) -> list[str]:
    enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    plan = [(1,), (2,), (60,), (1, 61), (60,), (62,), (2, 60), (61,), (1,), (63,), (62, 1), (64,), (2,), (61,)]
    return [world.stash.add_image(photo(*people, size=150 + 3 * i, seed=i)) for i, people in enumerate(plan)]


def _outcome(world: World, images: list[str]) -> list[tuple[frozenset[str], frozenset[int | None]]]:
    return [(frozenset(tags(world, i)), frozenset(people_in(world, i))) for i in images]


def test_sigkill_at_random_points_then_rerun_matches_an_uninterrupted_run(world: World, tmp_path) -> None:
    from testdoubles.compreface import CompreFaceDouble
    from testdoubles.stash import StashDouble
    from tests.e2e.world import COOKIE

    images = _library(world)
    world.configure(maxConcurrency=3, maxBatchSize=4)
    assert world.run("recognizeImagesHQ").error is None
    expected = _outcome(world, images)
    assert len(created_performers(world)) == 3  # persons 60, 61, 62 were seen twice or more; 63, 64 once

    rng = random.Random(7)
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash:
        other = World(stash=stash, compreface=compreface, plugin_dir=world.plugin_dir,
                      state_dir=tmp_path / "other-state")
        other.configure(maxConcurrency=3, maxBatchSize=4)
        again = _library(other)
        for _ in range(3):
            killed = other.run("recognizeImagesHQ", kill_at_progress=rng.randint(1, 6))
            assert killed.killed or killed.error is None
        assert other.run("recognizeImagesHQ").error is None
        assert _outcome(other, again) == expected
        assert len(created_performers(other)) == 3
        people = [person_of_performer(other, p) for p in created_performers(other)]
        assert sorted(people) == [60, 61, 62]
        subjects_per_person = [person for person in (60, 61, 62, 63, 64)
                               if sum(1 for s in compreface.subject_names()
                                      if compreface.engine.detect(compreface.subjects[s][0].image)[0].person
                                      == person) != 1]
        assert subjects_per_person == []
        assert duplicate_tag_names(other) == []
