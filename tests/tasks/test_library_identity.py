"""The journal records the Stash library each run wrote to: undoRun refuses a run of another library."""

from __future__ import annotations

from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld


def test_undo_refuses_a_run_recorded_for_another_library(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=180, seed=1))
    run = world.run("recognizeImagesHQ")
    assert run.error is None and alice in world.stash.images[image].performer_ids

    world.stash.database_path = "/other/stash/stash-go.sqlite"  # another Stash, the same state folder
    refused = world.run("undoRun", runId=str(run.output["runId"]))
    assert refused.error is not None and "another Stash library" in refused.error
    assert "/root/.stash/stash-go.sqlite" in refused.error
    assert alice in world.stash.images[image].performer_ids  # nothing undone

    world.stash.database_path = "/root/.stash/stash-go.sqlite"  # back on its own library: undone
    assert world.run("undoRun", runId=str(run.output["runId"])).error is None
    assert alice not in world.stash.images[image].performer_ids
