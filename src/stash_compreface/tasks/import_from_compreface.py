"""importFromCompreFace: CompreFace's subjects and their example images into the built-in engine's store,
so a user who leaves CompreFace keeps every person it knew."""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .subject_transfer import transfer_subjects


def import_from_compreface(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return transfer_subjects(ctx, args, source_engine="compreface", target_engine="builtin",
                             direction="import", title="Import subjects from CompreFace")
