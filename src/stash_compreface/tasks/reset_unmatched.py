"""resetUnmatchedImages / resetUnmatchedScenes: let scanned-but-unmatched items be tried again.

Removes Scanned and Error from items that carry either but not Matched. A bulk REMOVE of a tag an item
does not carry is a no-op in Stash, so one mutation per page resets a whole page.
"""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from ..stash.models import ItemKind
from ..stash.queries import Selection
from .context import TaskContext
from .runner import Progress, item_pages


def _reset(ctx: TaskContext, args: TaskArgs, kind: ItemKind) -> dict[str, Any]:
    s = ctx.settings
    scanned, error, matched = ctx.tag_id(s.scanned_tag), ctx.tag_id(s.error_tag), ctx.tag_id(s.matched_tag)
    remove = tuple(t for t in (scanned, error) if t)
    if not remove:
        ctx.info(f"No {kind.value} has been scanned yet: nothing to reset")
        return {"mode": args.mode, "reset": 0}
    selection = Selection(with_any_tags=remove, but_not_tags=(matched,) if matched else ())
    progress = Progress(ctx)
    reset = 0
    for total, page in item_pages(ctx, kind, selection, args.limit):
        progress.set_total(total)
        ids = [item.id for item in page]
        ctx.writes.clear_scan_tags(kind, ids)
        reset += len(ids)
        for _ in ids:
            progress.step()
    ctx.progress(1.0)
    ctx.info(f"Reset {reset} unmatched {kind.value}s")
    return {"mode": args.mode, "reset": reset}


def reset_unmatched_images(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _reset(ctx, args, ItemKind.IMAGE)


def reset_unmatched_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _reset(ctx, args, ItemKind.SCENE)
