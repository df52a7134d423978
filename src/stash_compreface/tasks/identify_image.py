"""identifyImage: every face of one image, with its box, best subject, similarity and performer.

The output (also logged as ``identifyImage=<json>``) is what a UI draws boxes from; ``result`` keeps the
original plugin's shape for its companion UI. ``associateExisting`` links matched performers and tags
the image; ``createPerformer`` creates performers for unknown faces at once (the user asked for this
image, so the no-junk rule of batch runs does not apply).

``cached`` (the page's Faces) answers the image's kept last look when there is one (``looks.answer``: no
download, no detection, no face service) and looks when there is none; the page's "Look again" looks anew.
The recognition's modules are imported only for a look, so a kept look is answered by a light process.
"""

from __future__ import annotations

import json
from typing import Any

from ..settings import TaskArgs
from ..stash.models import ItemKind, ItemRef
from . import looks
from .context import TaskContext
from .items import find_image


def kept_look_answers(ctx: TaskContext, args: TaskArgs) -> bool:
    """Whether this run answers from the kept look (``cached`` and a look is kept, written by no one)."""
    return args.cached and not (args.associate_existing or args.create_performer) and \
        looks.load_look(ctx, ItemRef(ItemKind.IMAGE, args.image_id)) is not None


def needs_a_look(ctx: TaskContext, args: TaskArgs) -> bool:
    """The face service is needed unless the kept look answers."""
    return not kept_look_answers(ctx, args)


def identify_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = find_image(ctx, args)
    if kept_look_answers(ctx, args):
        kept = looks.answer(ctx, image.ref, image.performer_ids, "faces")
        if kept is not None:
            ctx.info(f"{image.label}: {len(kept['faces'])} face(s), as last looked at")
            ctx.progress(1.0)
            return {"imageId": image.id, **kept}
    from .image_recognizer import analyse_one, describe_faces, identify_output, policy_for

    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=args.associate_existing, track_sightings=False)
    report = analyse_one(ctx, image, policy, write=args.associate_existing)
    # Only a linking look changed the image's performers: read them again then.
    linked = (ctx.stash.find_image(image.id) or image).performer_ids if args.associate_existing else image.performer_ids
    output = identify_output(report)
    faces = [{**face, "linked": (face["performer"] or {}).get("id") in linked} for face in output["faces"]]
    # The user's "not them" of a face stands in the next look; the look is kept for the page's actions.
    output["faces"] = looks.carry_over(ctx, image.ref, faces)
    looks.keep(ctx, image.ref, output["faces"], frame=output.get("frame"))
    # the log line is the output, runId included (tasks.run adds the run's ``changes`` to the output only)
    output = {**output, "runId": ctx.run_id}
    ctx.info("identifyImage=" + json.dumps(output, separators=(",", ":")))
    ctx.info(f"{image.label}: {describe_faces(report)}")
    ctx.progress(1.0)
    return output
