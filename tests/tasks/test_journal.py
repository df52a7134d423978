"""The journal as a user meets it: a look gets no run, and only the last journalRuns runs can be undone."""

from __future__ import annotations

import contextlib
import sqlite3

from stash_compreface.tasks.state import StateStore
from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld


def run_ids(world: TaskWorld) -> list[int]:
    with contextlib.closing(sqlite3.connect(world.state_dir / "state.sqlite3")) as db:
        return [row[0] for row in db.execute("SELECT id FROM runs ORDER BY id")]


def test_a_look_that_writes_nothing_opens_no_run(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=180, seed=1))
    first = world.run("identifyImage", imageId=image)
    assert first.error is None and alice in world.stash.images[image].performer_ids
    assert run_ids(world) == [first.output["runId"]]

    again = world.run("identifyImage", imageId=image)  # the image page's second look: nothing new to write
    assert again.error is None and again.output["runId"] is None
    assert world.run("reviewData").error is None
    assert run_ids(world) == [first.output["runId"]]  # no run was opened for either
    assert [r["runId"] for r in world.run("reviewData").output["runs"]] == [first.output["runId"]]


def test_only_the_last_journal_runs_can_be_undone(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    old = world.stash.add_image(photo(1, size=180, seed=1))
    first = world.run("recognizeImagesHQ")
    assert first.error is None and alice in world.stash.images[old].performer_ids
    # Eight runs in between (their own writes do not matter here), then two more real ones with journalRuns 10.
    store = StateStore(world.state_dir / "state.sqlite3")
    for _ in range(8):
        store.runs.start("identifyImagesAll")
    store.close()
    world.configure(journalRuns=10)
    for seed in (2, 3):
        world.stash.add_image(photo(1, size=170, seed=seed))
        latest = world.run("recognizeImagesHQ")  # the second one trims the first run's journal
        assert latest.error is None

    refused = world.run("undoRun", runId=str(first.output["runId"]))
    assert refused.error is not None and "journalRuns" in refused.error and "trimmed" in refused.error
    assert alice in world.stash.images[old].performer_ids  # nothing was undone
    listed = [r["runId"] for r in world.run("reviewData").output["runs"]]
    assert first.output["runId"] not in listed and len(listed) == 2
    assert world.run("undoRun", runId=str(latest.output["runId"])).error is None  # within the last ten: undone
