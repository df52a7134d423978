"""The one item runner: every batch mode hands it its pages of items and its per-item work.

It owns what every mode shares: bounded concurrency, cooldown between pages, progress, the tally, the
mode's "finished" line, and what a failure of one item means:

- ``FatalError`` / ``Stopped``: the run stops (items not yet processed stay untagged, counted as deferred
  in the "stopped" line); a Stash that refuses every write is one (``transport.Breaker``);
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import FatalError, ItemError, ServiceError, Stopped
from ..stash import queries
from ..stash.models import ItemKind
from ..stash.queries import Selection
from .context import TaskContext
from .journal import (
    AliasAdded,
    Entry,
    ExampleAdded,
    ExampleCopied,
    Linked,
    PerformerCreated,
    PerformerTagged,
    Tagged,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Tally:
    """What a run did, for the task output and the mode's "finished" line."""

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


_KINDS = ("image", "scene", "gallery")  # the order a summary names them in
_ENGINE_NAMES = {"builtin": "the built-in face engine", "compreface": "CompreFace"}
REVIEW_PLACE = "the Faces page in Stash's navbar"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _items(counts: dict[str, int]) -> str:
    """``{"image": 12, "scene": 1}`` as "12 images and 1 scene"."""
    words = [_count(n, kind, "galleries" if kind == "gallery" else None) for kind, n in counts.items() if n]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class RunChanges:
    """What one run changed, read from its journal once it ended (and from the writer, for the removals the
    journal does not keep): the run's closing log line and the output's ``changes``."""

    performers_linked: int = 0  # performer links added, one per item and performer
    linked_items: dict[str, int] = field(default_factory=dict)  # items that got a performer, by kind
    performers_created: int = 0
    tags_added: int = 0  # tags on items and performers the run added and did not remove again
    aliases_added: int = 0
    faces_learned: int = 0  # examples added to the task's face engine
    faces_copied: dict[str, int] = field(default_factory=dict)  # examples copied into another engine, by engine
    items_reset: dict[str, int] = field(default_factory=dict)  # items whose Scanned and Error went, by kind
    subjects_deleted: int = 0  # rejected candidates, deleted from the face engine
    waiting_for_review: int = 0  # open candidates (unknown people) after the run, on the review page
    journalled: int = 0  # journal entries: what undoRun can revert

    @classmethod
    def of(cls, entries: Iterable[Entry], *, removed: Mapping[str, int], waiting: int) -> RunChanges:
        links: set[tuple[str, str]] = set()
        linked_items: dict[str, set[str]] = {}
        tags: set[tuple[str, str]] = set()  # (item or performer, tag): added, unless removed again later
        created = aliases = learned = journalled = 0
        copied: dict[str, int] = {}
        for entry in entries:
            journalled += 1
            match entry:
                case Linked() | Tagged():
                    tags.difference_update((entry.target, t) for t in entry.removed_tags)
                    tags.update((entry.target, t) for t in (*entry.tags, *entry.maybe_tags))
                    for performer in entry.performers:
                        links.add((entry.target, performer))
                        linked_items.setdefault(entry.item.kind.value, set()).add(entry.target)
                case PerformerCreated():
                    created += 1
                case PerformerTagged():
                    tags.update((f"performer:{entry.performer_id}", t) for t in entry.tags)
                case AliasAdded():
                    aliases += 1
                case ExampleAdded() if entry.example_id:
                    learned += 1
                case ExampleCopied():
                    copied[entry.engine] = copied.get(entry.engine, 0) + 1
        kinds = [*_KINDS, *sorted(set(linked_items) - set(_KINDS))]
        by_kind = {kind: len(linked_items[kind]) for kind in kinds if kind in linked_items}
        return cls(performers_linked=len(links), linked_items=by_kind, performers_created=created,
                   tags_added=len(tags), aliases_added=aliases, faces_learned=learned,
                   faces_copied=copied, items_reset={k: n for k, n in removed.items() if k != "subject" and n},
                   subjects_deleted=removed.get("subject", 0), waiting_for_review=waiting, journalled=journalled)

    def as_dict(self) -> dict[str, Any]:
        """The output's ``changes`` (camelCase, as the output's other keys)."""
        return {"performersLinked": self.performers_linked, "linkedItems": dict(self.linked_items),
                "performersCreated": self.performers_created, "tagsAdded": self.tags_added,
                "aliasesAdded": self.aliases_added, "facesLearned": self.faces_learned,
                "facesCopied": dict(self.faces_copied), "itemsReset": dict(self.items_reset),
                "subjectsDeleted": self.subjects_deleted, "waitingForReview": self.waiting_for_review}

    def parts(self) -> list[str]:
        """What changed, most important first; empty when nothing did."""
        parts = []
        if self.performers_linked:
            parts.append(f"{_count(self.performers_linked, 'performer')} linked to {_items(self.linked_items)}")
        if self.performers_created:
            parts.append(f"{_count(self.performers_created, 'performer')} created")
        if self.tags_added:
            parts.append(f"{_count(self.tags_added, 'tag')} added")
        if self.aliases_added:
            parts.append(f"{_count(self.aliases_added, 'alias', 'aliases')} added to performers")
        if self.faces_learned:
            parts.append(f"{_count(self.faces_learned, 'face')} learned by the face engine")
        for engine, n in sorted(self.faces_copied.items()):
            parts.append(f"{_count(n, 'example face')} copied into {_ENGINE_NAMES.get(engine, engine)}")
        if self.items_reset:
            parts.append(f"{_items(self.items_reset)} reset to be scanned again")
        if self.subjects_deleted:
            parts.append(f"{_count(self.subjects_deleted, 'unknown person', 'unknown people')} forgotten by the face "
                         "engine")
        return parts

    def summary(self, run_id: int | None, *, ended: str = "done") -> str:
        """The run's closing line: what changed in Stash, the run number and how to undo it, e.g. "Run 12 done:
        3 performers linked to 2 images and 1 scene; 1 performer created; 7 tags added; 2 unknown people waiting
        for review. Undo: the Faces page in Stash's navbar (Recent runs), or run undoRun with runId=12."."""
        parts = self.parts()
        run = f"Run {run_id} {ended}" if run_id else ended.capitalize()  # no run: nothing was written
        text = f"{run}: {'; '.join(parts) if parts else 'nothing changed'}"
        undo = bool(self.journalled and run_id)
        if self.waiting_for_review:
            text += "; " if parts else ". "
            text += f"{_count(self.waiting_for_review, 'unknown person', 'unknown people')} waiting for review"
            text += "" if undo else f" ({REVIEW_PLACE})"
        text += "."
        if undo:
            text += f" Undo: {REVIEW_PLACE} (Recent runs), or run undoRun with runId={run_id}."
        return text


DRY_RUN_SUMMARY = "Dry run: nothing written. The lines 'dry run: would …' above say what a real run would change."


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

    try:
        run_pages(ctx, announced(), one, progress=progress)
    except FatalError:
        tally.add(deferred=max(0, progress.total - progress.done))  # untouched: left for the next run
        ctx.info(f"{title} stopped: {tally.summary()}")
        raise
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

