"""Hooks as Stash runs them: one process per new item, several at once, then the one queued task."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from testdoubles.stash_runner import PluginRun, run_plugin, task_for_mode
from tests.e2e.world import COOKIE, World
from tests.library import MATCHED, SCANNED, enrol, photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

SCAN_WORKERS = 4  # Stash's default parallel scan tasks


def stash_dir(world: World) -> Path:
    """server_connection.Dir: the folder of Stash's config.yml."""
    return world.state_dir.parent / "stash"


def save_settings(world: World, **settings: Any) -> None:
    """configurePlugin from Stash's UI: the settings are stored and Stash rewrites its config.yml."""
    world.configure(**settings)
    stash_dir(world).mkdir(parents=True, exist_ok=True)
    (stash_dir(world) / "config.yml").write_text(
        f"plugins:\n  settings:\n    compreface: {json.dumps(settings)}\n", encoding="utf-8")


def hook(world: World, image_id: str) -> PluginRun:
    """What Stash sends a hook: the hook's defaultArgs plus hookContext (an int id, input null)."""
    return run_plugin(world.plugin_dir, args={"mode": "hook", "hookContext": {
        "type": "Image.Create.Post", "id": int(image_id), "input": None}},
        port=world.stash.port, cookie=COOKIE, config_dir=stash_dir(world), timeout=120)


def test_a_scan_of_100_images_starts_one_queued_task_that_recognises_them(world: World) -> None:
    save_settings(world, autoRecognize=True)
    enrol(world, "Alice", 1)
    picture = photo(1)  # the same photo 100 times: what is measured is the hooks, not the drawing
    images = [world.stash.add_image(picture) for _ in range(100)]
    with ThreadPoolExecutor(SCAN_WORKERS) as pool:
        runs = list(pool.map(lambda image_id: hook(world, image_id), images))

    assert all(run.error is None for run in runs)
    # The settings came from Stash once per scan worker at most: then from the hooks' cache.
    assert world.stash.operation_count("HookSettings") <= SCAN_WORKERS
    assert world.stash.plugin_tasks == [{"plugin_id": "compreface", "task_name": "Recognize Queued Items",
                                         "args_map": None}]
    queued = (world.state_dir / "hook-queue" / "queue.txt").read_text(encoding="utf-8").split()
    assert sorted(queued) == sorted(f"image:{i}" for i in images)
    # No hook recognised anything: nothing was tagged during the "scan".
    assert all(world.stash.tag_names("image", i) == set() for i in images)

    task = world.run("recognizeQueued")
    assert task.error is None
    assert all(world.stash.tag_names("image", i) == {SCANNED, MATCHED} for i in images)

    # The queue is empty and the marker gone: the next new image starts a new task.
    late = world.stash.add_image(photo(1, seed=999))
    assert hook(world, late).error is None
    assert len(world.stash.plugin_tasks) == 2


def test_hooks_queue_nothing_while_auto_recognize_is_off(world: World) -> None:
    save_settings(world, autoRecognize=False)
    # A task has just read the settings: it left them for the hooks, which then ask Stash nothing.
    task = run_plugin(world.plugin_dir, task=task_for_mode(world.plugin_dir, "recognizeQueued"), port=world.stash.port,
                      cookie=COOKIE, config_dir=stash_dir(world), timeout=300)
    assert task.error is None
    before = world.stash.operation_count()
    images = [world.stash.add_image(photo(1, seed=1)) for _ in range(10)]
    runs = [hook(world, image) for image in images]
    assert all(run.error is None and run.output["queued"] is None for run in runs)
    assert [run.output["settings"] for run in runs] == ["cache"] * 10
    assert world.stash.operation_count() == before  # not one GraphQL request
    assert world.stash.plugin_tasks == []
    assert not (world.state_dir / "hook-queue" / "queue.txt").exists()

    # Turned on in Stash's UI (config.yml rewritten): the next hook asks again and queues.
    save_settings(world, autoRecognize=True)
    run = hook(world, images[0])
    assert run.output["settings"] == "stash" and run.output["queued"] == f"image:{images[0]}"
