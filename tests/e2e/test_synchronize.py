"""synchronizePerformers killed by Stash mid-run, then run again: nothing twice.

The behaviour of the mode is tested in-process in tests/tasks/test_synchronize.py.
"""

from __future__ import annotations

import pytest

from tests.e2e.world import World
from tests.library import SYNCED, duplicate_tag_names, person_aliases, portrait, subject_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv


def test_sigkill_mid_run_then_rerun_leaves_no_duplicates(world: World) -> None:
    performers = [world.stash.add_performer(f"Performer {i}", image=portrait(10 + i)) for i in range(8)]
    world.configure(maxConcurrency=2, maxBatchSize=3)
    killed = world.run("synchronizePerformers", kill_at_progress=3)
    assert killed.killed and killed.error == "signal: killed"
    final = world.run("synchronizePerformers")
    assert final.error is None

    names = [subject_of(world, p) for p in performers]
    assert all(len(person_aliases(world, p)) == 1 for p in performers)
    assert sorted(world.compreface.subject_names()) == sorted(names)
    assert all(world.compreface.example_count(n) == 1 for n in names)
    assert all(world.stash.tag_names("performer", p) == {SYNCED} for p in performers)
    assert duplicate_tag_names(world) == []
