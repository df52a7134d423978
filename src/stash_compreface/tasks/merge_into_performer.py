"""mergeIntoPerformer: a candidate turns out to be a performer the user already has.

Its subject becomes one more ``Person …`` alias of that performer (a performer may hold several, and each
leads to it), and every image and scene the candidate was seen in is linked. Several candidates at once
(``subjects``, the review page's bulk selection) are one run. Idempotent.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from .context import TaskContext
from .name_candidate import give_subject, link_output, require_subjects
from .performers import PerformerDirectory, find_performer


def merge_into_performer(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    subjects = require_subjects(ctx, args)
    performer = find_performer(ctx, args.performer_id)
    directory = PerformerDirectory(ctx)
    for subject in subjects:  # every refusal before the first write
        holder = directory.for_subject(subject)
        if holder is not None and holder != performer.id:
            raise SettingError(f"subject {subject} already belongs to performer {holder} "
                               f"({directory.name_of(holder) or '?'}): remove it from that performer's aliases "
                               "first", setting="subject")
    for subject in subjects:
        performer = give_subject(ctx, directory, subject, performer)
    return link_output(ctx, args, subjects, performer, created=False)
