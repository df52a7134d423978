"""recognizeQueued in-process: the items the scan hooks queued, recognised by the one task they started.

The hooks are the bootstrap's own (plugin/compreface.py ``handle_hook``), called with the stdin JSON Stash
sends a hook, so the queue is written where and as the task reads it. Hooks as separate processes, many
at once, are tested in tests/e2e/test_hooks.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from testdoubles.stash_runner import build_stdin
from tests.bootstrap_script import SCRIPT, load_bootstrap
from tests.library import MATCHED, SCANNED, enrol, image_tags, image_updates, photo
from tests.tasks.conftest import COOKIE, TaskWorld

boot = load_bootstrap()


def hook(world: TaskWorld, kind: str, item_id: str) -> dict:
    """What the bootstrap does for Stash's ``<Kind>.Create.Post`` hook of one new item."""
    payload = json.loads(build_stdin(host="0.0.0.0", port=world.stash.port, cookie=COOKIE,
                                     config_dir=world.state_dir.parent, plugin_dir=SCRIPT.parent,
                                     args={"mode": "hook", "hookContext": {"type": f"{kind.capitalize()}.Create.Post",
                                                                           "id": int(item_id), "input": None}}))
    return boot.handle_hook(payload, boot.hook_item(payload))


def queue_files(world: TaskWorld) -> list[str]:
    folder: Path = world.state_dir / boot.QUEUE_DIR_NAME
    return sorted(p.name for p in folder.iterdir() if p.name != boot.QUEUE_LOCK_FILE)


def test_queued_items_are_recognised_once_and_the_queue_is_emptied(world: TaskWorld) -> None:
    world.configure(autoRecognize=True, stateDir=str(world.state_dir))
    alice = enrol(world, "Alice", 1)
    queued = [world.stash.add_image(photo(1, size=160 + 8 * i, seed=i)) for i in range(3)]
    not_queued = world.stash.add_image(photo(1, size=170, seed=9))  # added before autoRecognize was on
    gone_image, gone_scene = str(int(not_queued) + 50), "77"  # scanned, then removed from Stash by a clean
    for image in [*queued, queued[0], gone_image]:  # Stash may report an item twice
        assert hook(world, "image", image)["queued"] == f"image:{image}"
    hook(world, "scene", gone_scene)
    assert [t["task_name"] for t in world.stash.plugin_tasks] == ["Recognize Queued Items"]

    run = world.run("recognizeQueued")
    assert run.error is None, run.messages("error")
    assert all(world.stash.images[i].performer_ids == {alice} for i in queued)
    assert all(image_tags(world, i) == {SCANNED, MATCHED} for i in queued)
    assert all(image_updates(world, i) == 1 for i in queued)  # once, though queued twice
    assert world.stash.images[not_queued].performer_ids == set() and image_tags(world, not_queued) == set()
    skipped = run.messages("info")
    assert "Recognize queued images: 3 image(s) to process" in skipped  # the gone one is not counted
    assert any(f"image {gone_image} " in m and "no longer exist" in m for m in skipped), skipped
    assert any(f"scene {gone_scene} " in m and "no longer exist" in m for m in skipped), skipped
    assert queue_files(world) == []  # no queue, no taken file, no pending marker

    writes = world.stash.mutation_count()
    again = world.run("recognizeQueued")
    assert again.error is None
    assert world.stash.mutation_count() == writes
    assert any("the queue is empty" in m for m in again.messages("info"))

    # The next new image starts a new task: the marker went with the queue.
    late = world.stash.add_image(photo(1, size=150, seed=20))
    assert hook(world, "image", late)["taskStarted"] is True
    assert len(world.stash.plugin_tasks) == 2
