"""resetUnmatchedImages / resetUnmatchedScenes: let scanned-but-unmatched items be tried again.

Removes Scanned and Error from items that carry either but not Matched. A bulk REMOVE of a tag an item
does not carry is a no-op in Stash, so one mutation per page resets a whole page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .runner import Progress, image_pages, scene_pages


def _reset(
    ctx: TaskContext,
    args: TaskArgs,
    pages: Callable[[TaskContext, dict[str, Any], int], Iterator[tuple[int, list[Any]]]],
    update: Callable[..., None],
    kind: str,
) -> dict[str, Any]:
    s = ctx.settings
    scanned, error, matched = (ctx.tags.lookup(s.scanned_tag), ctx.tags.lookup(s.error_tag),
                               ctx.tags.lookup(s.matched_tag))
    remove = [t for t in (scanned, error) if t]
    if not remove:
        ctx.info(f"No {kind} has been scanned yet: nothing to reset")
        return {"mode": args.mode, "reset": 0}
    item_filter: dict[str, Any] = {"tags": {"value": remove, "modifier": "INCLUDES"}}
    if matched:
        item_filter["tags"]["excludes"] = [matched]
    progress = Progress(ctx)
    reset = 0
    for total, page in pages(ctx, item_filter, args.limit):
        progress.set_total(total)
        ids = [item.id for item in page]
        if ctx.dry_run:
            ctx.info(f"dry run: would remove Scanned/Error from {kind} {', '.join(ids)}")
        else:
            update(ids, remove_tags=remove)
        reset += len(ids)
        for _ in ids:
            progress.step()
    ctx.progress(1.0)
    ctx.info(f"Reset {reset} unmatched {kind}")
    return {"mode": args.mode, "reset": reset}


def reset_unmatched_images(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _reset(ctx, args, image_pages, ctx.stash.update_images, "images")


def reset_unmatched_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _reset(ctx, args, scene_pages, ctx.stash.update_scenes, "scenes")
