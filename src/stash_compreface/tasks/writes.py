"""Every change the plugin makes, to Stash or to the face service, goes through one writer.

:class:`Writes` performs each write through :meth:`Writes._write`, which in a dry run says it instead
("dry run: would …", in the user's terms: tag names, labels) and performs nothing; creations then return
``None``: there are no fake ids to filter out later. What makes a dry run write nothing is not this class:
the session hands a dry run read-only ports (``ports.py``), so a write that bypassed ``_write`` would
still only be logged.

Each write that succeeded opens the run's journal (a run that writes nothing gets no run) and, when undoRun
can revert it, records a typed entry (``tasks/journal.py``) after it.

Stash writes are bulk ``ADD``/``REMOVE`` only (whatever else the user set is never touched), and an
item's removals are sent before its additions: if the second mutation fails, the item is left without
Scanned/Error, so the next "new" run takes it up again (never Scanned without its links, never Error
and Matched together). A Stash write that still fails after the client's retries raises
:class:`~stash_compreface.errors.WriteFailed`, which the item runner treats as "left for the next run".
"""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Protocol, TypeVar

from ..errors import GraphQLError, ServiceError, WriteFailed
from ..faces.matching import outcome_tags
from ..faceservice import FaceService
from ..settings import Settings
from ..stash.client import StashClient
from ..stash.models import ItemKind, ItemRef, Performer
from .journal import (
    AliasAdded,
    Entry,
    ExampleAdded,
    ExampleCopied,
    Journal,
    PerformerCreated,
    PerformerSeen,
    PerformerTagged,
    on_item,
)

Log = Callable[[str, str], None]
T = TypeVar("T")


