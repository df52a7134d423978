"""The undo journal: what each run added, one typed entry per write, each entry able to revert itself.

The writer (``tasks/writes.py``) records an entry after each write that succeeded, so the journal never
claims what Stash or the face engine does not hold. undoRun reverts a run's entries newest first; the run's
closing summary (``runner.RunChanges``), the review page's run links and rejectMatch/confirmMatch read them
too. Every reader goes through the classes here: how an entry is stored (a kind, a target, a compact JSON
detail in the state file's ``run_writes``) is known to this module only.

Each kind, as stored, its class, what the run added, and the target it is filed under:

- ``link`` :class:`Linked`: performers linked to an item, with the tags that came with them (``image:12``);
- ``tags`` :class:`Tagged`: the plugin's tags on an item, no performer (``scene:3``);
- ``performer`` :class:`PerformerCreated`: a performer (its id);
- ``performer_state`` :class:`PerformerSeen`: how a performer it created looked after its writes (its id);
- ``alias`` :class:`AliasAdded`: an alias on a performer (its id);
- ``performer_tags`` :class:`PerformerTagged`: tags on a performer (its id);
- ``example`` :class:`ExampleAdded`: an example learned by the task's face engine (the item it came from);
- ``copied_example`` :class:`ExampleCopied`: an example copied into the other engine (the subject);
- ``retired`` :class:`CandidateRetired`: a candidate rejected or merged away, kept (the subject);
- ``subject_merged`` :class:`SubjectMerged`: a candidate's faces and sightings moved into another (the subject);
- ``example_removed`` :class:`ExampleRemoved`: a face removed from a subject, its bytes kept (the subject);
- ``performers_merged`` :class:`PerformersMerged`: a performer deleted because its faces are another's (the one kept):
  the deleted one's name, aliases, image and items, so undoRun re-creates it (under a new id) and links it back.

The undo rules (:class:`Undo`): exactly what the run added is removed (bulk REMOVE of its ids), so the
user's later edits stay. A performer the run created is deleted only while it still looks as the run left
it and holds no item but those the run linked; one the user edited, or that a later run or the user linked
elsewhere, is *kept*: with its links, its subject (the name the run created it under, whatever it is called
now), the faces learned for it, its alias and tags (else a later run would grow a second performer of the
same face). A performer the user deleted in Stash stays deleted: its subject keeps its faces and is retired,
so no run makes a performer of that face again. Undoing a promotion makes the subject a candidate again,
except when the alias only put back a link the state already knew (a renamed performer's subject, see
``tasks/performers.py``). A subject the run created that a later run kept teaching stays, with its alias.
Copied examples are deleted from the engine they went into and their transfer forgotten. A run is undone
once: undoing it again changes nothing, whatever ran in between.

A run is opened at its first write (:meth:`Journal.open`), so a look that writes nothing gets no run and
no ``runId``. Retention: opening a run deletes the entries of the runs before the newest ``journalRuns``
(this one included); those runs stay known as trimmed, and undoing one is refused, naming the setting.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from ..faceservice import FaceService, FaceServiceError
from ..stash.models import ItemRef, Performer
from .state import StateStore
from .state.runs import Runs

if TYPE_CHECKING:
    from .writes import Writes


def _ids(values: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _compact(**fields: Any) -> dict[str, Any]:
    """The detail as stored: empty and false fields left out (a journal may hold a library's worth)."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in fields.items()
            if value not in (None, False, (), "")}


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One write of a run. Subclasses say what they store (:attr:`target`, :meth:`detail`) and read it back
    (:meth:`parse`), and how undoRun reverts them (:meth:`revert`; a record only read by others reverts
    nothing)."""

    KIND: ClassVar[str]

    @property
    def target(self) -> str:
        raise NotImplementedError

    def detail(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    def revert(self, undo: Undo) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class _OnItem(Entry):
    """Tags (and, for :class:`Linked`, performers) the run added to one image, scene or gallery."""

    item: ItemRef
    performers: tuple[str, ...] = ()  # performer ids (Linked only)
    tags: tuple[str, ...] = ()  # added to an item that was read first: they were not there before
    maybe_tags: tuple[str, ...] = ()  # added without reading the item (a promotion's links): maybe already there
    removed_tags: tuple[str, ...] = ()  # removed just before (an earlier Unidentified); undo does not restore them

    @property
    def target(self) -> str:
        return str(self.item)

    def detail(self) -> dict[str, Any]:
        return _compact(performers=self.performers, tags=self.tags, maybe_tags=self.maybe_tags,
                        removed_tags=self.removed_tags)

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(item=ItemRef.parse(target), performers=_ids(detail.get("performers")),
                   tags=_ids(detail.get("tags")), maybe_tags=_ids(detail.get("maybe_tags")),
                   removed_tags=_ids(detail.get("removed_tags")))

    def revert(self, undo: Undo) -> None:
        # A deletable performer's links go with it; a kept one keeps them; a deleted one has none left.
        performers = [p for p in self.performers if p not in undo.untouched]
        tags: list[str] = []
        if self.item not in undo.kept_items:  # else the item stays Scanned and Matched with its kept performer
            tags = list(self.tags)
            if self.maybe_tags and self.item not in undo.linked_elsewhere:
                # Matched came with a promotion's link; no other run linked a performer here, so it was ours
                # (performers the user added by hand never set Matched).
                tags += self.maybe_tags
        undo.writes.remove_from_items(self.item.kind, [self.item.id], tags=tags, performers=performers)
        undo.counts["unlinked"] += len(performers) + sum(p in undo.deletable for p in self.performers)
        undo.counts["untagged"] += len(tags)


@dataclass(frozen=True, kw_only=True)
class Tagged(_OnItem):
    """The plugin's tags on an item where no performer was linked (Scanned, Unidentified, Error)."""

    KIND = "tags"


