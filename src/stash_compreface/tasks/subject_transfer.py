"""Copying subjects and their examples between CompreFace and the built-in engine.

Shared by importFromCompreFace and exportToCompreFace. Each example is copied once: the copy is recorded
in the state after it lands, so a rerun (or a run killed half way) copies only what is missing. A subject
is one item of the run; an example the target refuses (no face, several faces) is skipped with a warning,
because the other examples of that subject are still worth copying.

Every copy is journalled with the engine it landed in, so undoRun of the run deletes the copies from that
engine (and the subjects the run created there, once empty) and forgets their transfer records.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import MediaError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .runner import Tally, run_items

Direction = Literal["import", "export"]


def transfer_subjects(ctx: TaskContext, args: TaskArgs, *, source_engine: str, target_engine: str,
                      direction: Direction, title: str) -> dict[str, Any]:
    """Copy from engine ``source_engine`` into ``target_engine`` ("compreface" or "builtin").

    With no CompreFace set up (no recognitionApiKey, the default) there is nothing to copy from or to: the
    run says which settings to fill in and ends without error, so the listed task can always be clicked.
    """
    if not ctx.settings.recognition_api_key:
        where = "nothing to import" if direction == "import" else "nowhere to export to"
        ctx.warning(f"{title}: CompreFace is not set up (recognitionApiKey is empty), so there is {where}. Set "
                    "comprefaceUrl and recognitionApiKey to the address and recognition API key of your CompreFace")
        return {"mode": args.mode, "subjects": 0, "examples_copied": 0, "examples_skipped": 0, "failed": 0,
                "deferred": 0}
    source, target = ctx.engine(source_engine), ctx.engine(target_engine)
    source.check()
    target.check()
    subjects = source.list_subjects()
    if args.limit:
        subjects = subjects[: args.limit]
    existing = {s.casefold() for s in target.list_subjects()}  # CompreFace matches names case-insensitively
    tally = Tally()

    def copy(subject: str) -> None:
        copied = skipped = 0
        for example in source.list_examples(subject):
            ctx.check_stop()
            if ctx.state.transfers.done(direction, example.id):
                continue
            try:
                target_id = ctx.writes.copy_example(subject, source.example_image(example.id), into=target,
                                                    engine=target_engine, direction=direction,
                                                    source_id=example.id,
                                                    new_subject=subject.casefold() not in existing)
            except (MediaError, FaceServiceError) as exc:
                ctx.warning(f"subject {subject}: example {example.id} not copied: {exc}")
                skipped += 1
                continue
            if target_id is not None:
                ctx.state.transfers.record(direction, example.id, target_id)
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
