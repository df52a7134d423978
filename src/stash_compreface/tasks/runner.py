"""Shared batch machinery: id-cursor paging, bounded concurrency, progress, cooldown, limits.

Paging uses ``id > last`` with ``sort: id``, never page numbers, so items that leave the filter because
this run tagged them cannot push others off the page (the original skipped half the library that way).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..stash.models import Image, Scene
from .context import TaskContext

T = TypeVar("T")


@dataclass
class Tally:
    """What a run did, for the task output and the final log line."""

    processed: int = 0
    failed: int = 0
    matched: int = 0
    skipped: int = 0
    created_subjects: int = 0
    created_performers: int = 0
    linked: int = 0
    learned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Workers finish concurrently; counting goes through one lock."""
        with self._lock:
            for name, step in counts.items():
                setattr(self, name, getattr(self, name) + step)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def summary(self) -> str:
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.as_dict().items() if v)


def _cursor(item_filter: dict[str, Any], last_id: int) -> dict[str, Any]:
    cursor = {"id": {"value": last_id, "modifier": "GREATER_THAN"}}
    if not item_filter:
        return cursor
    if "id" in item_filter:
        return {**cursor, "AND": item_filter}
    return {**item_filter, **cursor}


def image_pages(ctx: TaskContext, image_filter: dict[str, Any], limit: int) -> Iterator[tuple[int, list[Image]]]:
    """Yield (total, page) over every image matching ``image_filter`` at the start of the run."""
    yield from _pages(ctx, image_filter, limit, ctx.stash.find_images)


def scene_pages(ctx: TaskContext, scene_filter: dict[str, Any], limit: int) -> Iterator[tuple[int, list[Scene]]]:
    yield from _pages(ctx, scene_filter, limit, ctx.stash.find_scenes)


def _pages(
    ctx: TaskContext,
    item_filter: dict[str, Any],
    limit: int,
    find: Callable[[dict[str, Any], dict[str, Any]], tuple[int, list[Any]]],
) -> Iterator[tuple[int, list[Any]]]:
    per_page = ctx.settings.max_batch_size
    last_id = 0
    total: int | None = None
    seen = 0
    while True:
        ctx.check_stop()
        size = per_page if not limit else min(per_page, limit - seen)
        if size <= 0:
            return
        count, items = find({"per_page": size, "sort": "id", "direction": "ASC"}, _cursor(item_filter, last_id))
        if total is None:
            total = min(count, limit) if limit else count
        if not items:
            return
        seen += len(items)
        last_id = max(int(item.id) for item in items)
        yield total, items
        if len(items) < size:
            return


def run_pages(
    ctx: TaskContext,
    pages: Iterable[tuple[int, list[T]]],
    work: Callable[[T], None],
    *,
    progress: Progress | None = None,
) -> None:
    """Run ``work`` on every item with up to ``maxConcurrency`` in flight, fetching the next page
    while the last items of this one finish. With a cooldown, each page completes before the pause.

    At most twice ``maxConcurrency`` items are queued, so memory stays flat however large the library.
    A FatalError (or a stop) cancels what has not started and is re-raised.
    """
    workers = ctx.settings.max_concurrency
    cooldown = ctx.settings.cooldown_s
    in_flight: set[cf.Future[None]] = set()

    def settle(until: int) -> None:
        while len(in_flight) > until:
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                future.result()

    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="item") as pool:
        try:
            for number, (total, page) in enumerate(pages):
                if number and cooldown:
                    settle(0)
                    ctx.rest(cooldown)
                if progress is not None:
                    progress.set_total(total)
                for item in page:
                    ctx.check_stop()
                    settle(2 * workers - 1)
                    in_flight.add(pool.submit(_guarded, ctx, work, item))
            settle(0)
        except BaseException:
            ctx.stop.set()
            for future in in_flight:
                future.cancel()
            raise


def _guarded(ctx: TaskContext, work: Callable[[T], None], item: T) -> None:
    if ctx.stop.is_set():
        return
    work(item)


class Progress:
    """Thread-safe processed/total counter that reports to Stash after every item."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self.done = 0
        self.total = 0

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = max(self.total, total)

    def step(self) -> None:
        with self._lock:
            self.done += 1
            fraction = self.done / self.total if self.total else 1.0
        self._ctx.progress(min(fraction, 1.0))

