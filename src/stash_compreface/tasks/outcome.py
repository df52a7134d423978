"""How a processed item is recorded in Stash: which items count as new, and one write of the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..faces.matching import outcome_tags
from .context import TaskContext


def unscanned_filter(ctx: TaskContext) -> dict[str, Any]:
    """Items carrying neither Scanned nor Error. EXCLUDES keeps untagged items, as we need."""
    ids = [t for t in (ctx.tags.lookup(ctx.settings.scanned_tag), ctx.tags.lookup(ctx.settings.error_tag)) if t]
    return {"tags": {"value": ids, "modifier": "EXCLUDES"}} if ids else {}


def write_item_outcome(
    ctx: TaskContext,
    *,
    label: str,
    item_id: str,
    tag_ids: frozenset[str],
    performer_ids: frozenset[str],
    found: set[str],
    failed: bool,
    update: Callable[..., None],
) -> None:
    """One bulk ADD of the item's final tags and new performers (plus a REMOVE when Error or Scanned
    must go); the user's own tags and performers are never touched."""
    s = ctx.settings
    scanned, matched, error = (ctx.tags.lookup(s.scanned_tag), ctx.tags.lookup(s.matched_tag),
                               ctx.tags.lookup(s.error_tag))
    change = outcome_tags(tag_ids, failed=failed, matched=bool(found),
                          scanned_tag=scanned or "<scanned>", matched_tag=matched or "<matched>",
                          error_tag=error or "<error>")
    new_performers = found - performer_ids
    if ctx.dry_run:
        if change or new_performers:
            ctx.info(f"dry run: {label}: would add tags {sorted(change.add)}, remove "
                     f"{sorted(change.remove)}, link performers {sorted(new_performers)}")
        return
    update([item_id], add_tags=change.add, remove_tags=change.remove, add_performers=new_performers)
