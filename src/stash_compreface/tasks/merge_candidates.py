"""mergeCandidates: two (or more) unknown people on the review page are one person.

The most seen of the candidates given keeps its subject; each other one's faces are copied into it
(journalled ``example`` entries), its sightings are added to the keeper's (so naming the keeper later links
every item either was seen in), and it is retired and deleted from the face service, so its faces no longer
compete with the keeper's. One run, undoable: undoRun makes the merged subject again from the copies, takes
back the sightings the keeper gained and un-retires it (journal ``merged`` and ``retired`` entries). The
merged candidate is retired before its first face is copied: a run killed half way leaves it off the review
page with some faces copied (never a second subject or performer), and undoing that run gives everything
back as it was.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..faceservice import SubjectNotFound
from ..settings import TaskArgs
from .context import TaskContext
from .journal import SubjectMerged
from .name_candidate import RETIRED_MERGED, require_subjects
from .performers import PerformerDirectory
from .reject_candidate import retire


def _merge(ctx: TaskContext, subject: str, keeper: str) -> int:
    """Moves ``subject`` into ``keeper``; how many faces were copied."""
    retire(ctx, subject, RETIRED_MERGED)
    faces = ctx.face_service
    examples = faces.list_examples(subject) if subject in faces.list_subjects() else []
    copies = []
    for example in examples:
        ctx.check_stop()
        copy = ctx.writes.add_example(keeper, faces.example_image(example.id), why=f"a face of {subject} (merged)")
        if copy is not None:
            copies.append(copy)
    if ctx.writes.dry_run:
        return len(examples)
    moved = ctx.state.candidates.add_sightings(keeper, ctx.state.candidates.sightings(subject))
    deleted = bool(examples)
    if deleted:
        try:
            ctx.writes.delete_subject(subject)
        except SubjectNotFound:
            deleted = False
    ctx.journal.record(SubjectMerged(subject=subject, into=keeper, engine=ctx.settings.engine, copies=tuple(copies),
                                     sightings=tuple(moved), deleted=deleted))
    ctx.info(f"candidate {subject} merged into {keeper}: {len(copies)} face(s), {len(moved)} more sighting(s)")
    return len(copies)


def merge_candidates(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    subjects = require_subjects(ctx, args)
    if len(subjects) < 2:
        raise SettingError("mergeCandidates needs at least two subjects: the candidates that are one person",
                           setting="subjects")
    directory = PerformerDirectory(ctx)
    for subject in subjects:  # every refusal before the first write
        holder = directory.for_subject(subject)
        if holder is not None or ctx.state.retired.reason(subject) is not None:
            raise SettingError(f"subject {subject} is no open candidate (it belongs to performer {holder} or was "
                               "retired): merge only unknown people", setting="subjects")
    seen = {subject: len(ctx.state.candidates.sightings(subject)) for subject in subjects}
    keeper = max(subjects, key=lambda s: seen[s])  # the first given of the most seen
    copied = sum(_merge(ctx, subject, keeper) for subject in subjects if subject != keeper)
    return {"mode": args.mode, "subject": keeper, "merged": [s for s in subjects if s != keeper],
            "seen": len(ctx.state.candidates.sightings(keeper)), "facesCopied": copied,
            "dryRun": ctx.writes.dry_run}
