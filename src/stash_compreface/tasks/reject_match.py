"""rejectMatch: "this performer is not in this image/scene", said once and remembered.

The performer is removed from the item (bulk REMOVE: the item's other performers stay), the examples
learned from that item for the performer's subjects are deleted (the journal knows their ids), and the
refusal is stored so the recognizers never link that performer or subject to that item again.
"""

from __future__ import annotations

from typing import Any

from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .items import find_item
from .performers import find_performer


def reject_match(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    item = find_item(ctx, args)
    performer = find_performer(ctx, args.performer_id)  # an unknown id is named before anything is written
    subjects = [performer.name, *performer.aliases]
    # Matched says the plugin linked someone here: it goes when the rejected performer was the last one.
    matched = ctx.writes.tag_id(ctx.settings.matched_tag)
    last = not item.record.performer_ids - {args.performer_id}
    tags = [matched] if matched and matched in item.record.tag_ids and last else []
    ctx.writes.remove_from_items(item.ref.kind, [item.ref.id], performers=[args.performer_id], tags=tags)
    deleted = 0
    for example in ctx.journal.examples_from(item.ref, subjects):
        try:
            ctx.writes.delete_example(example.example_id, subject=example.subject)
            deleted += 1
        except FaceServiceError as exc:
            ctx.debug(f"example {example.example_id} of {example.subject}: {exc}")
    ctx.state.refusals.add(item.ref, args.performer_id, subjects)
    ctx.info(f"performer {args.performer_id} removed from {item.label}; {deleted} example(s) learned from it "
             "deleted; it will not be linked to it again")
    return {"mode": args.mode, "item": item.label, "performerId": args.performer_id, "examplesDeleted": deleted}
