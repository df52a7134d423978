"""identifyGallery: every image of one gallery as identifyImage (with ``createPerformer``), then the
gallery itself tagged Scanned (and Matched) with the performers found added to it."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind
from ..stash.queries import Selection
from .context import TaskContext
from .image_recognizer import (
    ImageRecognizer,
    mark_image_failed,
    policy_for,
    recognize_and_record,
)
from .runner import Tally, item_pages, run_items


def identify_gallery(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    gallery = ctx.stash.find_gallery(args.gallery_id)
    if gallery is None:
        raise SettingError(f"galleryId {args.gallery_id} names no gallery in Stash", setting="galleryId")
    policy = policy_for(ctx, relaxed=False, create="immediate" if args.create_performer else "never",
                        learn=True, track_sightings=False)
    policy = dataclasses.replace(policy, spare_small_faces=True)
    tally = Tally()
    recognizer = ImageRecognizer(ctx, policy, tally)
    found: set[str] = set()

    def work(image: Image) -> None:
        found.update(recognize_and_record(ctx, recognizer, image).performer_ids)

    run_items(ctx, item_pages(ctx, ItemKind.IMAGE, Selection(gallery=gallery.id), args.limit), work,
              title=f"Identify gallery {gallery.id} ({gallery.title})", noun="image",
              label=lambda image: image.label, mark_failed=lambda image: mark_image_failed(ctx, image), tally=tally)
    ctx.writes.record_outcome(ItemKind.GALLERY, gallery, failed=False, performers=found)
    ctx.info(f"{gallery.label}: performers {', '.join(sorted(found, key=int)) if found else 'none'}")
    return {"mode": args.mode, "galleryId": gallery.id, "performers": sorted(found, key=int), **tally.as_dict()}
