"""confirmMatch: "this performer is in this image/scene", the user's yes (rejectMatch is the no).

The performer is added to the item (bulk ADD) with the Matched tag, and a refusal of that performer for
the item is forgotten. With ``faceIndex`` (of an image, numbered as identifyImage numbers its faces; of a
scene, the person's index in the last identifyScene of it) that face also becomes an example of the
performer's subject, so recognition learns who it is: this is how a face is given to another performer
than the one suggested (the page rejects the suggestion first). A performer without a subject gets one (a
``Person …`` alias), as synchronizePerformers would give it. Running it again changes nothing: the item
already holds the performer, and a subject learns one face per item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SettingError, TooManyFaces
from ..faces import matching
from ..settings import TaskArgs
from ..stash.models import Image, Scene
from .context import TaskContext
from .image_recognizer import face_crop
from .items import find_item
from .performers import PerformerDirectory, find_performer
from .scenes import face_cache


def confirm_match(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    item = find_item(ctx, args, role="the item the performer is in")
    performer = find_performer(ctx, args.mode, args.performer_id, what="the performer who is in the item")
    face = None
    if args.face_index is not None:
        ctx.face_service.check()
        # The face first: a faceIndex that names no face fails here, before anything is written.
        face = _face(ctx, item.record, args.face_index)
    ctx.state.unrefuse(item.key, performer.id, [performer.name, *performer.aliases])
    learned = _learn(ctx, PerformerDirectory(ctx).own_subject(performer), item.key, face) if face else None
    linked = ctx.writes.record_outcome(item.kind, item.record, failed=False, performers=[performer.id])
    ctx.info(f"performer {performer.id} ({performer.name}) " + ("linked to " if linked else "already in ")
             + item.label + ("; the face was learned as one of their examples" if learned else ""))
    ctx.progress(1.0)
    return {"mode": args.mode, "item": item.label, "performer": {"id": performer.id, "name": performer.name},
            "linked": bool(linked), "learned": bool(learned)}


@dataclass(frozen=True)
class _Face:
    """The face to learn: where it is from, a crop with a margin, and a tight one (a neighbour's face in
    the margin), made only if needed."""

    what: str
    crop: bytes
    tight: Callable[[], bytes] | None = None


def _face(ctx: TaskContext, item: Image | Scene, index: int) -> _Face:
    if isinstance(item, Image):
        return _Face(f"face {index} of {item.label}", face_crop(ctx, item, index),
                     lambda: face_crop(ctx, item, index, pad=0.0))
    crop = face_cache.face(ctx, item.id, index)
    if crop is None:
        raise SettingError(f"faceIndex {index}: no such person is kept from a look at {item.label}: look at the "
                           "scene again (identifyScene, the scene page's Faces) and use the index it lists",
                           setting="faceIndex")
    return _Face(f"the face of person {index} in {item.label}", crop)


def _learn(ctx: TaskContext, subject: str, item_key: str, face: _Face) -> str | None:
    """The face as an example of ``subject``: once per item and subject (a candidate made of this very face
    already holds it), and not past the examples a subject needs; the new example's id, or None."""
    count = ctx.face_service.count_examples(subject)
    if (not matching.should_learn(count, high_quality=True) or ctx.journal.examples_from(item_key, [subject])
            or not ctx.state.claim_example(subject, item_key)):
        return None
    why = f"{face.what}, confirmed by the user"
    try:
        return ctx.writes.add_example(subject, face.crop, why=why, item=item_key, new_subject=count == 0)
    except TooManyFaces:
        if face.tight is None:
            ctx.warning(f"{face.what} holds another face too: not learned")
            return None
        return ctx.writes.add_example(subject, face.tight(), why=why, item=item_key, new_subject=count == 0)
