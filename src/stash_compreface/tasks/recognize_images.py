"""Batch image modes: recognizeImagesHQ/LQ and identifyImagesAll/New.

Each image ends in exactly one state: Error (with a logged reason, never Scanned), or Scanned, plus
Matched when a performer was linked. Tags and performers are written in one bulk ADD per image.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from typing import Any

from ..errors import FatalError, ItemError, Stopped
from ..settings import TaskArgs
from ..stash.models import Image
from .context import TaskContext
from .images import ImageRecognizer, ImageReport, Policy, policy_for
from .outcome import unscanned_filter, write_item_outcome
from .runner import Progress, Tally, image_pages, run_pages


def write_outcome(ctx: TaskContext, image: Image, report: ImageReport | None) -> bool:
    """The image's final state; returns whether a performer was linked."""
    found = set() if report is None else report.performer_ids
    write_item_outcome(ctx, label=image.label, item_id=image.id, tag_ids=image.tag_ids,
                       performer_ids=image.performer_ids, found=found, failed=report is None,
                       update=ctx.stash.update_images)
    return bool(found)


def describe_faces(report: ImageReport) -> str:
    parts = []
    for face in report.faces:
        who = face.subject or "unknown"
        if face.performer_id:
            who = f"{face.performer_name or face.subject} (performer {face.performer_id})"
        parts.append(f"#{face.index} {face.status}: {who}" + (f" [{face.reason}]" if face.reason else ""))
    return "; ".join(parts) if parts else "no faces"


def process_image(ctx: TaskContext, recognizer: ImageRecognizer, image: Image, tally: Tally) -> ImageReport | None:
    """Recognise, then write; an item failure is tagged Error and logged, and the run goes on."""
    try:
        report = recognizer.analyse(image)
    except (FatalError, Stopped):
        raise
    except ItemError as exc:
        _fail(ctx, image, tally, str(exc))
        return None
    except Exception as exc:  # a bug must cost one image, not the run
        ctx.debug(traceback.format_exc())
        _fail(ctx, image, tally, f"unexpected {type(exc).__name__}: {exc}")
        return None
    matched = write_outcome(ctx, image, report)
    tally.add(processed=1, matched=int(matched), linked=len(report.performer_ids - image.performer_ids))
    ctx.debug(f"{image.label}: {describe_faces(report)}")
    return report


def _fail(ctx: TaskContext, image: Image, tally: Tally, reason: str) -> None:
    ctx.log("error", f"{image.label} failed: {reason}")
    try:
        write_outcome(ctx, image, None)
    except ItemError as exc:
        ctx.log("error", f"{image.label}: could not tag it Error either: {exc}")
    tally.add(failed=1)


def run_images(ctx: TaskContext, args: TaskArgs, *, image_filter: dict[str, Any], policy: Policy,
               title: str) -> dict[str, Any]:
    tally = Tally()
    recognizer = ImageRecognizer(ctx, policy, tally)
    progress = Progress(ctx)

    def announced() -> Iterator[tuple[int, list[Image]]]:
        for number, (total, page) in enumerate(image_pages(ctx, image_filter, args.limit)):
            if number == 0:
                ctx.info(f"{title}: {total} image(s) to process")
            yield total, page

    def work(image: Image) -> None:
        process_image(ctx, recognizer, image, tally)
        progress.step()

    run_pages(ctx, announced(), work, progress=progress)
    ctx.progress(1.0)
    ctx.info(f"{title} finished: {tally.summary() or 'nothing to do'}")
    return {"mode": args.mode, **tally.as_dict()}


def recognize_hq(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=False, create="candidate", learn=True, track_sightings=True)
    return run_images(ctx, args, image_filter=unscanned_filter(ctx), policy=policy,
                      title="Recognize images (high quality)")


def recognize_lq(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=True, create="never", learn=True, track_sightings=True)
    return run_images(ctx, args, image_filter=unscanned_filter(ctx), policy=policy,
                      title="Recognize images (low quality)")


def identify_all(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=False, create="never", learn=False, track_sightings=False)
    return run_images(ctx, args, image_filter={}, policy=policy, title="Identify all images")


def identify_new(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.faces.check()
    policy = policy_for(ctx, relaxed=False, create="never", learn=False, track_sightings=False)
    return run_images(ctx, args, image_filter=unscanned_filter(ctx), policy=policy,
                      title="Identify unscanned images")
