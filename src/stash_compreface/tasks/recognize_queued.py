"""recognizeQueued ("Recognize Queued Items"): what the scan hooks queued, recognised in one task.

The hooks (plugin/compreface.py, standard library, before the venv) append ``image:<id>``/``scene:<id>``
lines to ``<state folder>/hook-queue/queue.txt`` under an OS lock and start this task once per queue
(``task-pending.json``). This task takes the queue and removes the marker in one locked step, so an item
queued while it runs starts the next task instead of being lost or half-seen. The taken queue is renamed
to ``taken-*.txt`` and deleted only once processed: a killed run leaves it for the next one.

Images get the High Quality recognition, scenes the video recognition, each limited to the queued ids
that are still unscanned (an item a manual run handled meanwhile is not done twice); queued ids Stash no
longer has (deleted or cleaned since the scan) are named in the log and skipped. When autoRecognize
is off (the user turned it off after the hooks queued), the queue is dropped and nothing is recognised.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..runtime.runlock import file_lock
from ..settings import TaskArgs
from ..stash import queries
from ..stash.models import ItemKind
from .context import TaskContext
from .image_recognizer import policy_for, run_images
from .runner import Tally, unscanned
from .scenes import run_scenes, video_recognizer

# The names the bootstrap uses (plugin/compreface.py: QUEUE_DIR_NAME, QUEUE_FILE, ...), which runs before any
# venv and imports nothing of this package: tests/unit/test_bootstrap.py holds them equal, and the bootstrap's
# choice of folder equal to the one queue_folder gets from the state (stateDir, <pluginDir>/data, per-user).
QUEUE_DIR_NAME = "hook-queue"
QUEUE_FILE = "queue.txt"
QUEUE_LOCK_FILE = "queue.lock"
PENDING_FILE = "task-pending.json"
TAKEN_PREFIX = "taken-"


def queue_lock(folder: Path) -> contextlib.AbstractContextManager[None]:
    """The bootstrap's lock on the queue: the same OS lock, on ``queue.lock``."""
    return file_lock(folder / QUEUE_LOCK_FILE)


def take_queue(folder: Path) -> list[Path]:
    """Move the queue aside and clear the pending marker in one locked step; every taken file, oldest first.

    Taken files of an earlier run that was killed are included, so nothing queued is ever dropped.
    """
    with queue_lock(folder):
        queue = folder / QUEUE_FILE
        if queue.exists():
            queue.rename(folder / f"{TAKEN_PREFIX}{time.time_ns()}-{os.getpid()}.txt")
        with contextlib.suppress(FileNotFoundError):
            (folder / PENDING_FILE).unlink()
    return sorted(folder.glob(f"{TAKEN_PREFIX}*.txt"))


def queued_files(folder: Path) -> list[Path]:
    """The queue as it stands, without taking it (a dry run): taken files of a killed run, then the queue."""
    return [*sorted(folder.glob(f"{TAKEN_PREFIX}*.txt")), *[q for q in [folder / QUEUE_FILE] if q.exists()]]


def read_entries(files: list[Path]) -> tuple[list[int], list[int]]:
    """Distinct image and scene ids from ``image:<id>``/``scene:<id>`` lines; other lines are skipped."""
    images: dict[int, None] = {}
    scenes: dict[int, None] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            kind, _, raw = line.strip().partition(":")
            if not raw.isdigit():
                continue
            if kind == "image":
                images[int(raw)] = None
            elif kind == "scene":
                scenes[int(raw)] = None
    return list(images), list(scenes)


def queue_folder(ctx: TaskContext) -> Path:
    """``<state folder>/hook-queue``: the folder the hooks write (stateDir, else the plugin's data/)."""
    if ctx.state.path is None:
        raise RuntimeError("the queued task needs a state folder")
    return ctx.state.path.parent / QUEUE_DIR_NAME


def _existing(ctx: TaskContext, kind: ItemKind, ids: list[int]) -> list[int]:
    """The queued ids Stash still has, in queue order; each one it no longer has (deleted or cleaned from the
    library since its hook queued it) is named in one log line."""
    if not ids:
        return ids
    found: set[int] = set()
    for _, page in queries.pages(ctx.stash, kind, queries.Selection(ids=tuple(ids)),
                                 per_page=min(len(ids), 1000), before_each=ctx.check_stop):
        found.update(int(item.id) for item in page)
    gone = [str(i) for i in ids if i not in found]
    if len(gone) == 1:
        ctx.info(f"Recognize queued items: {kind.value} {gone[0]} no longer exists in Stash: skipped")
    elif gone:
        more = f" and {len(gone) - 20} more" if len(gone) > 20 else ""
        ctx.info(f"Recognize queued items: {kind.value}s {', '.join(gone[:20])}{more} no longer exist in Stash: "
                 "skipped")
    return [i for i in ids if i in found]


def _forget(ctx: TaskContext, files: list[Path]) -> None:
    for path in files:
        ctx.files.remove(path)  # the file port: a dry run keeps them


def recognize_queued(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    folder = queue_folder(ctx)
    # A dry run's file port is read-only: it reads the queue where it is, and leaves it for the real run.
    files = queued_files(folder) if ctx.files.read_only else take_queue(folder)
    image_ids, scene_ids = read_entries(files)
    result: dict[str, Any] = {"mode": args.mode, "queuedImages": len(image_ids), "queuedScenes": len(scene_ids)}
    if not ctx.settings.auto_recognize:
        if image_ids or scene_ids:
            ctx.info(f"autoRecognize is off: dropped {len(image_ids)} queued image(s) and {len(scene_ids)} "
                     "queued scene(s) without recognising them")
        else:
            ctx.info("Recognize queued items: nothing queued (autoRecognize is off, so the scan hooks queue nothing)")
        _forget(ctx, files)
        return {**result, "dropped": True}
    if not image_ids and not scene_ids:
        ctx.info("Recognize queued items: the queue is empty")
        _forget(ctx, files)
        return result
    ctx.face_service.check()
    image_ids = _existing(ctx, ItemKind.IMAGE, image_ids)
    scene_ids = _existing(ctx, ItemKind.SCENE, scene_ids)
    new = unscanned(ctx)
    if image_ids:
        policy = policy_for(ctx, relaxed=False, create="candidate", learn=True, track_sightings=True)
        result["images"] = run_images(ctx, args, selection=replace(new, ids=tuple(image_ids)), policy=policy,
                                      title="Recognize queued images")
    if scene_ids:
        tally = Tally()
        result["scenes"] = run_scenes(ctx, args, video_recognizer(ctx, tally), tally=tally,
                                      selection=replace(new, ids=tuple(scene_ids)), title="Recognize queued scenes")
    if not ctx.stop.is_set():
        _forget(ctx, files)
    return result
