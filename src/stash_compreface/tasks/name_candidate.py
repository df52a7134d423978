"""nameCandidate: a recurring unknown face becomes a performer with the name the user typed.

The subject stays the performer's ``Person …`` alias, so the link survives any later rename, and every
image and scene the candidate was seen in is linked at once. Running it again changes nothing: the
subject already leads to a performer of that name. A performer of that exact name that already exists
is given the subject instead of a second performer being created (which also completes a run killed
between "create" and "add alias").
"""

from __future__ import annotations

from typing import Any

from ..errors import ItemError, SettingError
from ..faces.naming import is_subject_name
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from ..stash.models import Performer
from .context import TaskContext
from .performers import RETIRED_REJECTED, PerformerDirectory, split_items

RETIRED_MERGED = "merged"  # mergeCandidates: its faces and sightings went to another candidate


def _checked(ctx: TaskContext, subject: str, allow_rejected: bool) -> str:
    reason = ctx.state.retired.reason(subject)
    if reason == RETIRED_REJECTED and not allow_rejected:
        raise SettingError(f"subject {subject} was rejected (rejectCandidate): undo that run on the review page to "
                           "make it a candidate again", setting="subject")
    if reason == RETIRED_MERGED:
        raise SettingError(f"subject {subject} was merged into another candidate (mergeCandidates): act on that "
                           "one, or undo the merge", setting="subject")
    if reason is None and not ctx.state.candidates.exists(subject) and subject not in ctx.face_service.list_subjects():
        raise SettingError(f"subject {subject} is neither a candidate nor a subject of the face service",
                           setting="subject")
    return subject


def require_subject(ctx: TaskContext, args: TaskArgs, *, allow_rejected: bool = False) -> str:
    """The ``subject`` argument (the mode requires it: tasks.modes), checked to be a subject the plugin knows
    (a candidate or a face-service subject); a rejected one only when ``allow_rejected`` (rerunning
    rejectCandidate), a merged one never."""
    return require_subjects(ctx, args, allow_rejected=allow_rejected)[0]


def require_subjects(ctx: TaskContext, args: TaskArgs, *, allow_rejected: bool = False) -> list[str]:
    """``subjects`` (the review page's bulk selection) or ``subject``, each checked as :func:`require_subject`
    says, all before any write: one unknown subject refuses the whole run."""
    subjects = list(args.subjects) or [args.subject]
    return [_checked(ctx, subject, allow_rejected) for subject in subjects]


def link_output(ctx: TaskContext, args: TaskArgs, subjects: list[str], performer: Performer, *,
                created: bool) -> dict[str, Any]:
    items = {item for subject in subjects for item in ctx.state.candidates.sightings(subject)}
    images, scenes = split_items(items)
    return {"mode": args.mode, "subject": subjects[0], "subjects": subjects,
            "performer": {"id": performer.id, "name": performer.name}, "created": created,
            "linkedImages": len(images), "linkedScenes": len(scenes), "dryRun": ctx.writes.dry_run}


def give_subject(ctx: TaskContext, directory: PerformerDirectory, subject: str, performer: Performer) -> Performer:
    """Make ``subject`` an alias of ``performer`` (unless it already is), lift any retirement, and link the
    candidate's sightings to it."""
    performer = directory.hold(performer, subject)
    ctx.state.retired.remove(subject)
    directory.link_sightings(subject, performer.id)
    return performer


def _profile_image(ctx: TaskContext, subject: str) -> bytes:
    """The subject's first example face, as the new performer's image."""
    try:
        examples = ctx.face_service.list_examples(subject)
        if examples:
            return ctx.face_service.example_image(examples[0].id)
    except FaceServiceError as exc:
        raise ItemError(f"could not read an example face of subject {subject}: {exc}") from exc
    raise ItemError(f"subject {subject} has no example face in the face service: nothing to make a performer of")


def name_candidate(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    """One performer of that name for every subject given (the review page's bulk Name: the user saw they
    are one person): the first is named, the others become its aliases too. One run."""
    subjects = require_subjects(ctx, args)
    name = args.name
    if is_subject_name(name):
        raise SettingError(f"name {name!r} has the form of a subject (Person …): type the person's name",
                           setting="name")
    directory = PerformerDirectory(ctx)
    holders = {subject: directory.for_subject(subject) for subject in subjects}
    performer: Performer | None = None
    for subject, holder in holders.items():
        if holder is None:
            continue
        current = ctx.stash.find_performer(holder)
        if current is None or current.name.casefold() != name.casefold():
            shown = current.name if current else "?"
            raise SettingError(f"subject {subject} already belongs to performer {holder} ({shown}): rename that "
                               "performer in Stash instead (keep the subject as its alias)", setting="subject")
        performer = current
    created = False
    if performer is None:
        first = subjects[0]
        result = directory.named_performer(name, lambda: _profile_image(ctx, first), None)
        if result is None:  # dry run
            return {"mode": args.mode, "subject": first, "subjects": subjects, "performer": None,
                    "created": False, "dryRun": True}
        performer, created = result
    for subject in subjects:
        performer = give_subject(ctx, directory, subject, performer)
    return link_output(ctx, args, subjects, performer, created=created)
