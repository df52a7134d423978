"""undoRun: revert what one run added, as recorded in its journal, and nothing the user did.

The run's entries revert themselves, newest first (``tasks/journal.py`` holds each kind's rule): links and
tags are removed with bulk REMOVE of exactly the ids the run added; examples the run added are deleted from
the face service, and subjects it created that end up empty with them; performers it created are deleted
only while they look as the run left them (name, aliases, tags, and image_path, whose ``?t=`` is Stash's
updated_at): a performer the user edited since is kept, with its subject and faces. Examples an import or
export copied into the other engine are deleted from that engine, with the subjects the run created there
once empty, and their transfer records are forgotten so a later import or export copies them again. Running
it again does nothing more. A run whose journal was trimmed (``journalRuns``) is refused, naming the setting.
"""

from __future__ import annotations

from typing import Any

from ..errors import SettingError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .journal import Entry, Linked, PerformerCreated, PerformerSeen, Undo

COUNTS = ("unlinked", "untagged", "examplesDeleted", "subjectsDeleted", "performersDeleted", "aliasesRemoved")


def _decide(ctx: TaskContext, undo: Undo, entries: list[Entry]) -> list[str]:
    """Which performers the run created are unchanged since (deleted) and which the user edited (kept, and
    their names kept as subjects); notes on those kept."""
    seen = {e.performer_id: e for e in entries if isinstance(e, PerformerSeen)}  # the last one of each
    notes = []
    for entry in entries:
        if not isinstance(entry, PerformerCreated):
            continue
        performer = ctx.stash.find_performer(entry.performer_id)
        if performer is None:
            continue
        last = seen.get(entry.performer_id)
        if last is not None and last.unchanged(performer):
            undo.deletable.add(entry.performer_id)
        else:
            notes.append(f"performer {performer.id} ({performer.name}) was edited since the run: kept, with its faces")
            undo.kept_subjects |= {name.casefold() for name in (performer.name, *performer.aliases)}
    return notes


def undo_run(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    run = ctx.journal.run(args.run_id)
    if run is None:
        raise SettingError(f"run {args.run_id} is not in the state file: nothing recorded to undo", setting="runId")
    library = ctx.state.runs.library_of(args.run_id)
    if library and ctx.state.library and library != ctx.state.library:
        raise SettingError(f"run {args.run_id} was recorded for another Stash library (database {library}), not this "
                           f"one ({ctx.state.library}): nothing undone. Undo it from the Stash it ran on",
                           setting="runId")
    if run.trimmed:
        raise SettingError(f"run {args.run_id} ({run.mode}) can no longer be undone: its journal was trimmed, as the "
                           f"state keeps the undo journal of the last {ctx.settings.journal_runs} runs only. Raise "
                           "journalRuns to keep more runs undoable", setting="journalRuns")
    entries = ctx.journal.entries(args.run_id)
    undo = Undo(writes=ctx.writes, state=ctx.state, engine=ctx.engine, debug=ctx.debug)
    notes = _decide(ctx, undo, entries)
    if any(isinstance(e, Linked) and e.maybe_tags for e in entries):
        undo.linked_elsewhere = ctx.journal.linked_elsewhere(args.run_id)
    for entry in reversed(entries):
        ctx.check_stop()
        entry.revert(undo)
    for copied_into, subject in sorted(undo.emptied, key=lambda pair: (pair[0] or "", pair[1])):
        try:
            faces = ctx.face_service if copied_into is None else ctx.engine(copied_into)
            if faces.count_examples(subject) == 0:
                ctx.writes.delete_subject(subject, service=None if copied_into is None else faces)
                undo.counts["subjectsDeleted"] += 1
        except FaceServiceError as exc:
            ctx.debug(f"subject {subject}: {exc}")
    ctx.journal.mark_undone(args.run_id)
    for note in notes:
        ctx.info(note)
    counts = {name: undo.counts[name] for name in COUNTS}
    ctx.info(f"undid run {args.run_id} ({run.mode}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return {"mode": args.mode, "runId": args.run_id, **counts}
