"""createPerformerFromImage: the face the user chose becomes a subject and a performer, linked at once.

Faces are indexed as identifyImage reports them (``faceIndex``, 0 when not given). The performer is named
``name`` when the user typed one (the subject then stays its alias; a performer of that name that exists
already is given the subject instead of a second one being made), else after its subject. If the face
already matches someone, that performer is linked instead of creating a duplicate, and the message says so.
"""

from __future__ import annotations

from typing import Any

from ..errors import ItemError, SettingError
from ..faces import quality
from ..faces.naming import is_subject_name
from ..settings import TaskArgs
from .context import TaskContext
from .image_recognizer import FaceStatus, Policy, analyse_one, identify_output
from .items import find_image


def create_performer_from_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = find_image(ctx, args)
    if args.name and is_subject_name(args.name):
        raise SettingError(f"name {args.name!r} has the form of a subject (Person …): type the person's name",
                           setting="name")
    index = args.face_index or 0
    s = ctx.settings
    # The user picked this face: accept what the low-quality gate accepts, for matching and for creation.
    relaxed = quality.match_gate(s.min_face_size_px, s.min_confidence_score, 0.0, relaxed=True)
    policy = Policy(match_gate=relaxed, subject_gate=relaxed, create="immediate", learn=False,
                    track_sightings=False, performer_name=args.name)
    report = analyse_one(ctx, image, policy, write=True, only_index=index)
    chosen = report.faces[index]
    if chosen.status is FaceStatus.MATCHED and chosen.performer_id:
        similarity = f", similarity {chosen.similarity:.2f}" if chosen.similarity is not None else ""
        message = (f"face {index} of {image.label} already matches performer {chosen.performer_id} "
                   f"({chosen.performer_name or chosen.subject}{similarity}): linked it instead of creating a "
                   "duplicate")
    elif chosen.performer_id:
        message = (f"created performer {chosen.performer_id} ({chosen.performer_name or chosen.subject}) from "
                   f"face {index} of {image.label} and linked it")
    elif ctx.writes.dry_run:
        message = f"dry run: face {index} of {image.label} would become performer {chosen.subject}"
    else:
        raise ItemError(f"face {index} of {image.label} could not be used: "
                        f"{chosen.reason or chosen.status}")
    ctx.info(message)
    ctx.progress(1.0)
    return {"message": message, **identify_output(report)}