@dataclass(frozen=True, kw_only=True)
class Linked(_OnItem):
    """Performers linked to an item, with the tags that came with them (Matched)."""

    KIND = "link"


def on_item(item: ItemRef, *, performers: Iterable[str], tags: Iterable[str], tags_certain: bool,
            removed: Iterable[str]) -> Tagged | Linked:
    """The entry of one item's additions: :class:`Linked` when a performer came with them."""
    certain, maybe = (tuple(tags), ()) if tags_certain else ((), tuple(tags))
    cls = Linked if (linked := tuple(performers)) else Tagged
    return cls(item=item, performers=linked, tags=certain, maybe_tags=maybe, removed_tags=tuple(removed))


@dataclass(frozen=True, kw_only=True)
class PerformerCreated(Entry):
    KIND = "performer"
    performer_id: str
    name: str

    @property
    def target(self) -> str:
        return self.performer_id

    def detail(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(performer_id=target, name=str(detail.get("name", "")))

    def revert(self, undo: Undo) -> None:
        if self.performer_id in undo.deletable:
            undo.writes.destroy_performer(self.performer_id)
            undo.state.promotions.reopen_performer(self.performer_id)  # its subjects are candidates again
            undo.counts["performersDeleted"] += 1


@dataclass(frozen=True, kw_only=True)
class PerformerSeen(Entry):
    """A performer this run created, as it was after the run's own writes: undoRun deletes it only while it
    still looks like this (Stash's image_path carries updated_at, so any edit changes it)."""

    KIND = "performer_state"
    performer_id: str
    name: str
    aliases: tuple[str, ...]
    image_path: str
    tags: tuple[str, ...]

    @classmethod
    def of(cls, performer: Performer) -> PerformerSeen:
        return cls(performer_id=performer.id, name=performer.name, aliases=tuple(performer.aliases),
                   image_path=performer.image_url, tags=tuple(sorted(performer.tag_ids)))

    def unchanged(self, now: Performer) -> bool:
        return self == PerformerSeen.of(now)

    @property
    def target(self) -> str:
        return self.performer_id

    def detail(self) -> dict[str, Any]:
        # every field, empty ones included: a missing one would read back as "unchanged"
        return {"name": self.name, "aliases": list(self.aliases), "image_path": self.image_path,
                "tags": list(self.tags)}

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(performer_id=target, name=str(detail.get("name")), aliases=_ids(detail.get("aliases")),
                   image_path=str(detail.get("image_path")), tags=_ids(detail.get("tags")))


@dataclass(frozen=True, kw_only=True)
class AliasAdded(Entry):
    KIND = "alias"
    performer_id: str
    alias: str

    @property
    def target(self) -> str:
        return self.performer_id

    def detail(self) -> dict[str, Any]:
        return {"alias": self.alias}

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(performer_id=target, alias=str(detail["alias"]))

    def revert(self, undo: Undo) -> None:
        if self.performer_id in undo.untouched or self.alias.casefold() in undo.kept_subjects:
            return
        undo.writes.remove_from_performers([self.performer_id], aliases=[self.alias])
        if (self.performer_id, self.alias.casefold()) not in undo.heals:
            undo.state.promotions.reopen(self.alias)  # the subject is a candidate again
        undo.counts["aliasesRemoved"] += 1


@dataclass(frozen=True, kw_only=True)
class PerformerTagged(Entry):
    KIND = "performer_tags"
    performer_id: str
    tags: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.performer_id

    def detail(self) -> dict[str, Any]:
        return {"tags": list(self.tags)}

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(performer_id=target, tags=_ids(detail.get("tags")))

    def revert(self, undo: Undo) -> None:
        if self.performer_id not in undo.untouched:
            undo.writes.remove_from_performers([self.performer_id], tags=self.tags)


@dataclass(frozen=True, kw_only=True)
class ExampleAdded(Entry):
    """An example learned by the task's face engine. Stored under the item it came from (``image:12``), which
    is how rejectMatch and confirmMatch look it up; "" for a performer's own image."""

    KIND = "example"
    subject: str
    example_id: str
    item: ItemRef | None = None
    new_subject: bool = False  # the example created the subject: undoRun deletes the subject once empty

    @property
    def target(self) -> str:
        return "" if self.item is None else str(self.item)

    def detail(self) -> dict[str, Any]:
        return _compact(subject=self.subject, example_id=self.example_id, new_subject=self.new_subject)

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(subject=str(detail["subject"]), example_id=str(detail.get("example_id") or ""),
                   item=ItemRef.parse(target) if target else None, new_subject=bool(detail.get("new_subject")))

    def revert(self, undo: Undo) -> None:
        if not self.example_id or self.subject.casefold() in undo.kept_subjects:
            return
        try:
            undo.writes.delete_example(self.example_id, subject=self.subject)
            undo.counts["examplesDeleted"] += 1
        except FaceServiceError as exc:
            undo.debug(f"example {self.example_id} of {self.subject}: {exc}")
        if self.item is not None:
            undo.state.learned.unclaim(self.subject, self.item)
        if self.new_subject:
            undo.emptied.add((None, self.subject))


@dataclass(frozen=True, kw_only=True)
class ExampleCopied(Entry):
    """An example an import or export copied into the other engine (``builtin`` or ``compreface``): undoRun
    deletes it from that engine and forgets the transfer record (``direction``, ``source_id``), so a later
    import or export copies it again."""

    KIND = "copied_example"
    subject: str
    engine: str
    example_id: str
    direction: str
    source_id: str
    new_subject: bool = False  # the subject did not exist in that engine before this run

    @property
    def target(self) -> str:
        return self.subject

    def detail(self) -> dict[str, Any]:
        return _compact(engine=self.engine, example_id=self.example_id, direction=self.direction,
                        source_id=self.source_id, new_subject=self.new_subject)

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(subject=target, engine=str(detail["engine"]), example_id=str(detail["example_id"]),
                   direction=str(detail["direction"]), source_id=str(detail["source_id"]),
                   new_subject=bool(detail.get("new_subject")))

    def revert(self, undo: Undo) -> None:
        try:
            undo.writes.delete_example(self.example_id, subject=self.subject, service=undo.engine(self.engine))
            undo.counts["examplesDeleted"] += 1
        except FaceServiceError as exc:
            undo.debug(f"example {self.example_id} of {self.subject} in the {self.engine} engine: {exc}")
        undo.state.transfers.forget(self.direction, self.source_id, self.example_id)
        if self.new_subject:
            undo.emptied.add((self.engine, self.subject))


@dataclass(frozen=True, kw_only=True)
class CandidateRetired(Entry):
    """A candidate the user rejected (rejectCandidate) or merged into another (mergeCandidates): off the review
    page and never a performer, its subject and faces kept, so undoRun gives it back as it was (``previous``:
    its retirement before this run, if any)."""

    KIND = "retired"
    subject: str
    reason: str
    previous: str = ""

    @property
    def target(self) -> str:
        return self.subject

    def detail(self) -> dict[str, Any]:
        return _compact(reason=self.reason, previous=self.previous)

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(subject=target, reason=str(detail.get("reason", "")), previous=str(detail.get("previous", "")))

    def revert(self, undo: Undo) -> None:
        if self.previous:
            undo.state.retired.add(self.subject, self.previous)
        else:
            undo.state.retired.remove(self.subject)
        undo.counts["candidatesRestored"] += 1


@dataclass(frozen=True, kw_only=True)
class SubjectMerged(Entry):
    """Two unknown people were one (mergeCandidates): ``subject``'s faces were copied into ``into`` (``copies``,
    each also an :class:`ExampleAdded` of ``into``), its sightings added to ``into``'s (``sightings``: those
    ``into`` lacked), and ``subject`` deleted from the ``engine`` it was in (``deleted``). Recorded last, so
    undoRun reverts it first: ``subject`` is made again from the copies (read before their own entries delete
    them) and ``into`` loses the sightings it gained."""

    KIND = "subject_merged"
    subject: str
    into: str
    engine: str
    copies: tuple[str, ...] = ()
    sightings: tuple[ItemRef, ...] = ()
    deleted: bool = False

    @property
    def target(self) -> str:
        return self.subject

    def detail(self) -> dict[str, Any]:
        return _compact(into=self.into, engine=self.engine, copies=self.copies,
                        sightings=tuple(str(i) for i in self.sightings), deleted=self.deleted)

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(subject=target, into=str(detail["into"]), engine=str(detail["engine"]),
                   copies=_ids(detail.get("copies")),
                   sightings=tuple(ItemRef.parse(str(i)) for i in detail.get("sightings") or ()),
                   deleted=bool(detail.get("deleted")))

    def revert(self, undo: Undo) -> None:
        """A face service that fails here stops the undo before anything of the run is reverted (this entry is
        its newest), so the copies are never deleted before ``subject`` has its faces back; a rerun of the undo
        does not add them twice."""
        if self.deleted:
            faces = undo.engine(self.engine)
            try:
                held = faces.count_examples(self.subject)
            except FaceServiceError:  # no such subject (any more)
                held = 0
            for copy in self.copies[held:]:
                undo.writes.copy_example(self.subject, faces.example_image(copy), into=faces, engine=self.engine,
                                         direction="merge", source_id=copy, new_subject=False)
                undo.counts["examplesRestored"] += 1
        undo.state.candidates.forget_sightings(self.into, list(self.sightings))


@dataclass(frozen=True, kw_only=True)
class ExampleRemoved(Entry):
    """A face the user removed from the faces a subject was learned from (removeFace, the performer page). The
    example's own bytes are kept here (``image``, base64), since neither engine can bring a deleted example
    back: undoRun adds them again to the ``engine`` they were in (a new example id, the same face)."""

    KIND = "example_removed"
    subject: str
    example_id: str
    engine: str
    image: str
    item: ItemRef | None = None

    @property
    def target(self) -> str:
        return self.subject

    def detail(self) -> dict[str, Any]:
        return _compact(example_id=self.example_id, engine=self.engine, image=self.image,
                        item=None if self.item is None else str(self.item))

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        item = detail.get("item")
        return cls(subject=target, example_id=str(detail["example_id"]), engine=str(detail["engine"]),
                   image=str(detail["image"]), item=ItemRef.parse(str(item)) if item else None)

    def revert(self, undo: Undo) -> None:
        undo.writes.copy_example(self.subject, base64.b64decode(self.image), into=undo.engine(self.engine),
                                 engine=self.engine, direction="restore", source_id=self.example_id,
                                 new_subject=False)
        undo.counts["examplesRestored"] += 1


@dataclass(frozen=True, kw_only=True)
class PerformersMerged(Entry):
    """A performer the plugin created, deleted because its group of faces is one person with ``into_id``'s (the
    one kept, which took its subjects as aliases and its images and scenes, journalled as any alias and link).
    undoRun re-creates it as it was (Stash gives it a new id), links its items to it again and makes its
    subjects its own again; the kept performer's alias and links go with their own entries."""

    KIND = "performers_merged"
    removed_id: str
    into_id: str
    name: str
    aliases: tuple[str, ...]
    subjects: tuple[str, ...]  # its subjects, now the kept performer's aliases
    image: str  # base64 JPEG of its image, "" when it had none
    image_ids: tuple[str, ...]
    scene_ids: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.into_id

    def detail(self) -> dict[str, Any]:
        return {"removed_id": self.removed_id, "name": self.name, "aliases": list(self.aliases),
                "subjects": list(self.subjects), "image": self.image, "image_ids": list(self.image_ids),
                "scene_ids": list(self.scene_ids)}

    @classmethod
    def parse(cls, target: str, detail: Mapping[str, Any]) -> Self:
        return cls(into_id=target, removed_id=str(detail["removed_id"]), name=str(detail["name"]),
                   aliases=_ids(detail.get("aliases")), subjects=_ids(detail.get("subjects")),
                   image=str(detail.get("image") or ""), image_ids=_ids(detail.get("image_ids")),
                   scene_ids=_ids(detail.get("scene_ids")))

    def revert(self, undo: Undo) -> None:
        image = base64.b64decode(self.image) if self.image else b""
        created = undo.writes.create_performer(self.name, image, None)
        if created is None:
            return  # a dry run
        performer, _ = created
        missing = [a for a in self.aliases if a.casefold() not in {x.casefold() for x in performer.aliases}]
        for alias in missing:
            undo.writes.add_alias(performer, alias)
        undo.writes.link_performer(list(self.image_ids), performer.id, self.name, scene_ids=self.scene_ids)
        for subject in self.subjects:
            undo.heals.add((self.into_id, subject.casefold()))  # the alias's own revert must not reopen it
            undo.state.promotions.complete(subject, performer.id)
        undo.counts["performersRecreated"] += 1
        undo.notes.append(f"performer {self.removed_id} ({self.name}), merged into performer {self.into_id} by "
                          f"this run, was re-created as performer {performer.id} (Stash gives a new id) with its "
                          f"aliases and its {len(self.image_ids)} image(s) and {len(self.scene_ids)} scene(s)")


KINDS: dict[str, type[Entry]] = {cls.KIND: cls for cls in (Linked, Tagged, PerformerCreated, PerformerSeen,
                                                             AliasAdded, PerformerTagged, ExampleAdded,
                                                             ExampleCopied, CandidateRetired, SubjectMerged,
                                                             ExampleRemoved, PerformersMerged)}


def encode(entry: Entry) -> tuple[str, str, str]:
    """``(kind, target, detail)`` as stored."""
    return entry.KIND, entry.target, json.dumps(entry.detail(), separators=(",", ":"), sort_keys=True)


def decode(kind: str, target: str, detail: str) -> Entry:
    return KINDS[kind].parse(target, json.loads(detail))


# ----------------------------------------------------------------------------------------------- undo


@dataclass
class Undo:
    """What reverting one run needs, and what it decided before reverting (``undo_run._decide``): the
    performers it created that are deleted (``deletable``) or kept whole (``kept``: edited since, or linked
    to other items), the performers it touched that the user deleted in Stash since (``gone``), the subjects
    that keep their examples and aliases (``kept_subjects``, casefolded), the aliases that only put back a
    link the state knew (``heals``: (performer id, casefolded alias)), and the items another run (not
    undone) also linked a performer to (``linked_elsewhere``)."""

    writes: Writes
    state: StateStore
    engine: Callable[[str], FaceService]
    debug: Callable[[str], None]
    deletable: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    kept_items: set[ItemRef] = field(default_factory=set)  # the items the run linked a kept performer to
    kept_subjects: set[str] = field(default_factory=set)
    heals: set[tuple[str, str]] = field(default_factory=set)
    linked_elsewhere: frozenset[ItemRef] = frozenset()
    emptied: set[tuple[str | None, str]] = field(default_factory=set)  # (engine of a copy or None, subject)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # what the user is told once the revert is done

    @property
    def untouched(self) -> set[str]:
        """Performers whose own links, aliases and tags the revert leaves alone (deleted whole, kept, or gone)."""
        return self.deletable | self.kept | self.gone


# ----------------------------------------------------------------------------------------------- the journal


DEFAULT_RUNS = 200  # journalRuns' default (settings.SETTINGS)


@dataclass(frozen=True)
class RunRecord:
    """A journalled run as undoRun looks it up."""

    run_id: int
    mode: str
    undone: bool
    trimmed: bool


class Journal:
    """The journal in the state file: this run's entries as it writes them, and any run's entries to read.

    ``begin(mode)`` arms it for a run (tasks.run does, except for the modes that are not runs to undo); the
    run itself is opened by the first write (:meth:`open`, called by the writer), which also trims the runs
    beyond ``keep_runs``. A dry run never opens one.
    """

    def __init__(self, runs: Runs, *, keep_runs: int = DEFAULT_RUNS, dry_run: bool = False) -> None:
        self._runs = runs
        self._keep_runs = keep_runs
        self._dry_run = dry_run
        self._mode: str | None = None
        self._lock = threading.Lock()
        self.run_id: int | None = None

    # -- this run ------------------------------------------------------------------------------------

    def begin(self, mode: str) -> None:
        """Journal this run's writes as ``mode``: the run is opened by its first write."""
        self._mode = mode

    def open(self) -> int | None:
        """Open the run (once), trimming the journals beyond the newest ``keep_runs`` runs; its id, None when
        the journal is not armed (a correction, a look) or in a dry run."""
        with self._lock:
            if self.run_id is None and self._mode is not None and not self._dry_run:
                self.run_id = self._runs.start(self._mode)
                self._runs.trim(self._keep_runs)
            return self.run_id

    def record(self, entry: Entry) -> None:
        """Recorded after the write succeeded: the journal never claims what Stash does not hold."""
        if self.open() is not None:
            assert self.run_id is not None
            self._runs.append(self.run_id, *encode(entry))

    # -- any run -------------------------------------------------------------------------------------

    def run(self, run_id: int) -> RunRecord | None:
        found = self._runs.record(run_id)
        return None if found is None else RunRecord(run_id, *found)

    def entries(self, run_id: int) -> list[Entry]:
        """The run's entries in the order they were written."""
        return [decode(*row) for row in self._runs.entries(run_id)]

    def links(self, run_ids: Sequence[int], limit: int) -> dict[int, tuple[list[Linked], int]]:
        """Each run's first ``limit`` links of a performer to an item, and how many it made in all (the review
        page shows a few of runs that may have linked thousands); one query for all the runs."""
        return {run_id: ([Linked.parse(target, json.loads(detail)) for target, detail in rows], count)
                for run_id, (rows, count) in self._runs.first_entries(run_ids, Linked.KIND, limit).items()}

    def examples_from(self, item: ItemRef, subjects: Iterable[str]) -> list[ExampleAdded]:
        """Every example learned from ``item`` for one of ``subjects``, any run."""
        wanted = {s.casefold() for s in subjects}
        found = [ExampleAdded.parse(target, json.loads(detail))
                 for target, detail in self._runs.entries_at(ExampleAdded.KIND, str(item))]
        return [e for e in found if e.subject.casefold() in wanted]

    def example_sources(self, subjects: Iterable[str]) -> dict[str, ItemRef | None]:
        """Where each example of ``subjects`` came from, by example id (None: a performer's own image), as the
        runs not undone recorded it; an example no journalled run added is absent."""
        rows = self._runs.entries_about(ExampleAdded.KIND, "subject", list(subjects))
        found = [ExampleAdded.parse(target, json.loads(detail)) for target, detail in rows]
        return {e.example_id: e.item for e in found if e.example_id}

    def created_name(self, performer_id: str) -> str | None:
        """The name a run (undone or not) created ``performer_id`` under; None when no journalled run did (or
        its entries were trimmed)."""
        rows = self._runs.entries_at(PerformerCreated.KIND, performer_id)
        return PerformerCreated.parse(rows[0][0], json.loads(rows[0][1])).name if rows else None

    def last_seen(self, performer_id: str) -> PerformerSeen | None:
        """How the performer looked after the last journalled run (not undone) that created or merged into it."""
        rows = self._runs.entries_at(PerformerSeen.KIND, performer_id, undone=False)
        if not rows:
            return None
        target, detail = rows[-1]
        return PerformerSeen.parse(target, json.loads(detail))

    def merges_undone(self, into_id: str) -> set[str]:
        """The names of the performers merged into ``into_id`` by runs since undone: the user took those back."""
        live = set(self._runs.entries_at(PerformersMerged.KIND, into_id, undone=False))
        every = self._runs.entries_at(PerformersMerged.KIND, into_id)
        return {PerformersMerged.parse(target, json.loads(detail)).name.casefold()
                for target, detail in every if (target, detail) not in live}

    def alias_added(self, performer_id: str, alias: str) -> bool:
        """Whether a run not undone added ``alias`` to ``performer_id``."""
        rows = self._runs.entries_at(AliasAdded.KIND, performer_id, undone=False)
        return any(AliasAdded.parse(target, json.loads(detail)).alias.casefold() == alias.casefold()
                   for target, detail in rows)

    def linked_elsewhere(self, run_id: int) -> frozenset[ItemRef]:
        """The items this run linked a performer to that another run, not undone, also did."""
        return frozenset(ItemRef.parse(target) for target in self._runs.targets_shared(run_id, Linked.KIND))

    def mark_undone(self, run_id: int) -> None:
        """undoRun reverted the run: the review page shows it undone, and undoing it again changes nothing."""
        self._runs.mark_undone(run_id)


__all__ = ["KINDS", "AliasAdded", "CandidateRetired", "Entry", "ExampleAdded", "ExampleCopied", "ExampleRemoved",
           "Journal", "Linked", "PerformerCreated", "PerformerSeen", "PerformerTagged", "RunRecord", "SubjectMerged",
           "Tagged", "Undo", "decode", "encode", "on_item"]
