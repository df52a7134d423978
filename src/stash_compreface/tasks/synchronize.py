"""synchronizePerformers: every performer with a real profile image becomes a CompreFace subject.

Order of writes matters for crash safety: the ``Person …`` alias is saved on the performer *before*
the subject is created, so a kill in between leaves an alias (reused next time), never an orphan
subject; a subject that already has examples is only tagged, never enrolled twice.
"""

from __future__ import annotations

import traceback
from typing import Any

from .. import imaging
from ..errors import CompreFaceError, FatalError, ItemError, Stopped, TooManyFaces
from ..faces.matching import order_faces
from ..faces.naming import person_alias, subject_name
from ..settings import TaskArgs
from ..stash.models import Performer
from .context import TaskContext
from .runner import Progress, Tally, run_pages


def _tag(ctx: TaskContext, performer: Performer, *, failed: bool) -> None:
    synced = ctx.tags.lookup(ctx.settings.synced_tag)
    error = ctx.tags.lookup(ctx.settings.error_tag)
    wanted = error if failed else synced
    add = [wanted] if wanted and wanted not in performer.tag_ids else []
    remove = [error] if not failed and error and error in performer.tag_ids else []
    if ctx.dry_run:
        if add or remove or wanted is None:
            ctx.info(f"dry run: {performer.label}: would tag it {'Error' if failed else 'Synced'}")
        return
    ctx.stash.update_performers([performer.id], add_tags=add, remove_tags=remove)


def _sync_one(ctx: TaskContext, performer: Performer, tally: Tally) -> None:
    alias = person_alias(performer.name, performer.aliases)
    if alias is None:
        alias = subject_name(performer.id, ctx.suffix())
        if ctx.dry_run:
            ctx.info(f"dry run: {performer.label}: would add alias {alias}")
        else:
            ctx.stash.update_performers([performer.id], add_aliases=[alias])
            ctx.debug(f"{performer.label}: added alias {alias}")
    if not ctx.dry_run and ctx.faces.count_examples(alias) > 0:
        ctx.debug(f"{performer.label}: subject {alias} already has examples")
        _tag(ctx, performer, failed=False)
        tally.add(skipped=1)
        return
    data = ctx.stash.download(performer.image_url, what="profile image")
    prepared = imaging.prepare(data)
    faces = order_faces(ctx.faces.detect(prepared.jpeg, min_probability=ctx.settings.min_confidence))
    if not faces:
        raise ItemError("no face found in the profile image")
    face = faces[0]
    if ctx.dry_run:
        ctx.info(f"dry run: {performer.label}: would add the largest of {len(faces)} face(s) to subject {alias}")
        tally.add(processed=1)
        return
    crop = imaging.encode_jpeg(imaging.crop(prepared.image, face.box.clamped(prepared.width, prepared.height)))
    try:
        ctx.faces.add_example(alias, crop)
    except TooManyFaces:
        tight = imaging.crop(prepared.image, face.box.clamped(prepared.width, prepared.height), pad=0.0)
        ctx.faces.add_example(alias, imaging.encode_jpeg(tight))
    _tag(ctx, performer, failed=False)
    tally.add(processed=1, created_subjects=1)
    ctx.info(f"{performer.label}: synced as subject {alias}"
             + (f" (largest of {len(faces)} faces)" if len(faces) > 1 else ""))


def synchronize_performers(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.faces.check()
    tally = Tally()
    synced = ctx.tags.lookup(ctx.settings.synced_tag)
    performer_filter = {"tags": {"value": [synced], "modifier": "EXCLUDES"}} if synced else {}
    # Performers have no id criterion to page by in every supported Stash, and there are few of them:
    # one snapshot query gives full coverage even as the run tags them.
    _, performers = ctx.stash.find_performers({"per_page": -1, "sort": "id", "direction": "ASC"},
                                              performer_filter)
    without_image = [p for p in performers if not p.has_image]
    todo = [p for p in performers if p.has_image]
    if args.limit:
        todo = todo[: args.limit]
    if without_image:
        ctx.info(f"{len(without_image)} performer(s) have no profile image and are skipped")
    ctx.info(f"Synchronize performers: {len(todo)} performer(s) to sync")
    progress = Progress(ctx)
    batch = ctx.settings.max_batch_size
    pages = ((len(todo), todo[start:start + batch]) for start in range(0, len(todo), batch))

    def work(performer: Performer) -> None:
        try:
            _sync_one(ctx, performer, tally)
        except (FatalError, Stopped):
            raise
        except (ItemError, CompreFaceError) as exc:
            _failed(ctx, performer, tally, str(exc))
        except Exception as exc:
            ctx.debug(traceback.format_exc())
            _failed(ctx, performer, tally, f"unexpected {type(exc).__name__}: {exc}")
        progress.step()

    run_pages(ctx, pages, work, progress=progress)
    ctx.progress(1.0)
    ctx.info(f"Synchronize performers finished: {tally.summary() or 'nothing to do'}")
    return {"mode": args.mode, **tally.as_dict()}


def _failed(ctx: TaskContext, performer: Performer, tally: Tally, reason: str) -> None:
    ctx.log("error", f"{performer.label} not synced: {reason}")
    tally.add(failed=1)
    try:
        _tag(ctx, performer, failed=True)
    except ItemError as exc:
        ctx.log("error", f"{performer.label}: could not tag it Error either: {exc}")
