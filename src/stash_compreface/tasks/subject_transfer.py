"""Copying subjects and their examples between CompreFace and the built-in engine.

Shared by importFromCompreFace and exportToCompreFace. Each example is copied once: the copy is recorded
in the state after it lands, so a rerun (or a run killed half way) copies only what is missing. A subject
is one item of the run; an example the target refuses (no face, several faces) is skipped with a warning,
because the other examples of that subject are still worth copying.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import CompreFaceError, MediaError
from ..faceservice import FaceService
from ..settings import TaskArgs
from .context import TaskContext
from .runner import Tally, run_items

Direction = Literal["import", "export"]


def transfer_subjects(ctx: TaskContext, args: TaskArgs, *, source: FaceService, target: FaceService,
                      direction: Direction, title: str) -> dict[str, Any]:
    source.check()
    target.check()
    subjects = source.list_subjects()
    if args.limit:
        subjects = subjects[: args.limit]
    tally = Tally()

    def copy(subject: str) -> None:
        copied = skipped = 0
        for example in source.list_examples(subject):
            ctx.check_stop()
            if ctx.state.transferred(direction, example.id):
                continue
            try:
                target_id = ctx.writes.add_example(subject, source.example_image(example.id),
                                                   why=f"example {example.id}", into=target)
            except (MediaError, CompreFaceError) as exc:
                ctx.warning(f"subject {subject}: example {example.id} not copied: {exc}")
                skipped += 1
                continue
            if target_id is not None:
                ctx.state.record_transfer(direction, example.id, target_id)
                copied += 1
        tally.add(processed=1, learned=copied, skipped=skipped)
        if copied:
            ctx.debug(f"subject {subject}: {copied} example(s) copied")

    batch = ctx.settings.max_batch_size
    pages = ((len(subjects), subjects[start:start + batch]) for start in range(0, len(subjects), batch))
    run_items(ctx, pages, copy, title=title, noun="subject", label=lambda subject: f"subject {subject}",
              mark_failed=lambda subject: None, tally=tally)
    return {"mode": args.mode, "subjects": tally.processed, "examples_copied": tally.learned,
            "examples_skipped": tally.skipped, "failed": tally.failed, "deferred": tally.deferred}
