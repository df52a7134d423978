"""synchronizePerformers killed by Stash mid-run, then run again: nothing twice.

The behaviour of the mode is tested in-process in tests/tasks/test_synchronize.py.
"""

from __future__ import annotations

import pytest

from tests.e2e.world import World
from tests.library import assert_synchronized_once, portrait

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv


def test_sigkill_mid_run_then_rerun_leaves_no_duplicates(world: World) -> None:
    performers = [world.stash.add_performer(f"Performer {i}", image=portrait(10 + i)) for i in range(8)]
    world.configure(maxConcurrency=2, maxBatchSize=3)
    killed = world.run("synchronizePerformers", kill_at_progress=3)
    assert killed.killed and killed.error == "signal: killed"
    final = world.run("synchronizePerformers")
    assert final.error is None

    assert_synchronized_once(world, performers)
