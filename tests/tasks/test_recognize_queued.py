"""recognizeQueued in-process: the items the scan hooks queued, recognised by the one task they started.

The hooks are the bootstrap's own (plugin/compreface.py ``handle_hook``), called with the stdin JSON Stash
sends a hook, so the queue is written where and as the task reads it. Hooks as separate processes, many
at once, are tested in tests/e2e/test_hooks.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from stash_compreface import hookqueue
from testdoubles.stash_runner import build_stdin
from tests.bootstrap_script import load_bootstrap
from tests.library import MATCHED, SCANNED, enrol, image_tags, image_updates, photo
from tests.tasks.conftest import COOKIE, TaskWorld

boot = load_bootstrap()


def stdin(world: TaskWorld, args: dict) -> str:
    """What Stash writes to the plugin: Dir holds its config.yml, PluginDir is a plugin folder of the test's."""
    root = world.state_dir.parent
    return build_stdin(host="0.0.0.0", port=world.stash.port, cookie=COOKIE, config_dir=root / "stash",
                       plugin_dir=root / "plugin", args=args)


def save_settings(world: TaskWorld, **settings: object) -> None:
    """configurePlugin from Stash's UI: the settings are stored and Stash rewrites its config.yml."""
    world.configure(**settings)
    config = world.state_dir.parent / "stash" / "config.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"plugins:\n  settings:\n    compreface: {json.dumps(settings)}\n", encoding="utf-8")


def hook(world: TaskWorld, kind: str, item_id: str) -> dict:
    """What the bootstrap does for Stash's ``<Kind>.Create.Post`` hook of one new item."""
    payload = json.loads(stdin(world, {"mode": "hook", "hookContext": {
        "type": f"{kind.capitalize()}.Create.Post", "id": int(item_id), "input": None}}))
    return boot.handle_hook(payload, boot.hook_item(payload))


def queue_files(world: TaskWorld) -> list[str]:
    folder: Path = world.state_dir / hookqueue.QUEUE_DIR_NAME
    return sorted(p.name for p in folder.iterdir() if p.name != hookqueue.QUEUE_LOCK_FILE)


def test_queued_items_are_recognised_once_and_the_queue_is_emptied(world: TaskWorld) -> None:
    save_settings(world, autoRecognize=True, stateDir=str(world.state_dir))
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


def settings_requests(world: TaskWorld) -> int:
    return world.stash.operation_count("HookSettings")


def test_hooks_ask_stash_for_the_settings_once_until_they_are_saved_again(world: TaskWorld) -> None:
    save_settings(world)  # autoRecognize off, as by default
    images = [world.stash.add_image(photo(1, seed=i)) for i in range(20)]
    outputs = [hook(world, "image", image) for image in images]
    assert all(o["queued"] is None and o["note"] == "autoRecognize is off" for o in outputs)
    assert settings_requests(world) == 1
    assert [o["settings"] for o in outputs] == ["stash"] + ["cache"] * 19

    # Turning autoRecognize on in Stash's UI takes effect at the next hook.
    save_settings(world, autoRecognize=True, stateDir=str(world.state_dir))
    outputs = [hook(world, "image", image) for image in images[:5]]
    assert [o["queued"] for o in outputs] == [f"image:{i}" for i in images[:5]]
    assert settings_requests(world) == 2
    assert [t["task_name"] for t in world.stash.plugin_tasks] == ["Recognize Queued Items"]


def test_a_task_run_as_the_plugin_writes_the_cache_the_hooks_use(world: TaskWorld, monkeypatch, capsys) -> None:
    import io
    import sys

    from stash_compreface.runtime import plugin

    save_settings(world, autoRecognize=True, stateDir=str(world.state_dir))
    plugin_dir = world.state_dir.parent / "plugin"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin(world, {"mode": "recognizeQueued"}).encode())))
    assert plugin.main() == 0
    result = json.loads(capsys.readouterr().out)
    assert result["error"] is None and result["output"]["queuedImages"] == 0
    assert (plugin_dir / "data" / hookqueue.HOOK_CACHE_FILE).is_file()

    before = settings_requests(world)
    image = world.stash.add_image(photo(1, seed=3))
    output = hook(world, "image", image)
    assert (output["queued"], output["settings"]) == (f"image:{image}", "cache")
    assert settings_requests(world) == before  # the task's read of the settings served the hook


def test_a_read_only_plugin_folder_queues_where_the_task_looks(world: TaskWorld, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    save_settings(world, autoRecognize=True)  # no stateDir: the state lives in the plugin folder's data/...
    alice = enrol(world, "Alice", 1)
    plugin_data = world.state_dir.parent / "plugin" / "data"
    plugin_data.parent.mkdir()
    plugin_data.write_text("stands in for a read-only mount", encoding="utf-8")  # ...which cannot be written
    queued = [world.stash.add_image(photo(1, size=160 + 8 * i, seed=i)) for i in range(2)]
    assert [hook(world, "image", i)["queued"] for i in queued] == [f"image:{i}" for i in queued]

    world.state_dir = plugin_data  # the task's default state folder, as the plugin runtime passes it
    run = world.run("recognizeQueued")
    assert run.error is None, run.messages("error")
    assert any("is not writable" in m for m in run.messages("warning"))
    assert all(world.stash.images[i].performer_ids == {alice} for i in queued)
