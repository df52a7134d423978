"""The one item runner: every batch mode hands it its pages of items and its per-item work.

It owns what every mode shares: bounded concurrency, cooldown between pages, progress, the tally, the
closing summary line, and what a failure of one item means:

- ``FatalError`` / ``Stopped``: the run stops (items not yet processed stay untagged);
- a ``ServiceError`` that is the service's fault (``retryable``: 5xx, timeout, a broken answer, a Stash
  write that failed for good): the item is left untagged for the next run, with a warning; a real
  outage trips the client's breaker, which is fatal;
- any other ``ItemError`` (bad media, a CompreFace refusal of this image): the mode's ``mark_failed``
  tags it Error and the reason is logged with the item's label;
- anything else is a bug: it costs this item (traceback in the debug log), not the run.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import FatalError, ItemError, ServiceError, Stopped
from ..stash import queries
from ..stash.models import ItemKind
from ..stash.queries import Selection
from .context import TaskContext

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Tally:
    """What a run did, for the task output and the final log line."""

    processed: int = 0
    failed: int = 0
    deferred: int = 0
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
            ctx.check_stop()  # items skipped by a late stop must not look like a finished run
        except BaseException:
            ctx.stop.set()
            for future in in_flight:
                future.cancel()
            raise


def item_pages(ctx: TaskContext, kind: ItemKind, selection: Selection, limit: int) -> Iterator[tuple[int, list[Any]]]:
    """Pages of ``maxBatchSize`` items by id cursor; a stop request is honoured before each query."""
    return queries.pages(ctx.stash, kind, selection, per_page=ctx.settings.max_batch_size, limit=limit,
                         before_each=ctx.check_stop)


def unscanned(ctx: TaskContext) -> Selection:
    """Items carrying neither Scanned nor Error: what the "new" modes visit."""
    return queries.unscanned(ctx.tag_id(ctx.settings.scanned_tag), ctx.tag_id(ctx.settings.error_tag))


def _guarded(ctx: TaskContext, work: Callable[[T], None], item: T) -> None:
    if ctx.stop.is_set():
        return
    work(item)


def run_items(
    ctx: TaskContext,
    pages: Iterable[tuple[int, list[T]]],
    work: Callable[[T], object],
    *,
    title: str,
    noun: str,
    label: Callable[[T], str],
    mark_failed: Callable[[T], object],
    tally: Tally,
) -> Tally:
    """Run ``work`` on every item of ``pages``; one item's failure is that item's alone (see module doc).

    ``work`` counts its own successes in ``tally``; failures and deferrals are counted here.
    """
    progress = Progress(ctx)

    def announced() -> Iterator[tuple[int, list[T]]]:
        for number, (total, page) in enumerate(pages):
            if number == 0:
                ctx.info(f"{title}: {total} {noun}(s) to process")
            yield total, page

    def one(item: T) -> None:
        try:
            work(item)
        except BaseException as exc:
            _settle(ctx, item, exc, label, mark_failed, tally)
        progress.step()

    run_pages(ctx, announced(), one, progress=progress)
    ctx.progress(1.0)
    ctx.info(f"{title} finished: {tally.summary() or 'nothing to do'}")
    return tally


def run_one(ctx: TaskContext, item: T, work: Callable[[T], R], *, label: Callable[[T], str],
            mark_failed: Callable[[T], object]) -> R:
    """A single-item mode: the same failure handling as a batch, then the task itself fails."""
    try:
        return work(item)
    except BaseException as exc:
        _settle(ctx, item, exc, label, mark_failed, Tally())
        message = str(exc) if isinstance(exc, ItemError) else f"unexpected {type(exc).__name__}: {exc}"
        raise ItemError(f"{label(item)}: {message}") from exc


def _settle(ctx: TaskContext, item: T, exc: BaseException, label: Callable[[T], str],
            mark_failed: Callable[[T], object], tally: Tally) -> None:
    """What one item's failure means (the module docstring's list); re-raises what stops the run."""
    if isinstance(exc, FatalError | Stopped) or not isinstance(exc, Exception):
        raise exc
    if isinstance(exc, ServiceError) and exc.retryable:
        ctx.warning(f"{label(item)}: {exc}; left untagged for the next run")
        tally.add(deferred=1)
        return
    if isinstance(exc, ItemError):
        reason = str(exc)
    else:  # a bug must cost one item, not the run
        ctx.debug(traceback.format_exc())
        reason = f"unexpected {type(exc).__name__}: {exc}"
    ctx.log("error", f"{label(item)} failed: {reason}")
    tally.add(failed=1)
    try:
        mark_failed(item)
    except ItemError as write_exc:
        ctx.log("error", f"{label(item)}: could not tag it Error either: {write_exc}")


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

