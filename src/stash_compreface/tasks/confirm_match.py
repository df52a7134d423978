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

from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image, Scene
from .context import TaskContext
from .enrolment import Enrolment, FaceCrop
from .image_recognizer import face_of
from .items import find_item
from .performers import PerformerDirectory, find_performer
from .scenes import face_cache


def learns_a_face(ctx: TaskContext, args: TaskArgs) -> bool:
    """Whether this confirmation needs the face service: only to learn the face given by ``faceIndex``."""
    return args.face_index is not None


def confirm_match(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    item = find_item(ctx, args)
    performer = find_performer(ctx, args.performer_id)
    face = None
    if args.face_index is not None:  # learns_a_face: the face service was checked
        # The face first: a faceIndex that names no face fails here, before anything is written.
        face = _face(ctx, item.record, args.face_index)
    ctx.state.refusals.forget(item.ref, performer.id, [performer.name, *performer.aliases])
    learned = None
    if face is not None:
        subject = PerformerDirectory(ctx).own_subject(performer)
        # The user's word stands for the quality gate: they chose this face.
        learned = Enrolment(ctx).learn(subject, face, why=f"{face.what}, confirmed by the user", high_quality=True)
        if learned.reason:
            ctx.log("warning" if learned.refused else "info",
                    f"{face.what} was not learned as a face of {subject}: {learned.reason}")
    linked = ctx.writes.record_outcome(item.ref.kind, item.record, failed=False, performers=[performer.id])
    taught = learned is not None and learned.example_id is not None
    ctx.info(f"performer {performer.id} ({performer.name}) " + ("linked to " if linked else "already in ")
             + item.label + ("; the face was learned as one of their examples" if taught else ""))
    ctx.progress(1.0)
    return {"mode": args.mode, "item": item.label, "performer": {"id": performer.id, "name": performer.name},
            "linked": bool(linked), "learned": taught}


def _face(ctx: TaskContext, item: Image | Scene, index: int) -> FaceCrop:
    """The face to learn: of an image, cut from it (tight too, if a neighbour's face is in the margin); of
    a scene, the one the scene page showed (``face_cache``)."""
    if isinstance(item, Image):
        return face_of(ctx, item, index)
    crop = face_cache.face(ctx, item.id, index)
    if crop is None:
        raise SettingError(f"faceIndex {index}: no such person is kept from a look at {item.label}: look at the "
                           "scene again (identifyScene, the scene page's Faces) and use the index it lists",
                           setting="faceIndex")
    return FaceCrop(f"the face of person {index} in {item.label}", crop, item=item.ref)
