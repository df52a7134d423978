"""Single-item modes the user points at: identifyImage, createPerformerFromImage, identifyGallery."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ItemError, SettingError
from ..faces import quality
from ..settings import TaskArgs
from ..stash.models import Image
from .context import TaskContext
from .images import FaceReport, ImageRecognizer, ImageReport, Policy, policy_for
from .recognize_images import describe_faces, process_image, write_outcome
from .runner import Progress, Tally, image_pages, run_pages


def _image(ctx: TaskContext, args: TaskArgs) -> Image:
    if not args.image_id:
        raise SettingError(f"{args.mode} needs imageId: the id of the image to look at", setting="imageId")
    image = ctx.stash.find_image(args.image_id)
    if image is None:
        raise SettingError(f"image {args.image_id} does not exist in Stash", setting="imageId")
    return image


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
    legacy = [_legacy_face(report.image.id, f) for f in faces if f["status"] not in ("skipped", "not selected")]
    return {"imageId": report.image.id, "faces": faces, "result": legacy or None}


def _run_single(ctx: TaskContext, image: Image, policy: Policy, *, write: bool,
                only_index: int | None = None) -> ImageReport:
    recognizer = ImageRecognizer(ctx, policy, Tally())
    try:
        report = recognizer.analyse(image, only_index=only_index)
    except IndexError as exc:
        count = exc.args[0] if exc.args else 0
        raise SettingError(f"faceIndex {only_index} is out of range: {image.label} has {count} face(s)"
                           + (f" (0..{count - 1})" if count else ""), setting="faceIndex") from None
    except ItemError as exc:
        if write:
            write_outcome(ctx, image, None)
        raise ItemError(f"{image.label}: {exc}") from exc
    if write:
        write_outcome(ctx, image, report)
    return report


def identify_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = _image(ctx, args)
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=args.associate_existing, track_sightings=False)
    report = _run_single(ctx, image, policy, write=args.associate_existing)
    output = identify_output(report)
    ctx.info("identifyImage=" + json.dumps(output, separators=(",", ":")))
    ctx.info(f"{image.label}: {describe_faces(report)}")
    ctx.progress(1.0)
    return output


def create_performer_from_image(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    image = _image(ctx, args)
    ctx.faces.check()
    s = ctx.settings
    # The user picked this face: accept what the low-quality gate accepts, for matching and for creation.
    relaxed = quality.match_gate(s.min_face_size_px, s.min_confidence, 0.0, relaxed=True)
    policy = Policy(match_gate=relaxed, subject_gate=relaxed, create="immediate", learn=False,
                    track_sightings=False)
    report = _run_single(ctx, image, policy, write=True, only_index=args.face_index)
    chosen: FaceReport = report.faces[args.face_index]
    if chosen.status == "matched" and chosen.performer_id:
        message = (f"face {args.face_index} of {image.label} already matches performer {chosen.performer_id} "
                   f"({chosen.performer_name or chosen.subject}, similarity {chosen.similarity:.2f}): "
                   "linked it instead of creating a duplicate")
    elif chosen.performer_id:
        message = (f"created performer {chosen.performer_id} ({chosen.performer_name or chosen.subject}) from "
                   f"face {args.face_index} of {image.label} and linked it")
    else:
        raise ItemError(f"face {args.face_index} of {image.label} could not be used: "
                        f"{chosen.reason or chosen.status}")
    ctx.info(message)
    ctx.progress(1.0)
    return {"message": message, **identify_output(report)}


def identify_gallery(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    if not args.gallery_id:
        raise SettingError("identifyGallery needs galleryId: the id of the gallery", setting="galleryId")
    gallery = ctx.stash.find_gallery(args.gallery_id)
    if gallery is None:
        raise SettingError(f"gallery {args.gallery_id} does not exist in Stash", setting="galleryId")
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=True, track_sightings=False)
    tally = Tally()
    recognizer = ImageRecognizer(ctx, policy, tally)
    progress = Progress(ctx)
    found: set[str] = set()
    image_filter = {"galleries": {"value": [gallery.id], "modifier": "INCLUDES"}}

    def work(image: Image) -> None:
        report = process_image(ctx, recognizer, image, tally)
        if report is not None:
            found.update(report.performer_ids)
        progress.step()

    run_pages(ctx, image_pages(ctx, image_filter, args.limit), work, progress=progress)
    s = ctx.settings
    tags = [t for t in (ctx.tags.lookup(s.scanned_tag), ctx.tags.lookup(s.matched_tag) if found else None) if t]
    new_tags = set(tags) - gallery.tag_ids
    new_performers = found - gallery.performer_ids
    if ctx.dry_run:
        ctx.info(f"dry run: gallery {gallery.id}: would add tags {sorted(new_tags)} and performers "
                 f"{sorted(new_performers)}")
    else:
        ctx.stash.update_galleries([gallery.id], add_tags=new_tags, add_performers=new_performers)
    ctx.progress(1.0)
    ctx.info(f"Identify gallery {gallery.id} ({gallery.title}) finished: {tally.summary() or 'no images'}; "
             f"performers {sorted(found, key=int) if found else 'none'}")
    return {"mode": args.mode, "galleryId": gallery.id, "performers": sorted(found, key=int), **tally.as_dict()}
