"""undoRun: revert what one run added, as recorded in its journal, and nothing the user did.

Links and tags are removed with bulk REMOVE of exactly the ids the run added; examples the run added
are deleted from the face service, and subjects it created that end up empty with them; performers it
created are deleted only while they look as the run left them (name, aliases, tags, and image_path, whose
``?t=`` is Stash's updated_at): a performer the user edited since is kept. Examples an import or export
copied into the other engine are deleted from that engine, with the subjects the run created there once
empty, and their transfer records are forgotten so a later import or export copies them again. Running it
again does nothing.
"""

from __future__ import annotations

from typing import Any

from ..errors import CompreFaceError, SettingError
from ..settings import TaskArgs
from ..stash.models import ItemKind
from .context import TaskContext
from .state import JournalEntry


def _latest_states(entries: list[JournalEntry]) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.kind == "performer_state":
            states[entry.target] = entry.detail
    return states


def _deletable(ctx: TaskContext, entries: list[JournalEntry]) -> tuple[set[str], set[str], list[str]]:
    """Performers the run created that are unchanged since (deleted), the subjects of those the user edited
    (kept: their subjects keep the examples and aliases that make them recognisable, or a later run would
    grow a second performer of the same face), and notes on those kept."""
    states = _latest_states(entries)
    deletable: set[str] = set()
    kept_subjects: set[str] = set()
    kept: list[str] = []
    for entry in entries:
        if entry.kind != "performer":
            continue
        performer = ctx.stash.find_performer(entry.target)
        if performer is None:
            continue
        seen = states.get(entry.target)
        now = {"name": performer.name, "aliases": list(performer.aliases), "image_path": performer.image_url,
               "tags": sorted(performer.tag_ids)}
        if seen is not None and all(seen.get(key) == value for key, value in now.items()):
            deletable.add(entry.target)
        else:
            kept.append(f"performer {performer.id} ({performer.name}) was edited since the run: kept, with its "
                        "faces")
            kept_subjects |= {name.casefold() for name in (performer.name, *performer.aliases)}
    return deletable, kept_subjects, kept


def undo_run(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    mode = ctx.state.run_mode(args.run_id)
    if mode is None:
        raise SettingError(f"run {args.run_id} is not in the state file: nothing recorded to undo", setting="runId")
    entries = ctx.state.run_writes(args.run_id)
    counts = {"unlinked": 0, "untagged": 0, "examplesDeleted": 0, "subjectsDeleted": 0, "performersDeleted": 0,
              "aliasesRemoved": 0}
    deletable, kept_subjects, notes = _deletable(ctx, entries)
    emptied: set[tuple[str | None, str]] = set()  # (engine of a copy, or None for the task's own; subject)
    for entry in reversed(entries):
        ctx.check_stop()
        detail = entry.detail
        if entry.kind == "example" and detail.get("example_id"):
            if entry.target.casefold() in kept_subjects:
                continue
            try:
                ctx.writes.delete_example(str(detail["example_id"]), subject=entry.target)
                counts["examplesDeleted"] += 1
            except CompreFaceError as exc:
                ctx.debug(f"example {detail['example_id']} of {entry.target}: {exc}")
            if detail.get("item"):
                ctx.state.unclaim_example(entry.target, str(detail["item"]))
            if detail.get("new_subject"):
                emptied.add((None, entry.target))
        elif entry.kind == "copied_example":
            engine, example_id = str(detail["engine"]), str(detail["example_id"])
            try:
                ctx.writes.delete_example(example_id, subject=entry.target, service=ctx.engine(engine))
                counts["examplesDeleted"] += 1
            except CompreFaceError as exc:
                ctx.debug(f"example {example_id} of {entry.target} in the {engine} engine: {exc}")
            ctx.state.forget_transfer(str(detail["direction"]), str(detail["source_id"]), example_id)
            if detail.get("new_subject"):
                emptied.add((engine, entry.target))
        elif entry.kind == "link":
            kind = ItemKind(detail["kind"])
            performers = [p for p in detail.get("performers", []) if p not in deletable]
            tags = list(detail.get("tags", []))
            if detail.get("maybe_tags") and not ctx.state.linked_by_other_runs(entry.target, entry.run_id):
                # Matched came with a promotion's link; no other run linked a performer here, so it was ours
                # (performers the user added by hand never set Matched).
                tags += detail["maybe_tags"]
            ctx.writes.remove_from_items(kind, [detail["item"]], tags=tags, performers=performers)
            counts["unlinked"] += len(detail.get("performers", []))
            counts["untagged"] += len(tags)
        elif (entry.kind == "alias" and entry.target not in deletable
              and detail["alias"].casefold() not in kept_subjects):
            ctx.writes.remove_from_performers([entry.target], aliases=[detail["alias"]])
            ctx.state.clear_promotion(detail["alias"])  # the subject is a candidate again
            counts["aliasesRemoved"] += 1
        elif entry.kind == "performer_tags" and entry.target not in deletable:
            ctx.writes.remove_from_performers([entry.target], tags=detail.get("tags", []))
        elif entry.kind == "performer" and entry.target in deletable:
            ctx.writes.destroy_performer(entry.target)
            ctx.state.clear_promotions_of(entry.target)  # its subjects are candidates again
            counts["performersDeleted"] += 1
    for copied_into, subject in sorted(emptied, key=lambda pair: (pair[0] or "", pair[1])):
        try:
            faces = ctx.face_service if copied_into is None else ctx.engine(copied_into)
            if faces.count_examples(subject) == 0:
                ctx.writes.delete_subject(subject, service=None if copied_into is None else faces)
                counts["subjectsDeleted"] += 1
        except CompreFaceError as exc:
            ctx.debug(f"subject {subject}: {exc}")
    ctx.state.mark_undone(args.run_id)
    for note in notes:
        ctx.info(note)
    ctx.info(f"undid run {args.run_id} ({mode}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return {"mode": args.mode, "runId": args.run_id, **counts}
