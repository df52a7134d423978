"""stash_compreface.hookqueue: the scan hooks' queue, settings cache and state folder, one module for the
bootstrap (before any venv, standard library only) and the plugin's tasks.

The bootstrap's use of it (the hook as Stash starts it, with a stand-in Stash) is tested in
tests/unit/test_bootstrap.py; hooks as separate processes in tests/e2e/test_hooks.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stash_compreface import hookqueue as hq
from stash_compreface.hookqueue import HookQueue

NOW = 1_750_000_000.0
SRC = Path(hq.__file__).resolve().parents[1]


def test_importing_it_imports_nothing_else_of_the_package_nor_anything_heavy() -> None:
    """The hook path: a bare interpreter (no site-packages, as Stash's Python may be) imports it alone."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules); "
            "import stash_compreface.hookqueue; print(' '.join(sorted(set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-S", "-E", "-c", code, str(SRC)], capture_output=True, text=True,
                          check=True)
    loaded = set(done.stdout.split())
    assert {m for m in loaded if m.startswith("stash_compreface")} == {
        "stash_compreface", "stash_compreface.hookqueue", "stash_compreface.oslock"}
    assert not loaded & {"typing", "pathlib", "httpx", "sqlite3", "urllib.request", "ssl", "PIL", "numpy"}, loaded


