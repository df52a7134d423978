from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from stash_compreface.errors import FatalError, Stopped
from stash_compreface.runtime.runlock import RunLock

SRC = str(Path(__file__).resolve().parents[2] / "src")


class CountingStop(threading.Event):
    """A stop event that counts the waiter's polls and tells the test after ``after`` of them."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.polls = 0
        self.polled = threading.Event()
        self._after = after

    def wait(self, timeout: float | None = None) -> bool:
        self.polls += 1
        if self.polls >= self._after:
            self.polled.set()
        return super().wait(timeout)


class Waiter(threading.Thread):
    """Takes the lock in a thread, recording what happened."""

    def __init__(self, lock: RunLock) -> None:
        super().__init__(daemon=True)
        self.lock = lock
        self.acquired = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.lock:
                self.acquired.set()
        except BaseException as exc:
            self.error = exc


def test_a_second_run_waits_for_the_first_and_says_so_once(tmp_path: Path) -> None:
    messages: list[str] = []
    stop = CountingStop(after=3)
    first = RunLock(tmp_path)
    first.acquire()
    waiter = Waiter(RunLock(tmp_path, on_wait=messages.append, stop=stop, poll_s=0.01))
    waiter.start()
    assert stop.polled.wait(30), "the second run never polled"
    assert not waiter.acquired.is_set(), "the second run must not get in while the first holds the lock"
    first.release()
    waiter.join(30)
    assert waiter.acquired.is_set() and waiter.error is None
    assert stop.polls >= 3
    assert len(messages) == 1
    assert "Another run" in messages[0] and "waiting" in messages[0]
    assert f"pid {os.getpid()}" in messages[0]


def test_stop_ends_the_wait(tmp_path: Path) -> None:
    stop = CountingStop(after=1)
    with RunLock(tmp_path):
        waiter = Waiter(RunLock(tmp_path, stop=stop, poll_s=60))
        waiter.start()
        assert stop.polled.wait(30)
        stop.set()
        waiter.join(30)
        assert not waiter.is_alive()
    assert isinstance(waiter.error, Stopped)
    assert not waiter.acquired.is_set()


def test_wait_false_gives_up_at_once_naming_the_other_run(tmp_path: Path) -> None:
    messages: list[str] = []
    with RunLock(tmp_path), pytest.raises(FatalError) as refused:
        RunLock(tmp_path, wait=False, on_wait=messages.append).acquire()
    assert "Another run" in str(refused.value) and "holds this Stash library" in str(refused.value)
    assert messages == []
    with RunLock(tmp_path, wait=False) as lock:
        assert lock.held, "released on exit: the library is free again"


def test_the_lock_is_released_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), RunLock(tmp_path):
        raise RuntimeError("task failed")
    with RunLock(tmp_path, wait=False) as lock:
        assert lock.held


def test_a_state_folder_is_one_library_whatever_address_reached_stash(tmp_path: Path) -> None:
    """The plugin reaches Stash at 127.0.0.1, the command line at its LAN name: one folder, one lock."""
    with RunLock(tmp_path), pytest.raises(FatalError):
        RunLock(tmp_path, wait=False).acquire()
    with RunLock(tmp_path / "other-library", wait=False) as other:
        assert other.held


def test_a_folder_that_cannot_hold_the_lock_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file, not a folder")
    with pytest.raises(FatalError) as failed:
        RunLock(blocker).acquire()
    assert "stateDir" in str(failed.value) and str(blocker) in str(failed.value)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_sigkilled_holder_frees_the_library(tmp_path: Path) -> None:
    """Stash stops plugins with SIGKILL: no cleanup code runs, and the OS must release the lock."""
    holder_code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from stash_compreface.runtime.runlock import RunLock
        lock = RunLock(Path({str(tmp_path)!r}))
        lock.acquire()
        print("locked", flush=True)
        time.sleep(600)
    """)
    env = {**os.environ, "PYTHONPATH": SRC}
    holder = subprocess.Popen([sys.executable, "-c", holder_code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FatalError) as refused:
            RunLock(tmp_path, wait=False).acquire()
        assert f"pid {holder.pid}" in str(refused.value)
        holder.kill()
        holder.wait(30)
        assert holder.returncode == -9
        with RunLock(tmp_path, wait=False) as lock:
            assert lock.held
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()
