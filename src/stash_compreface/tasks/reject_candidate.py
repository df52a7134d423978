"""rejectCandidate: a candidate that must never become a performer (a stranger, a poster, a bad crop).

It is retired in the state first, so no run promotes it even if the deletion below fails, then its
subject is deleted from the face service, so its faces stop matching it. Rerunning finishes a deletion
that failed and otherwise changes nothing.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..faceservice import SubjectNotFound
from ..settings import TaskArgs
from .context import TaskContext
from .name_candidate import require_subject
from .performers import RETIRED_REJECTED, PerformerDirectory


def reject_candidate(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    subject = require_subject(ctx, args, allow_rejected=True)
    holder = PerformerDirectory(ctx).for_subject(subject)
    if holder is not None:
        raise SettingError(f"subject {subject} already belongs to performer {holder}: delete that performer or "
                           "remove the subject from its aliases in Stash before rejecting it", setting="subject")
    ctx.state.retired.add(subject, RETIRED_REJECTED)
    deleted = subject in ctx.face_service.list_subjects()
    if deleted:
        try:
            ctx.writes.delete_subject(subject)
        except SubjectNotFound:
            deleted = False
        ctx.info(f"rejected candidate {subject}: deleted from the face service; it never becomes a performer")
    return {"mode": args.mode, "subject": subject, "rejected": True, "deletedSubject": deleted,
            "dryRun": ctx.writes.dry_run}