def test_it_is_written_for_older_pythons_too() -> None:
    """Hooks are answered before the bootstrap checks the Python version (3.11 for the venv), with whatever
    Python Stash runs: the hook path's modules keep to Python 3.8's grammar (annotations are never evaluated)."""
    import ast

    for path in (SRC / "stash_compreface" / "__init__.py", Path(hq.__file__), SRC / "stash_compreface" / "oslock.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


def test_many_hooks_queue_every_item_and_claim_the_pending_marker_once(tmp_path: Path) -> None:
    queue = HookQueue(tmp_path / "hook-queue")
    claims = [queue.enqueue(hq.queue_entry("image", n), now=NOW + n) for n in range(1, 51)]
    assert claims.count(True) == 1 and claims[0] is True
    lines = (tmp_path / "hook-queue" / "queue.txt").read_text(encoding="utf-8").splitlines()
    assert lines == [f"image:{n}" for n in range(1, 51)]


def test_a_stale_or_released_marker_lets_the_next_hook_start_a_task(tmp_path: Path) -> None:
    queue = HookQueue(tmp_path / "q")
    assert queue.enqueue("image:1", now=NOW)
    assert not queue.enqueue("image:2", now=NOW + 60)
    assert queue.enqueue("image:3", now=NOW + hq.PENDING_STALE_S + 1)
    queue.release_pending()
    assert queue.enqueue("scene:4", now=NOW + hq.PENDING_STALE_S + 2)


@pytest.mark.skipif(hq.process_start(1) is None, reason="no /proc: process start times cannot be read here")
def test_the_marker_of_a_task_a_restarted_stash_lost_is_taken_over_at_once(tmp_path: Path) -> None:
    """The hook's parent is Stash; once that Stash process is gone, its queued task is gone too: the next
    hook starts a new one at once, not six hours later."""
    queue = HookQueue(tmp_path / "q")
    assert queue.enqueue("image:1", now=NOW)
    assert not queue.enqueue("image:2", now=NOW + 60)  # this Stash (our parent) is alive: its task is pending
    old_stash = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = hq.process_start(old_stash.pid)
    old_stash.kill()
    old_stash.wait()
    marker = tmp_path / "q" / hq.PENDING_FILE
    marker.write_text(json.dumps({"time": NOW, "pid": 1, "stash": [old_stash.pid, started]}), encoding="utf-8")
    assert queue.enqueue("image:3", now=NOW + 60)
    assert json.loads(marker.read_text(encoding="utf-8"))["stash"] == [os.getppid(), hq.process_start(os.getppid())]


def test_a_queue_file_that_is_a_folder_is_named_not_taken(tmp_path: Path) -> None:
    queue = HookQueue(tmp_path / "q")
    (tmp_path / "q" / hq.QUEUE_FILE).mkdir(parents=True)  # a folder where the queue file should be
    for read in (queue.take, queue.peek):
        with pytest.raises(OSError, match=r"the hook queue .*queue.txt is not a file: remove it"):
            read()
    assert (tmp_path / "q" / hq.QUEUE_FILE).is_dir()  # not renamed into a "taken" folder


def test_the_task_takes_the_queue_and_the_marker_together(tmp_path: Path) -> None:
    queue = HookQueue.of_state_folder(tmp_path)
    for entry in ("image:3", "scene:9", "image:3", "image:4", "junk"):
        queue.enqueue(entry, now=NOW)
    taken = queue.take()
    assert queue.read(taken) == ([3, 4], [9])
    # Queued after the take: a new task is started, and the next take sees only the new item plus the
    # files of a run that never finished (here the first take's file, until it is forgotten).
    assert queue.enqueue("image:5", now=NOW)
    assert queue.read(queue.take()) == ([3, 4, 5], [9])
    queue.forget(taken)
    again = queue.take()
    assert queue.read(again) == ([5], [])
    queue.forget(again)
    assert sorted(p.name for p in (tmp_path / "hook-queue").iterdir()) == ["queue.lock"]


def test_peek_reads_what_a_take_would_get_and_changes_nothing(tmp_path: Path) -> None:
    queue = HookQueue.of_state_folder(tmp_path / "state")
    assert queue.peek() == ([], [])
    assert not (tmp_path / "state").exists()  # a look creates nothing, not even the folder or the lock

    queue.enqueue("image:1", now=NOW)
    leftover = queue.take()  # a run that was killed before it forgot its taken file
    queue.enqueue("scene:2", now=NOW)
    queue.enqueue("image:3", now=NOW)
    files = {p.name: p.read_bytes() for p in (tmp_path / "state" / "hook-queue").iterdir()}
    assert queue.peek() == ([1, 3], [2])
    assert {p.name: p.read_bytes() for p in (tmp_path / "state" / "hook-queue").iterdir()} == files
    assert not queue.enqueue("image:4", now=NOW)  # the marker is still there: no second task
    assert queue.read(queue.take()) == ([1, 3, 4], [2])
    assert leftover


def test_an_item_has_one_encoding_the_queue_lines_and_item_refs_share() -> None:
    """``image:12`` in the queue is ``str(ItemRef(IMAGE, "12"))`` in the state and the journal: one pair of
    functions writes and reads it (hookqueue's, as the bootstrap needs them without the package)."""
    from stash_compreface.stash.models import ItemKind, ItemRef

    for kind in ItemKind:
        ref = ItemRef(kind, "12")
        assert str(ref) == hq.queue_entry(kind.value, 12) == f"{kind.value}:12"
        assert ItemRef.parse(str(ref)) == ref and hq.parse_entry(str(ref)) == (kind.value, "12")
    for text in ("12", "image:", ":12", "image:12a", "image:-1", "image:\u00b2", "person:12", "junk"):
        with pytest.raises(ValueError, match="not an item reference"):
            ItemRef.parse(text)
    assert hq.parse_entry(" scene:7\n") == ("scene", "7")  # a queue line, as read from the file
    assert hq.parse_entry("image:\u00b2") is None  # digits are ASCII digits: int() must take them


@pytest.mark.parametrize(("raw", "view"), [
    ({}, (False, None)), ({"autoRecognize": True}, (True, None)), ({"autoRecognize": False}, (False, None)),
    ({"autoRecognize": "true"}, (True, None)), ({"autoRecognize": " Yes "}, (True, None)),
    ({"autoRecognize": "on"}, (True, None)), ({"autoRecognize": "y"}, (True, None)),
    ({"autoRecognize": "T"}, (True, None)), ({"autoRecognize": 1}, (True, None)),
    ({"autoRecognize": 0}, (False, None)), ({"autoRecognize": "0"}, (False, None)),
    ({"autoRecognize": "off"}, (False, None)), ({"autoRecognize": ""}, (False, None)),
    ({"autoRecognize": None}, (False, None)),
    ({"autoRecognize": "maybe"}, (False, None)), ({"autoRecognize": 2}, (False, None)),  # refused by the tasks: off
    ({"stateDir": ""}, (False, None)), ({"stateDir": "  "}, (False, None)),
    ({"stateDir": "/srv/state/"}, (False, "/srv/state")), ({"stateDir": "  /srv/a/../state  "}, (False, "/srv/state")),
    ({"stateDir": "relative"}, (False, None)), ({"stateDir": None}, (False, None)),
])
def test_a_hook_reads_its_two_settings_as_the_tasks_parse_them(raw: dict, view: tuple) -> None:
    from stash_compreface.runtime.hook_cache import hook_view
    from stash_compreface.settings import parse_settings

    assert hq.hook_view(raw) == {"autoRecognize": view[0], "stateDir": view[1]}
    if raw not in ({"autoRecognize": "maybe"}, {"autoRecognize": 2}, {"stateDir": "relative"}):
        assert hook_view(parse_settings(raw)) == hq.hook_view(raw)


def test_a_home_folder_setting_is_expanded() -> None:
    assert hq.hook_view({"stateDir": "~/compreface"})["stateDir"] == str(Path.home() / "compreface")


@pytest.mark.parametrize(("raw", "url"), [
    ({"Scheme": "http", "Host": "0.0.0.0", "Port": 9999}, "http://127.0.0.1:9999"),
    ({"Scheme": "https", "Host": "::1", "Port": 1}, "https://[::1]:1"),
    ({"Scheme": "HTTP", "Host": " ::1 ", "Port": "9999"}, "http://[::1]:9999"),
    ({"Scheme": "https", "Host": "stash.lan", "Port": 443}, "https://stash.lan:443"),
    ({"Host": "", "Port": None}, "http://127.0.0.1:9999"), ({}, "http://127.0.0.1:9999"),
])
def test_stash_is_reached_on_loopback_for_its_bind_address(raw: dict, url: str) -> None:
    assert hq.stash_base_url(raw) == url
    assert hq.stash_graphql_url(raw) == url + "/graphql"


@pytest.mark.parametrize("windows", [False, True])
def test_the_per_user_state_folder(windows: bool) -> None:
    env = {"XDG_DATA_HOME": "/xdg", "LOCALAPPDATA": "/local"}
    base = "/local" if windows else "/xdg"
    assert hq.user_state_dir("http://127.0.0.1:9999", environ=env, windows=windows) == \
        f"{base}/stash-compreface/127_0_0_1_9999"
    home = Path(hq.user_state_dir("https://[::1]:1", environ={}, windows=windows))
    assert home.parts[-2:] == ("stash-compreface", "1__1")
    assert home.is_relative_to(Path.home())


def test_the_state_folder_is_the_setting_else_the_plugin_data_else_the_per_user_one(tmp_path: Path) -> None:
    writable = {str(tmp_path / "data"): True, str(tmp_path / "ro"): False}

    def can_write(folder: str) -> bool:
        return writable[folder]

    user = str(tmp_path / "user")
    assert hq.choose_state_folder("/mine", str(tmp_path / "data"), user, can_write) == ("/mine", "configured")
    assert hq.choose_state_folder(None, str(tmp_path / "data"), user, can_write) == (str(tmp_path / "data"),
                                                                                     "preferred")
    assert hq.choose_state_folder(None, str(tmp_path / "ro"), user, can_write) == (user, "fallback")
    assert hq.choose_state_folder(None, None, user, can_write) == (user, "fallback")


def test_a_hook_queues_where_the_task_keeps_its_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stash_compreface.runtime.plugin import base_url, check_connection, state_dir
    from stash_compreface.tasks.state import locate_state, user_state_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    conn = {"Host": "0.0.0.0", "Port": 9999, "PluginDir": str(tmp_path / "plugin")}
    checked = check_connection(conn)[0]

    def task_folder(configured: Path | None) -> Path:
        return locate_state(preferred=state_dir(checked), configured=configured,
                            fallback=user_state_dir(base_url(checked)), warn=lambda m: None).folder

    for setting in (None, str(tmp_path / "mine")):
        assert hq.hook_state_folder(conn, {"stateDir": setting}) == str(task_folder(setting and Path(setting)))
    (tmp_path / "plugin" / "data").rmdir()
    (tmp_path / "plugin" / "data").write_text("a read-only mount", encoding="utf-8")
    assert hq.hook_state_folder(conn, {"stateDir": None}) == str(task_folder(None))
    assert str(task_folder(None)).startswith(str(tmp_path / "xdg"))
