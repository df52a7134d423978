"""undoRun: revert what one run added, as recorded in its journal, once, and nothing the user or a later run did.

The run's entries revert themselves, newest first (``tasks/journal.py`` holds each kind's rule): links and
tags are removed with bulk REMOVE of exactly the ids the run added; examples the run added are deleted from
the face service, and subjects it created that end up empty with them. Before reverting, :func:`_decide`
settles each performer the run created or gave an alias:

- deleted, with its links, when it still looks as the run left it (name, aliases, tags, and image_path, whose
  ``?t=`` is Stash's updated_at) and holds no image or scene but those the run linked;
- kept whole otherwise (the user edited it, or a later run or the user linked it elsewhere): its links, its
  subject (the name the run created it under, even after a rename), its faces, alias and tags stay, or the
  next run would grow a second performer of the same face;
- gone (the user deleted it in Stash since): its subject keeps its faces and is retired, so no later run
  makes that face a performer again.

A performer the run deleted because its faces were another's (``PerformersMerged``) is re-created as it was,
under the new id Stash gives it, and linked to its images and scenes again; the log says which id it got.

Examples an import or export copied into the other engine are deleted from that engine, with the subjects
the run created there once empty, and their transfer records are forgotten so a later import or export copies
them again. A run already undone is not replayed: undoing it again changes nothing, whatever ran in between.
A run whose journal was trimmed (``journalRuns``) is refused, naming the setting.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import SettingError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from ..stash.models import ItemKind, Performer
from ..stash.queries import performer_items
from .context import TaskContext
from .journal import AliasAdded, Entry, ExampleAdded, Linked, PerformerCreated, PerformerSeen, Undo
from .performers import RETIRED_DELETED

COUNTS = ("unlinked", "untagged", "examplesDeleted", "subjectsDeleted", "performersDeleted", "aliasesRemoved",
          "performersRecreated")


def _linked_elsewhere(ctx: TaskContext, performer_id: str, linked: dict[ItemKind, set[str]]) -> str | None:
    """An image or scene that holds the performer although this run did not link it there (a later run or
    the user did), or None. One query per kind, the size of what the run linked."""
    for kind in (ItemKind.IMAGE, ItemKind.SCENE):
        ours = linked.get(kind, set())
        count, ids = performer_items(ctx.stash, kind, performer_id, len(ours) + 1)
        other = next((i for i in ids if i not in ours), None)
        if other is not None or count > len(ours):
            return f"{kind.value} {other}" if other else f"{count - len(ours)} other {kind.value}(s)"
    return None


def _subjects(created: str | None, aliases: set[str], performer: Performer | None) -> set[str]:
    """A performer's subjects as the undo keeps them: the name the run created it under and the aliases the
    run gave it (what the face service knows, whatever the performer is called now), and what it holds now."""
    now = (performer.name, *performer.aliases) if performer is not None else ()
    return {name.casefold() for name in (created or "", *aliases, *now) if name}


def _decide(ctx: TaskContext, undo: Undo, entries: list[Entry]) -> list[str]:
    """Which performers the run created are deleted, kept or gone, which subjects keep their faces, and which
    aliases were heals; notes for the user on what is kept."""
    seen = {e.performer_id: e for e in entries if isinstance(e, PerformerSeen)}  # the last one of each
    created = {e.performer_id: e.name for e in entries if isinstance(e, PerformerCreated)}
    aliases: dict[str, set[str]] = {}
    linked: dict[str, dict[ItemKind, set[str]]] = {}
    for entry in entries:
        if isinstance(entry, AliasAdded):
            aliases.setdefault(entry.performer_id, set()).add(entry.alias)
        elif isinstance(entry, Linked):
            for performer_id in entry.performers:
                linked.setdefault(performer_id, {}).setdefault(entry.item.kind, set()).add(entry.item.id)
    notes = []
    for performer_id in dict.fromkeys([*created, *aliases]):
        performer = ctx.stash.find_performer(performer_id)
        subjects = _subjects(created.get(performer_id), aliases.get(performer_id, set()), performer)
        if performer is None:
            undo.gone.add(performer_id)
            undo.kept_subjects |= subjects
            for subject in (created.get(performer_id), *aliases.get(performer_id, ())):
                if subject and ctx.state.retired.reason(subject) is None:
                    ctx.state.retired.add(subject, RETIRED_DELETED)
            notes.append(f"performer {performer_id} was deleted in Stash since the run: it stays deleted, and its "
                         "face stays known so that no run creates a performer of it again")
            continue
        if performer_id not in created:
            before = ctx.journal.created_name(performer_id)  # created under its subject by an earlier run
            undo.heals |= {(performer_id, a.casefold()) for a in aliases[performer_id]
                           if before is not None and before.casefold() == a.casefold()}
            continue
        last = seen.get(performer_id)
        why = ("edited since the run" if last is None or not last.unchanged(performer)
               else _why_linked(ctx, performer_id, linked.get(performer_id, {})))
        if why is None:
            undo.deletable.add(performer_id)
        else:
            undo.kept.add(performer_id)
            undo.kept_subjects |= subjects
            notes.append(f"performer {performer.id} ({performer.name}) was {why}: kept, with its links and faces")
    notes += _subjects_taught_since(ctx, undo, entries, created, aliases)
    undo.kept_items = {e.item for e in entries if isinstance(e, Linked) and not undo.kept.isdisjoint(e.performers)}
    return notes


def _why_linked(ctx: TaskContext, performer_id: str, linked: dict[ItemKind, set[str]]) -> str | None:
    other = _linked_elsewhere(ctx, performer_id, linked)
    return None if other is None else f"linked to {other} since the run (by a later run or by hand)"


def _subjects_taught_since(ctx: TaskContext, undo: Undo, entries: list[Entry], created: dict[str, str],
                           aliases: dict[str, set[str]]) -> list[str]:
    """Subjects this run created and led to a performer (its name or an alias) that hold faces the run did
    not add: a later run (or the user) taught and relies on them, so they keep their faces and alias, and a
    performer the run created for one is kept. Else that performer's face would come back as a stranger."""
    ours = Counter(e.subject for e in entries if isinstance(e, ExampleAdded) and e.example_id)
    held = {name.casefold(): performer_id for performer_id, name in created.items()}
    held |= {a.casefold(): performer_id for performer_id, names in aliases.items() for a in names}
    notes = []
    for subject in sorted({e.subject for e in entries if isinstance(e, ExampleAdded) and e.new_subject}):
        key = subject.casefold()
        if key not in held or key in undo.kept_subjects or held[key] in undo.gone:
            continue
        try:
            count = ctx.face_service.count_examples(subject)
        except FaceServiceError as exc:
            ctx.debug(f"subject {subject}: {exc}")
            continue
        if count <= ours[subject]:
            continue
        undo.kept_subjects.add(key)
        performer_id = held[key]
        if performer_id in undo.deletable:
            undo.deletable.discard(performer_id)
            undo.kept.add(performer_id)
        notes.append(f"subject {subject} learned {count - ours[subject]} face(s) after this run: kept, with its "
                     f"faces and its link to performer {performer_id}")
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
    counts = dict.fromkeys(COUNTS, 0)
    if run.undone:
        ctx.info(f"run {args.run_id} ({run.mode}) was already undone: nothing changed")
        return {"mode": args.mode, "runId": args.run_id, **counts}
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
    for note in notes + undo.notes:
        ctx.info(note)
    counts = {name: undo.counts[name] for name in COUNTS}
    ctx.info(f"undid run {args.run_id} ({run.mode}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return {"mode": args.mode, "runId": args.run_id, **counts}
