"""recognizeQueued ("Recognize Queued Items"): what the scan hooks queued, recognised in one task.

The hooks (plugin/compreface.py, standard library, before the venv) append ``image:<id>``/``scene:<id>``
lines to the queue in ``<state folder>/hook-queue`` and start this task once per queue. This task takes
the queue and removes the pending marker in one locked step, so an item queued while it runs starts the
next task instead of being lost or half-seen; the taken files are deleted only once processed, so a killed
run leaves them for the next one. Both ends of the queue are ``stash_compreface.hookqueue``'s.

Images get the High Quality recognition, scenes the video recognition, each limited to the queued ids
that are still unscanned (an item a manual run handled meanwhile is not done twice); queued ids Stash no
longer has (deleted or cleaned since the scan) are named in the log and skipped. When autoRecognize
is off (the user turned it off after the hooks queued), the queue is dropped and nothing is recognised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from ..errors import FatalError
from ..hookqueue import HookQueue
from ..settings import TaskArgs
from ..stash import queries
from ..stash.models import ItemKind
from .context import TaskContext
from .image_recognizer import policy_for, run_images
from .runner import Tally, unscanned
from .scenes import run_scenes, video_recognizer

T = TypeVar("T")


def hook_queue(ctx: TaskContext) -> HookQueue:
    """The queue in ``<state folder>/hook-queue``: where the hooks write (stateDir, else the plugin's data/,
    else the per-user folder, as ``hookqueue.choose_state_folder`` chooses for both)."""
    if ctx.state.path is None:
        raise RuntimeError("the queued task needs a state folder")
    return HookQueue.of_state_folder(ctx.state.path.parent)


def has_work(ctx: TaskContext, args: TaskArgs) -> bool:
    """Whether this run will recognise anything (then it needs the face service): autoRecognize is on and
    the queue holds items. A look only (:meth:`HookQueue.peek`): nothing is taken."""
    if not ctx.settings.auto_recognize or ctx.state.path is None:
        return False
    images, scenes = _read(lambda: hook_queue(ctx).peek())
    return bool(images or scenes)


def _read(read: Callable[[], T]) -> T:
    """The queue read, or one line saying why it cannot be (a folder where the file should be, no access)."""
    try:
        return read()
    except OSError as exc:
        raise FatalError(f"Cannot read the scan hooks' queue: {exc.strerror if exc.filename else exc}"
                         + (f" ({exc.filename})" if exc.filename else "")) from None


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


def _forget(ctx: TaskContext, queue: HookQueue, files: list[str]) -> None:
    """Delete the taken files once their items are processed (a dry run took none)."""
    if not ctx.files.read_only:
        queue.forget(files)


def recognize_queued(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    queue = hook_queue(ctx)
    # A dry run's file port is read-only: it reads the queue where it is, and leaves it for the real run.
    dry = ctx.files.read_only
    files = [] if dry else _read(queue.take)
    image_ids, scene_ids = _read(queue.peek) if dry else queue.read(files)
    result: dict[str, Any] = {"mode": args.mode, "queuedImages": len(image_ids), "queuedScenes": len(scene_ids)}
    if not ctx.settings.auto_recognize:
        if image_ids or scene_ids:
            ctx.info(f"autoRecognize is off: dropped {len(image_ids)} queued image(s) and {len(scene_ids)} "
                     "queued scene(s) without recognising them")
        else:
            ctx.info("Recognize queued items: nothing queued (autoRecognize is off, so the scan hooks queue nothing)")
        _forget(ctx, queue, files)
        return {**result, "dropped": True}
    if not image_ids and not scene_ids:
        ctx.info("Recognize queued items: the queue is empty")
        _forget(ctx, queue, files)
        return result
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
        _forget(ctx, queue, files)
    return result