def data_url(jpeg: bytes) -> str:
    """Performer images go to Stash inline: a CompreFace static URL would carry the API key."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


class Taggable(Protocol):
    """What the writer needs of an image, scene or gallery: its id, name in logs, current links."""

    @property
    def id(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def tag_ids(self) -> frozenset[str]: ...

    @property
    def performer_ids(self) -> frozenset[str]: ...


@contextmanager
def _stash_write(what: str) -> Iterator[None]:
    """A Stash write that failed for good becomes WriteFailed; auth and outages stay fatal."""
    try:
        yield
    except ServiceError as exc:
        raise WriteFailed(f"could not {what}: {exc}", service="stash") from exc


class Writes:
    """Performs every write; tags are looked up once per run and created on first use."""

    def __init__(self, stash: StashClient, settings: Settings, face_service: Callable[[], FaceService],
                 log: Log, journal: Journal | None = None) -> None:
        self._stash = stash
        self._settings = settings
        self._faces = face_service
        self._log = log
        self.journal = journal  # None: nothing is recorded (a writer on its own, in tests)
        self.dry_run = settings.dry_run
        self._tag_ids: dict[str, str | None] = {}
        self._tag_lock = threading.Lock()
        self._created: set[str] = set()
        # What the run removed or deleted that the journal does not keep (undoRun only reverts additions),
        # for the run's closing summary: items reset by kind ("image", "scene"), and "subject" deletions.
        self.removed: Counter[str] = Counter()
        self._removed_lock = threading.Lock()

    # -- one write, and the journal --------------------------------------------------------------

    @property
    def run_id(self) -> int | None:
        """This run's journal id: None until the run's first write, and always in a dry run."""
        return self.journal.run_id if self.journal is not None else None

    def _write(self, what: str, write: Callable[[], T], *, stash: bool = True) -> T | None:
        """Perform one write (``what`` says it in the user's terms), then open the run's journal; in a dry run
        say it instead and return None. A Stash write that failed for good becomes WriteFailed."""
        if self.dry_run:
            self._log("info", f"dry run: would {what}")
            return None
        with _stash_write(what) if stash else nullcontext():
            result = write()
        if self.journal is not None:
            self.journal.open()
        return result

    def _do(self, what: str, write: Callable[[], object], *, stash: bool = True) -> bool:
        """:meth:`_write` of a write without a result: True once done, False in a dry run."""

        def done() -> bool:
            write()
            return True

        return self._write(what, done, stash=stash) is not None

    def _record(self, entry: Entry) -> None:
        if self.journal is not None and not self.dry_run:
            self.journal.record(entry)

    def _snapshot(self, performer_id: str) -> None:
        """A performer this run created, as it is after the run's own writes (see :class:`PerformerSeen`)."""
        if self.run_id is None or performer_id not in self._created:
            return
        performer = self._stash.find_performer(performer_id)
        if performer is not None:
            self._record(PerformerSeen.of(performer))

    # -- tags ------------------------------------------------------------------------------------

    def tag_id(self, name: str, *, create: bool = False) -> str | None:
        """The id of tag ``name``; None when it does not exist and ``create`` is off (or in a dry run).

        Remembered for the run, a missing tag included, so it is looked up once, not once per item.
        """
        create = create and not self.dry_run  # a dry run's "would add tags" already names it
        key = name.strip().casefold()
        with self._tag_lock:
            if key in self._tag_ids and (self._tag_ids[key] is not None or not create):
                return self._tag_ids[key]
            tag_id = self._tag_ids.get(key) or self._stash.find_tag(name)
            if tag_id is None and create:
                tag_id = self._create_tag(name)
            self._tag_ids[key] = tag_id
            return tag_id

    def _create_tag(self, name: str) -> str | None:
        try:
            return self._write(f"create tag {name!r}", lambda: self._stash.create_tag(name))
        except WriteFailed:
            # Another run (or the user) created it between our find and create.
            tag_id = self._stash.find_tag(name)
            if tag_id is None:
                raise
            return tag_id

    def _ensure_tags(self, names: Iterable[str]) -> list[str]:
        return [t for t in (self.tag_id(n, create=True) for n in names) if t]

    # -- items -----------------------------------------------------------------------------------

    def record_outcome(self, kind: ItemKind, item: Taggable, *, failed: bool, performers: Iterable[str] = (),
                       unidentified: bool | None = None) -> int:
        """The item's final tags and its newly found performers; returns how many performers were new.

        Error alone on failure (never with Scanned); else Scanned, plus Matched when a performer was found.
        ``unidentified``: a face passed the matching gate but no performer was found for the item, which
        sets the Unidentified tag; a found performer removes it; None (the caller does not judge faces)
        leaves it as it is.
        """
        s = self._settings
        names = {"scanned": s.scanned_tag, "matched": s.matched_tag, "error": s.error_tag}
        current = {key for key, name in names.items() if (tid := self.tag_id(name)) and tid in item.tag_ids}
        found = set(performers)
        change = outcome_tags(frozenset(current), failed=failed, matched=bool(found), scanned_tag="scanned",
                              matched_tag="matched", error_tag="error")
        add_tags = [names[k] for k in sorted(change.add)]
        remove_tags = [names[k] for k in sorted(change.remove)]
        if not failed and (found or unidentified is not None):
            has_tag = (tid := self.tag_id(s.unidentified_tag)) is not None and tid in item.tag_ids
            wanted = bool(unidentified) and not found
            if wanted and not has_tag:
                add_tags.append(s.unidentified_tag)
            elif has_tag and not wanted:
                remove_tags.append(s.unidentified_tag)
        new_performers = found - item.performer_ids
        if add_tags or remove_tags or new_performers:
            self._update(kind, [item.id], label=item.label, add_tags=add_tags, remove_tags=remove_tags,
                         add_performers=sorted(new_performers, key=int))
        return len(new_performers)

    def _count_removed(self, what: str, count: int) -> None:
        with self._removed_lock:
            self.removed[what] += count

    def link_performer(self, image_ids: list[str], performer_id: str, subject: str, *,
                       scene_ids: Sequence[str] = ()) -> None:
        """A promoted candidate's earlier sightings: performer and Matched on every image, then every scene,
        at once (bulk ADD: the items' own performers stay)."""
        for kind, ids in ((ItemKind.IMAGE, list(image_ids)), (ItemKind.SCENE, list(scene_ids))):
            if ids:
                self._update(kind, ids, label=f"{kind.value}s {', '.join(ids)}",
                             add_tags=[self._settings.matched_tag], add_performers=[performer_id],
                             remove_tags=[self._settings.unidentified_tag], tags_certain=False)
        if not self.dry_run:
            self._log("info", f"linked performer {performer_id} ({subject}) to {len(image_ids)} image(s) and "
                              f"{len(scene_ids)} scene(s) where it was seen")

    def clear_scan_tags(self, kind: ItemKind, ids: list[str]) -> None:
        """Reset: Scanned, Error and Unidentified off, so the items are tried again."""
        s = self._settings
        remove = [t for t in (self.tag_id(n) for n in (s.scanned_tag, s.error_tag, s.unidentified_tag)) if t]
        if remove and self._do(f"remove tags {s.scanned_tag}, {s.error_tag}, {s.unidentified_tag} from "
                                  f"{kind.value}s {', '.join(ids)}",
                               lambda: self._stash.update_items(kind, ids, remove_tags=remove)):
            self._count_removed(kind.value, len(ids))

    def _update(self, kind: ItemKind, ids: list[str], *, label: str, add_tags: Iterable[str] = (),
                remove_tags: Iterable[str] = (), add_performers: Iterable[str] = (),
                tags_certain: bool = True) -> None:
        """Removals, then additions; the additions journalled per item. ``tags_certain`` False: the items were
        not read, so a tag may have been there before (undo then removes it only from items no other run
        linked a performer to). The removed tags go into the entry too, for the run's summary (an earlier
        Unidentified of this run; undo does not restore them)."""
        remove_names, add_names, performers = list(remove_tags), list(add_tags), list(add_performers)
        parts = [f"remove tags {', '.join(remove_names)}"] if remove_names else []
        parts += [f"add tags {', '.join(add_names)}"] if add_names else []
        parts += [f"link performers {', '.join(performers)}"] if performers else []
        remove = [t for t in (self.tag_id(n) for n in remove_names) if t]

        def write() -> list[str]:
            if remove:
                self._stash.update_items(kind, ids, remove_tags=remove)
            add = self._ensure_tags(add_names)
            if add or performers:
                self._stash.update_items(kind, ids, add_tags=add, add_performers=performers)
            return add

        if not parts:
            return
        add = self._write(f"{'; '.join(parts)} on {label}", write)
        if add or (add is not None and performers):
            for item_id in ids:
                self._record(on_item(ItemRef(kind, item_id), performers=performers, tags=add,
                                     tags_certain=tags_certain, removed=remove))

    # -- performers ------------------------------------------------------------------------------

    def tag_performer(self, performer: Performer, *, failed: bool) -> None:
        """Synced, or Error (and Synced's Error removed once it syncs)."""
        s = self._settings
        wanted = s.error_tag if failed else s.synced_tag
        wanted_id = self.tag_id(wanted, create=True)
        error_id = self.tag_id(s.error_tag)
        add = [wanted_id] if wanted_id and wanted_id not in performer.tag_ids else []
        remove = [error_id] if not failed and error_id and error_id in performer.tag_ids else []
        if self.dry_run and wanted_id is None:
            add = [wanted]  # a dry run does not create the tag: say it by name
        if not (add or remove):
            return
        what = f"tag {performer.label} {wanted}" + (f", untag {s.error_tag}" if remove else "")
        if not self._do(what, lambda: self._stash.update_performers([performer.id], add_tags=add, remove_tags=remove)):
            return
        if add:
            self._record(PerformerTagged(performer_id=performer.id, tags=tuple(add)))
        self._snapshot(performer.id)

    def add_alias(self, performer: Performer, alias: str) -> None:
        if not self._do(f"add alias {alias} to {performer.label}",
                        lambda: self._stash.update_performers([performer.id], add_aliases=[alias])):
            return
        if alias.casefold() not in {a.casefold() for a in performer.aliases}:
            self._record(AliasAdded(performer_id=performer.id, alias=alias))
        self._snapshot(performer.id)
        self._log("debug", f"{performer.label}: added alias {alias}")

    def create_performer(self, name: str, face_jpeg: bytes, gender: str | None) -> tuple[Performer, bool] | None:
        """Create the performer, or find the one someone else created under that name meanwhile; the bool
        says whether this call created it. None only in a dry run."""
        try:
            performer = self._write(f"create performer {name}", lambda: self._stash.create_performer(
                name, image_url=data_url(face_jpeg), gender=gender))
        except WriteFailed as exc:
            if not isinstance(exc.__cause__, GraphQLError):
                raise
            # "already exists": created since our lookup (another run, or a lost answer); use theirs.
            existing = self._stash.find_performers_named(name)
            if not existing:
                raise
            return existing[0], False
        if performer is None:
            return None
        self._log("info", f"created performer {performer.id} ({name})")
        if self.run_id is not None:
            self._created.add(performer.id)
            self._record(PerformerCreated(performer_id=performer.id, name=name))
            self._snapshot(performer.id)
        return performer, True

    # -- face service ----------------------------------------------------------------------------

    def add_example(self, subject: str, face_jpeg: bytes, *, why: str, item: ItemRef | None = None,
                    new_subject: bool = False) -> str | None:
        """Add a one-face image as an example of ``subject`` (created if missing) to the task's face service;
        the example id, None in a dry run.

        ``item`` is where the face came from (an image or a scene), so rejectMatch can find the
        example; ``new_subject`` says this example creates the subject, so undoRun deletes it once empty.
        """
        example_id = self._write(f"add {why} to subject {subject}",
                                 lambda: self._faces().add_example(subject, face_jpeg), stash=False)
        if example_id is not None:
            self._record(ExampleAdded(subject=subject, example_id=example_id, item=item, new_subject=new_subject))
        return example_id

    def copy_example(self, subject: str, face_jpeg: bytes, *, into: FaceService, engine: str, direction: str,
                     source_id: str, new_subject: bool) -> str | None:
        """Copy an example of ``subject`` into another face service (importFromCompreFace, exportToCompreFace);
        the example id there, None in a dry run.

        Journalled with the engine it landed in (``builtin`` or ``compreface``), so undoRun deletes it from
        that engine, not from the task's own face service; ``direction`` and ``source_id`` name the transfer
        record undoRun forgets, and ``new_subject`` says the subject did not exist in that engine before
        this run (undoRun deletes it once empty).
        """
        example_id = self._write(f"add example {source_id} to subject {subject} in the {engine} engine",
                                 lambda: into.add_example(subject, face_jpeg), stash=False)
        if example_id is not None:
            self._record(ExampleCopied(subject=subject, engine=engine, example_id=example_id, direction=direction,
                                       source_id=source_id, new_subject=new_subject))
        return example_id

    # -- corrections (rejectMatch, undoRun, rejectCandidate) -------------------------------------

    def remove_from_items(self, kind: ItemKind, ids: list[str], *, tags: Iterable[str] = (),
                          performers: Iterable[str] = ()) -> None:
        """Bulk REMOVE of exactly these tags and performers; nothing else on the items changes."""
        tags, performers = list(tags), list(performers)
        if ids and (tags or performers):
            self._do(f"remove tags {', '.join(tags) or '-'} and performers {', '.join(performers) or '-'} from "
                     f"{kind.value}s {', '.join(ids)}",
                     lambda: self._stash.remove_from_items(kind, ids, tags=tags, performers=performers))

    def remove_from_performers(self, ids: list[str], *, tags: Iterable[str] = (), aliases: Iterable[str] = ()) -> None:
        tags, aliases = list(tags), list(aliases)
        if ids and (tags or aliases):
            self._do(f"remove tags {', '.join(tags) or '-'} and aliases {', '.join(aliases) or '-'} from "
                     f"performers {', '.join(ids)}",
                     lambda: self._stash.remove_from_performers(ids, tags=tags, aliases=aliases))

    def destroy_performer(self, performer_id: str) -> None:
        if self._do(f"delete performer {performer_id}", lambda: self._stash.destroy_performer(performer_id)):
            self._log("info", f"deleted performer {performer_id}")

    def delete_example(self, example_id: str, *, subject: str, service: FaceService | None = None) -> None:
        """Delete from the task's face service, or from ``service`` (a copy undoRun reverts)."""
        self._do(f"delete example {example_id} of subject {subject}",
                 lambda: (service or self._faces()).delete_example(example_id), stash=False)

    def delete_subject(self, subject: str, *, service: FaceService | None = None) -> None:
        if self._do(f"delete subject {subject}", lambda: (service or self._faces()).delete_subject(subject),
                    stash=False):
            self._count_removed("subject", 1)


__all__ = ["Taggable", "Writes", "data_url"]
