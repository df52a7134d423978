"""Two real plugin processes on one library at once: the second waits for the first, nothing is duplicated."""

from __future__ import annotations

import threading

import pytest

from testdoubles.synthetic import SyntheticFace, draw_image
from tests.e2e.world import World
from tests.library import enrol, person_of_performer, person_of_subject, photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

# persons 60, 61, 62 are strangers seen in two images or more; 63 and 64 are seen once
PLAN = [(1,), (2,), (60,), (1, 61), (60,), (62,), (2, 60), (61,), (1,), (63,), (62, 1), (64,), (2,), (61,)]


def _at_once(world: World, mode: str) -> list:
    runs: list = [None, None]

    def start(slot: int) -> None:
        runs[slot] = world.run(mode)

    threads = [threading.Thread(target=start, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runs


def test_two_recognize_runs_at_once_make_what_one_run_makes(world: World) -> None:
    enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    images = [world.stash.add_image(photo(*people, size=150 + 3 * i, seed=i)) for i, people in enumerate(PLAN)]
    world.configure(maxConcurrency=2, maxBatchSize=3)

    runs = _at_once(world, "recognizeImagesHQ")

    assert [run.error for run in runs] == [None, None]
    assert any("waiting" in m for run in runs for m in run.messages("info"))
    created = [p for p, r in world.stash.performers.items() if r.name.startswith("Person ")]
    assert sorted(person_of_performer(world, p) for p in created) == [60, 61, 62]
    subjects = [person_of_subject(world, s) for s in world.compreface.subject_names()]
    assert sorted(subjects) == [1, 2, 60, 61, 62, 63, 64]  # one subject per person, none twice
    assert all(world.stash.tag_names("image", i) >= {"Compreface Scanned"} for i in images)


def test_two_synchronize_runs_at_once_give_each_performer_one_alias_and_subject(world: World) -> None:
    performers = [world.stash.add_performer(f"Performer {i}",
                                            image=draw_image(420, 520, [SyntheticFace(10 + i, 110, 120, 200)],
                                                             seed=i))
                  for i in range(6)]

    runs = _at_once(world, "synchronizePerformers")

    assert [run.error for run in runs] == [None, None]
    for performer in performers:
        aliases = [a for a in world.stash.performers[performer].aliases if a.startswith("Person ")]
        assert len(aliases) == 1, aliases
    assert len(world.compreface.subject_names()) == len(performers)
