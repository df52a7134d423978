"""identifyImage: every face of one image, with its box, best subject, similarity and performer.

The output (also logged as ``identifyImage=<json>``) is what a UI draws boxes from; ``result`` keeps the
original plugin's shape for its companion UI. ``associateExisting`` links matched performers and tags
the image; ``createPerformer`` creates performers for unknown faces at once (the user asked for this
image, so the no-junk rule of batch runs does not apply).
"""

from __future__ import annotations

import json
from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .image_recognizer import analyse_one, describe_faces, identify_output, policy_for
from .items import find_image


def identify_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = find_image(ctx, args)
    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=args.associate_existing, track_sightings=False)
    report = analyse_one(ctx, image, policy, write=args.associate_existing)
    # the log line is the output, runId included (tasks.run adds the run's ``changes`` to the output only)
    output = {**identify_output(report), "runId": ctx.run_id}
    ctx.info("identifyImage=" + json.dumps(output, separators=(",", ":")))
    ctx.info(f"{image.label}: {describe_faces(report)}")
    ctx.progress(1.0)
    return output
