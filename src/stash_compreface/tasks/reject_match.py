"""rejectMatch: "this performer is not in this image/scene", said once and remembered.

The performer is removed from the item (bulk REMOVE: the item's other performers stay), the examples
learned from that item for the performer's subjects are deleted (the journal knows their ids), and the
refusal is stored so the recognisers never link that performer or subject to that item again.
"""

from __future__ import annotations

from typing import Any

from ..errors import CompreFaceError, SettingError
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind, Scene
from .context import TaskContext
from .image_recognizer import find_image
from .performers import scene_item
from .scene_recognizer import find_scene


def reject_match(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    if bool(args.image_id) == bool(args.scene_id):
        raise SettingError("rejectMatch needs imageId or sceneId (one of them): the item the performer is not in",
                           setting="imageId")
    if not args.performer_id:
        raise SettingError("rejectMatch needs performerId: the performer who is not in the item",
                           setting="performerId")
    item: Image | Scene
    if args.image_id:
        kind, item = ItemKind.IMAGE, find_image(ctx, args)
        item_key = item.id
    else:
        kind, item = ItemKind.SCENE, find_scene(ctx, args)
        item_key = scene_item(item.id)
    item_id = item.id
    performer = ctx.stash.find_performer(args.performer_id)
    subjects = [performer.name, *performer.aliases] if performer is not None else []
    label = f"{kind.value} {item_id}"
    # Matched says the plugin linked someone here: it goes when the rejected performer was the last one.
    matched = ctx.writes.tag_id(ctx.settings.matched_tag)
    last = not item.performer_ids - {args.performer_id}
    tags = [matched] if matched and matched in item.tag_ids and last else []
    ctx.writes.remove_from_items(kind, [item_id], performers=[args.performer_id], tags=tags)
    deleted = 0
    for entry in ctx.state.examples_from(item_key, subjects):
        try:
            ctx.writes.delete_example(str(entry.detail["example_id"]), subject=entry.target)
            deleted += 1
        except CompreFaceError as exc:
            ctx.debug(f"example {entry.detail['example_id']} of {entry.target}: {exc}")
    ctx.state.refuse(item_key, args.performer_id, subjects)
    ctx.info(f"performer {args.performer_id} removed from {label}; {deleted} example(s) learned from it deleted; "
             "it will not be linked to it again")
    return {"mode": args.mode, "item": label, "performerId": args.performer_id, "examplesDeleted": deleted}
