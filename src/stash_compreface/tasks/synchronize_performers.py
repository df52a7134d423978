"""synchronizePerformers: every performer with a real profile image becomes a face-service subject.

Order of writes matters for crash safety: the ``Person …`` alias is saved on the performer *before*
the subject is created, so a kill in between leaves an alias (reused next time), never an orphan
subject; a subject that already has examples is only tagged, never enrolled twice. The performer is
read again just before an alias is added, so two runs (or a run and the user) never give it two.
"""

from __future__ import annotations

from typing import Any

from .. import imaging
from ..errors import ItemError
from ..faces.matching import order_faces
from ..settings import TaskArgs
from ..stash.models import Performer
from ..stash.queries import performers_without_tag
from .context import TaskContext
from .enrolment import Enrolment, FaceCrop
from .performers import PerformerDirectory
from .runner import Tally, run_items


def _sync_one(ctx: TaskContext, directory: PerformerDirectory, enrolment: Enrolment, performer: Performer,
              tally: Tally) -> None:
    alias = directory.own_subject(performer)
    faces_service = ctx.face_service
    if faces_service.count_examples(alias) > 0:
        ctx.debug(f"{performer.label}: subject {alias} already has examples")
        ctx.writes.tag_performer(performer, failed=False)
        tally.add(skipped=1)
        return
    with ctx.stash.download(performer.image_url, what="profile image") as media:
        prepared = imaging.prepare(media)
    faces = order_faces(faces_service.detect(prepared.jpeg, min_probability=ctx.settings.min_confidence_score))
    if not faces:
        raise ItemError("no face found in the profile image")
    box = faces[0].box.clamped(prepared.width, prepared.height)
    face = FaceCrop.cut(f"the profile image of {performer.label}", prepared.image, box)
    # The subject had no example: this one creates it (undoRun deletes it once empty, and knows later runs'
    # faces in it from the run's own).
    added = enrolment.add_example(alias, face, why=f"the largest of {len(faces)} face(s) in {face.what}",
                                  new_subject=True)
    ctx.writes.tag_performer(performer, failed=False)
    tally.add(processed=1, created_subjects=int(added is not None))
    if added is not None:
        ctx.info(f"{performer.label}: synced as subject {alias}"
                 + (f" (largest of {len(faces)} faces)" if len(faces) > 1 else ""))


def synchronize_performers(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    tally = Tally()
    directory = PerformerDirectory(ctx)
    enrolment = Enrolment(ctx, tally)
    performers = performers_without_tag(ctx.stash, ctx.tag_id(ctx.settings.synced_tag))
    without_image = [p for p in performers if not p.has_image]
    todo = [p for p in performers if p.has_image]
    if args.limit:
        todo = todo[: args.limit]
    if without_image:
        ctx.info(f"{len(without_image)} performer(s) have no profile image and are skipped")
    batch = ctx.settings.max_batch_size
    pages = ((len(todo), todo[start:start + batch]) for start in range(0, len(todo), batch))
    run_items(ctx, pages, lambda performer: _sync_one(ctx, directory, enrolment, performer, tally),
              title="Synchronize performers", noun="performer", label=lambda performer: performer.label,
              mark_failed=lambda performer: ctx.writes.tag_performer(performer, failed=True), tally=tally)
    return {"mode": args.mode, **tally.as_dict()}
