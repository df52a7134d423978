"""run_pages: bounded concurrency, interruptible cooldown, and a fatal error stopping the rest; RunChanges: the
run's closing summary."""

from __future__ import annotations

import threading
import time

import pytest

from stash_compreface.errors import AuthError
from stash_compreface.settings import Settings
from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks.context import Stopped, TaskContext
from stash_compreface.tasks.journal import (
    AliasAdded,
    ExampleAdded,
    ExampleCopied,
    Linked,
    PerformerCreated,
    PerformerSeen,
    PerformerTagged,
    Tagged,
)
from stash_compreface.tasks.runner import RunChanges, run_pages
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


# -- the run's closing summary (RunChanges) ---------------------------------------------------------------


def test_the_summary_counts_what_stash_holds_after_the_run_in_the_users_words() -> None:
    def image(item_id: str) -> ItemRef:
        return ItemRef(ItemKind.IMAGE, item_id)

    entries = [
        Linked(item=image("1"), performers=("5",), tags=("10", "11")),
        Tagged(item=image("2"), tags=("10", "12")),  # Unidentified
        PerformerCreated(performer_id="6", name="Person 2 AAAA"),
        PerformerSeen(performer_id="6", name="Person 2 AAAA", aliases=(), image_path="", tags=()),
        # the promotion links the earlier sighting: Unidentified (12) goes, Matched may have been there
        Linked(item=image("2"), performers=("6",), maybe_tags=("11",), removed_tags=("12",)),
        Linked(item=ItemRef(ItemKind.SCENE, "3"), performers=("5", "6"), tags=("10",)),
        Linked(item=ItemRef(ItemKind.GALLERY, "4"), performers=("5",)),
        ExampleAdded(subject="Person 2 AAAA", example_id="e1", item=image("2"), new_subject=True),
        ExampleAdded(subject="Person 0 ALICE", example_id="", item=image("1")),  # no example id: not counted
        PerformerTagged(performer_id="5", tags=("13",)),
    ]
    changes = RunChanges.of(entries, removed={}, waiting=2)
    assert changes.as_dict() == {
        "performersLinked": 5, "linkedItems": {"image": 2, "scene": 1, "gallery": 1}, "performersCreated": 1,
        "tagsAdded": 6, "aliasesAdded": 0, "facesLearned": 1, "facesCopied": {}, "itemsReset": {},
        "subjectsDeleted": 0, "waitingForReview": 2}
    assert changes.summary(7) == (
        "Run 7 done: 5 performers linked to 2 images, 1 scene and 1 gallery; 1 performer created; 6 tags added; "
        "1 face learned by the face engine; 2 unknown people waiting for review. Undo: the Faces page in Stash's "
        "navbar (Recent runs), or run undoRun with runId=7.")
    assert changes.summary(7, ended="ended early").startswith("Run 7 ended early: 5 performers linked")


def test_a_summary_of_nothing_says_so_and_removals_are_not_offered_for_undo() -> None:
    assert RunChanges.of([], removed={}, waiting=0).summary(3) == "Run 3 done: nothing changed."
    assert RunChanges.of([], removed={}, waiting=0).summary(None) == "Done: nothing changed."  # no write, no run
    assert RunChanges.of([], removed={}, waiting=1).summary(3) == (
        "Run 3 done: nothing changed. 1 unknown person waiting for review (the Faces page in Stash's navbar).")
    reset = RunChanges.of([], removed={"scene": 1, "subject": 2}, waiting=0)
    assert reset.summary(4) == ("Run 4 done: 1 scene reset to be scanned again; 2 unknown people forgotten by the "
                                "face engine.")
    copied = RunChanges.of([ExampleCopied(subject="Person 1 A", engine="builtin", example_id="x", direction="import",
                                          source_id="y"),
                            AliasAdded(performer_id="5", alias="Person 1 A")], removed={}, waiting=0)
    assert copied.summary(5).startswith("Run 5 done: 1 alias added to performers; 1 example face copied into the "
                                        "built-in face engine. Undo: ")
