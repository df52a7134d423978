"""identifyImage: every face of one image, with its box, best subject, similarity and performer.

The output (also logged as ``identifyImage=<json>``) is what a UI draws boxes from; ``result`` keeps the
original plugin's shape for its companion UI. ``associateExisting`` links matched performers and tags
the image; ``createPerformer`` creates performers for unknown faces at once (the user asked for this
image, so the no-junk rule of batch runs does not apply).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image
from .context import TaskContext
from .image_recognizer import (
    FaceStatus,
    ImageRecognizer,
    ImageReport,
    Policy,
    describe_faces,
    mark_image_failed,
    policy_for,
    recognize_and_record,
)
from .runner import Tally, run_one


def find_image(ctx: TaskContext, args: TaskArgs) -> Image:
    """The image named by the ``imageId`` argument; a missing or unknown id names the argument."""
    if not args.image_id:
        raise SettingError(f"{args.mode} needs imageId: the id of the image to look at", setting="imageId")
    image = ctx.stash.find_image(args.image_id)
    if image is None:
        raise SettingError(f"image {args.image_id} does not exist in Stash", setting="imageId")
    return image


def analyse_one(ctx: TaskContext, image: Image, policy: Policy, *, write: bool,
                only_index: int | None = None) -> ImageReport:
    """One image through the item runner's failure handling; written (and tagged) when ``write``."""
    recognizer = ImageRecognizer(ctx, policy, Tally())

    def work(item: Image) -> ImageReport:
        if write:
            return recognize_and_record(ctx, recognizer, item, only_index=only_index)
        return recognizer.analyse(item, only_index=only_index)

    return run_one(ctx, image, work, label=lambda item: item.label,
                   mark_failed=(lambda item: mark_image_failed(ctx, item)) if write else (lambda item: None))


def _legacy_face(image_id: str, face: dict[str, Any]) -> dict[str, Any]:
    """One entry of the original plugin's ``result`` list, which its companion UI reads."""
    performer = face["performer"] or {}
    legacy_performer = {"name": performer.get("name") or face["subject"]}
    if performer.get("id"):
        legacy_performer["id"] = performer["id"]
    return {"image_id": image_id, "bounding_box": face["box"], "performer": legacy_performer,
            "confidence": round((face["similarity"] or 0) * 100, 2)}


def identify_output(report: ImageReport) -> dict[str, Any]:
    """Every face, so a UI can draw boxes; ``result`` keeps the original plugin's shape for its UI."""
    faces = [f.as_dict() for f in report.faces]
    shown = [f for f, r in zip(faces, report.faces, strict=True)
             if r.status not in (FaceStatus.SKIPPED, FaceStatus.NOT_SELECTED)]
    legacy = [_legacy_face(report.image.id, f) for f in shown]
    return {"imageId": report.image.id, "faces": faces, "result": legacy or None}


def identify_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = find_image(ctx, args)
    ctx.face_service.check()
    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=args.associate_existing, track_sightings=False)
    report = analyse_one(ctx, image, policy, write=args.associate_existing)
    output = identify_output(report)
    ctx.info("identifyImage=" + json.dumps(output, separators=(",", ":")))
    ctx.info(f"{image.label}: {describe_faces(report)}")
    ctx.progress(1.0)
    return output
