"""run_pages: bounded concurrency, interruptible cooldown, and a fatal error stopping the rest."""

from __future__ import annotations

import threading
import time

import pytest

from stash_compreface.errors import AuthError
from stash_compreface.settings import Settings
from stash_compreface.tasks.context import Stopped, TaskContext
from stash_compreface.tasks.runner import run_pages
from stash_compreface.tasks.state import StateStore
from testdoubles.reporter import MemoryReporter


def context(**settings: object) -> TaskContext:
    return TaskContext(settings=Settings(**settings), stash=None, reporter=MemoryReporter(),  # type: ignore[arg-type]
                       state=StateStore(None), face_service_factory=lambda: None)  # type: ignore[arg-type,return-value]


def pages(count: int, size: int) -> list[tuple[int, list[int]]]:
    return [(count * size, list(range(p * size, (p + 1) * size))) for p in range(count)]


def test_at_most_max_concurrency_items_run_at_once() -> None:
    ctx = context(max_concurrency=3)
    lock = threading.Lock()
    # The first three items meet at a barrier: it breaks (failing the test) unless three run at once.
    together = threading.Barrier(3, timeout=30)
    running, peak, done = [0], [0], []

    def work(item: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            first = len(done) + running[0] <= 3
        if first:
            together.wait()
        with lock:
            running[0] -= 1
            done.append(item)

    run_pages(ctx, pages(4, 10), work)
    assert sorted(done) == list(range(40)) and peak[0] == 3


class _WatchedStop(threading.Event):
    """The stop event, telling the test when the run starts waiting on it and whether the wait was cut short."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.interrupted: list[bool] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        woken = super().wait(timeout)
        self.interrupted.append(woken)
        return woken


def test_cooldown_is_interrupted_by_a_stop() -> None:
    ctx = context(cooldown_s=60.0)
    stop = ctx.stop = _WatchedStop()
    threading.Thread(target=lambda: stop.waiting.wait() and stop.set(), daemon=True).start()
    done: list[int] = []
    with pytest.raises(Stopped):
        run_pages(ctx, pages(3, 2), done.append)
    assert stop.interrupted == [True]  # woken by the stop, not by the end of the cooldown
    assert sorted(done) == [0, 1]  # the first page only


def test_a_fatal_error_stops_the_remaining_items() -> None:
    ctx = context(max_concurrency=2)
    done: list[int] = []

    def work(item: int) -> None:
        if item == 3:
            raise AuthError("key refused", setting="recognitionApiKey")
        time.sleep(0.01)
        done.append(item)

    with pytest.raises(AuthError):
        run_pages(ctx, pages(5, 10), work)
    assert len(done) < 10
