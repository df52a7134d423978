"""rejectCandidate: a candidate that must never become a performer (a stranger, a poster, a bad crop).

It is retired in the state, off the review page: no run promotes it, and since its subject stays in the face
service with its faces, a later face of that stranger is recognised as the retired subject instead of
starting a new candidate. Nothing is deleted, so the rejection is undoable (undoRun un-retires it, journal
``retired`` entry). Several candidates at once (``subjects``) are one run; rerunning changes nothing.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from .context import TaskContext
from .journal import CandidateRetired
from .name_candidate import require_subjects
from .performers import RETIRED_REJECTED, PerformerDirectory


def retire(ctx: TaskContext, subject: str, reason: str) -> bool:
    """Retire ``subject`` for ``reason`` (journalled, so undoRun gives it back); False when it already was, or in
    a dry run (which says what it would do)."""
    previous = ctx.state.retired.reason(subject)
    if previous == reason:
        return False
    if ctx.writes.dry_run:
        ctx.info(f"dry run: would retire candidate {subject} ({reason})")
        return False
    ctx.state.retired.add(subject, reason)
    ctx.journal.record(CandidateRetired(subject=subject, reason=reason, previous=previous or ""))
    return True


def reject_candidate(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    subjects = require_subjects(ctx, args, allow_rejected=True)
    directory = PerformerDirectory(ctx)
    for subject in subjects:  # every refusal before the first write
        holder = directory.for_subject(subject)
        if holder is not None:
            raise SettingError(f"subject {subject} already belongs to performer {holder}: delete that performer or "
                               "remove the subject from its aliases in Stash before rejecting it", setting="subject")
    rejected = [subject for subject in subjects if retire(ctx, subject, RETIRED_REJECTED)]
    if rejected:
        ctx.info(f"rejected {len(rejected)} candidate(s): {', '.join(rejected)}; they never become performers "
                 "(undo the run to review them again)")
    return {"mode": args.mode, "subject": subjects[0], "subjects": subjects, "rejected": True,
            "newlyRejected": rejected, "dryRun": ctx.writes.dry_run}
