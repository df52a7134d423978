"""exportToCompreFace: the built-in engine's subjects and their example crops into CompreFace, so a user who
moves to CompreFace keeps every person the plugin learned."""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .subject_transfer import transfer_subjects


def export_to_compreface(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return transfer_subjects(ctx, args, source_engine="builtin", target_engine="compreface",
                             direction="export", title="Export subjects to CompreFace")
