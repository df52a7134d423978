"""Task modes: ``run`` one by its name. What each mode is (its handler, required arguments, whether it
needs the face service, whether it writes, whether Settings > Tasks lists it) is declared in ``tasks.modes``,
the one place where Stash's camelCase mode strings appear."""

from __future__ import annotations

import contextlib
from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .modes import LISTED, MODES, OPERATIONS, UNJOURNALLED, Mode, Need, Task, task_for
from .runner import DRY_RUN_SUMMARY, RunChanges

__all__ = ["LISTED", "MODES", "OPERATIONS", "UNJOURNALLED", "Mode", "Need", "Task", "run", "run_changes",
           "task_for"]


def run(mode: str, ctx: TaskContext, args: TaskArgs) -> Any:
    """Run the mode; a run that writes gets a journal, and its id is the output's ``runId`` (for undoRun).

    A journalled run ends with one info line that says what changed in Stash, the run's number and how to
    undo it (:meth:`RunChanges.summary`), and the same counts as the output's ``changes``. A run that fails
    half way says what it changed before its error, so its partial writes can be undone.
    """
    task = task_for(mode)
    ctx.mode = mode
    if mode in UNJOURNALLED:
        return task(ctx, args)
    ctx.journal.begin(mode)  # the run itself is opened by its first write: a look that writes nothing gets none
    try:
        output = task(ctx, args)
    except BaseException:
        with contextlib.suppress(Exception):  # the error itself is what the user must see
            changes = run_changes(ctx)
            if changes is not None and changes.parts():
                ctx.info(changes.summary(ctx.run_id, ended="ended early"))
        raise
    changes = run_changes(ctx)
    # A look from the UI (an operation that changed nothing) is not a run the user needs to read about.
    quiet = mode in OPERATIONS and changes is not None and not changes.parts()
    ctx.log("debug" if quiet else "info", DRY_RUN_SUMMARY if changes is None else changes.summary(ctx.run_id))
    if isinstance(output, dict):
        output = {**output, "runId": ctx.run_id,
                  "changes": {"dryRun": True} if changes is None else changes.as_dict()}
    return output


def run_changes(ctx: TaskContext) -> RunChanges | None:
    """What this run changed, from its journal; None in a dry run (nothing was written)."""
    if ctx.writes.dry_run:
        return None
    entries = ctx.journal.entries(ctx.run_id) if ctx.run_id is not None else []
    return RunChanges.of(entries, removed=ctx.writes.removed, waiting=ctx.state.candidates.open_count())
