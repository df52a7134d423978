"""confirmMatch: "this performer is in this image/scene", the user's yes (rejectMatch is the no).

The performer is added to the item (bulk ADD) with the Matched tag, and a refusal of that performer for
the item is forgotten. With ``faceIndex`` (an image, faces numbered as identifyImage numbers them) that
face also becomes an example of the performer's subject, so recognition learns who it is: this is how a
face is given to another performer than the one suggested (the page rejects the suggestion first). A
performer without a subject gets one (a ``Person …`` alias), as synchronizePerformers would give it.
Running it again changes nothing: the item already holds the performer, and the face was learned once.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError, TooManyFaces
from ..faces import matching
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind, Scene
from .context import TaskContext
from .image_recognizer import face_crop, find_image
from .performers import PerformerDirectory, find_performer, scene_item
from .scene_recognizer import find_scene


def confirm_match(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    if bool(args.image_id) == bool(args.scene_id):
        raise SettingError("confirmMatch needs imageId or sceneId (one of them): the item the performer is in",
                           setting="imageId")
    if args.face_index is not None and not args.image_id:
        raise SettingError("faceIndex names a face of an image: give imageId with it", setting="faceIndex")
    item: Image | Scene
    if args.image_id:
        kind, item = ItemKind.IMAGE, find_image(ctx, args)
        key = item.id
    else:
        kind, item = ItemKind.SCENE, find_scene(ctx, args)
        key = scene_item(item.id)
    performer = find_performer(ctx, args.mode, args.performer_id, what="the performer who is in the item")
    face: tuple[Image, int, bytes] | None = None
    if isinstance(item, Image) and args.face_index is not None:
        ctx.face_service.check()
        # The face first: a faceIndex past the image's faces fails here, before anything is written.
        face = item, args.face_index, face_crop(ctx, item, args.face_index)
    ctx.state.unrefuse(key, performer.id, [performer.name, *performer.aliases])
    learned = _learn(ctx, PerformerDirectory(ctx).own_subject(performer), *face) if face else None
    linked = ctx.writes.record_outcome(kind, item, failed=False, performers=[performer.id])
    what = f"{kind.value} {item.id}"
    ctx.info(f"performer {performer.id} ({performer.name}) " + ("linked to " if linked else "already in ") + what
             + ("; the face was learned as one of their examples" if learned else ""))
    ctx.progress(1.0)
    return {"mode": args.mode, "item": what, "performer": {"id": performer.id, "name": performer.name},
            "linked": bool(linked), "learned": bool(learned)}


def _learn(ctx: TaskContext, subject: str, image: Image, index: int, crop: bytes) -> str | None:
    """Face ``index`` of the image (``crop``) as an example of ``subject`` (once per image and subject, and not
    past the examples a subject needs); the new example's id, or None."""
    count = ctx.face_service.count_examples(subject)
    if not matching.should_learn(count, high_quality=True) or not ctx.state.claim_example(subject, image.id):
        return None
    why = f"face {index} of {image.label}, confirmed by the user"
    try:
        return ctx.writes.add_example(subject, crop, why=why, item=image.id, new_subject=count == 0)
    except TooManyFaces:  # a neighbour's face in the margin: the tight crop
        return ctx.writes.add_example(subject, face_crop(ctx, image, index, pad=0.0), why=why, item=image.id,
                                      new_subject=count == 0)
