"""Subject ↔ performer links, and turning candidate subjects into performers without duplicates.

A subject belongs to the performer whose name or alias equals it. All ``Person …`` performers are read
once per run (one query), so matching a face costs no GraphQL round trip; misses fall back to an exact
lookup. A subject held by two performers is ambiguous: it is reported, never guessed. Creation is
serialised and always looks Stash up first, so a run killed between "create performer" and "link
images" is completed by the next run instead of creating a second performer.

The link survives a rename: a performer the plugin created from a subject is named after it, with no
alias, so renaming it drops the subject from its name. When no performer holds a subject but the state
says it was promoted to performer P, P still exists, and the journal shows P was *created under that
subject's name*, the subject is still P's: the directory says so and heals Stash by adding the subject as
P's alias (bulk ADD, journalled), once. The rule, and why it keeps the user's own unlinking: a name cannot
be removed, only changed, so a rename is never an unlink; an alias can, and removing it is how the user
unlinks a face (README). So there is no heal when the subject was only ever an alias (a performer the user
named, a merge, synchronizePerformers), nor when a run not undone already put the alias back (a heal, or a
merge, then the user removed it again), nor when the journal of P's creation was trimmed (``journalRuns``).

The directory follows the user: a subject whose performer was deleted in Stash is retired (never made a
performer again, or the user's deletion would be undone by every run), and a subject whose performer still
exists but no longer holds it (its alias removed) is unlinked and left for review instead of becoming a
second performer. Retired subjects can still be named or merged by hand (``nameCandidate``,
``mergeIntoPerformer``), except rejected ones.

Before a candidate seen often enough becomes a performer, its faces are compared with every subject as a
group (``faces.clustering``): when they are a known performer's, the candidate joins that performer as one
more ``Person …`` alias, its items linked, as ``mergeIntoPerformer`` would do, instead of becoming a second
performer of the same person. The alias and the links are journalled as any others, so undoRun takes the
merge back (the subject is a candidate again).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import ItemError, MediaError, ServiceError, SettingError
from ..faces.clustering import MAX_GROUP_FACES, group_owner
from ..faces.matching import order_faces, should_promote, stash_gender
from ..faces.models import SubjectMatch
from ..faces.naming import is_subject_name, person_alias, subject_name
from ..faceservice import FaceServiceError
from ..stash.models import ItemKind, ItemRef, Performer
from ..stash.queries import performer_items, person_performers
from .context import TaskContext
from .enrolment import RECHECK_MIN_PROBABILITY
from .journal import PerformerSeen, PerformersMerged
from .state.merges import PendingMerge

# Why a subject is retired (state.retired.reason).
RETIRED_REJECTED = "rejected"  # rejectCandidate: its subject was deleted from the face service
RETIRED_DELETED = "performer deleted"
RETIRED_UNLINKED = "unlinked"


def split_items(items: Iterable[ItemRef]) -> tuple[list[str], list[str]]:
    """Sighting items as (image ids, scene ids)."""
    items = list(items)
    return ([i.id for i in items if i.kind is ItemKind.IMAGE], [i.id for i in items if i.kind is ItemKind.SCENE])


def find_performer(ctx: TaskContext, performer_id: str) -> Performer:
    """The performer named by the ``performerId`` argument (the mode requires it: tasks.modes); an unknown id
    names the argument."""
    performer = ctx.stash.find_performer(performer_id)
    if performer is None:
        raise SettingError(f"performerId {performer_id} names no performer in Stash", setting="performerId")
    return performer


def refusals(ctx: TaskContext, directory: PerformerDirectory, item: ItemRef) -> Callable[[str], bool]:
    """Whether the user said a subject, or its performer, is not in ``item``: what rejectMatch recorded."""
    refused = ctx.state.refusals.refused
    return lambda subject: refused(item, subject=subject) or refused(item, performer_id=directory.for_subject(subject))


def _other_than(performer: Performer, directory: PerformerDirectory) -> Callable[[str], bool]:
    """Whether a subject is not one of the performer's own (its name and ``Person …`` aliases)."""
    own = {s.casefold() for s in directory.subjects_of(performer)}
    return lambda subject: subject.casefold() not in own


class AmbiguousSubject(ItemError):
    """Two performers hold the same ``Person …`` name or alias: linking either would be a guess."""


@dataclass(frozen=True)
class Promotion:
    """The subject's performer after a sighting or promotion (None: not yet, or a dry run), and whether
    this call created it: counts of created performers must be exact."""

    performer_id: str | None
    created: bool


class PerformerDirectory:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._lock = threading.RLock()
        self._holders: dict[str, set[str]] = {}
        self._names: dict[str, str] = {}
        self._planned: set[str] = set()
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        for performer in person_performers(self._ctx.stash):
            self._remember(performer)
        self._loaded = True

    def _remember(self, performer: Performer) -> None:
        self._names[performer.id] = performer.name
        for name in {performer.name, *performer.aliases}:
            self._holders.setdefault(name.casefold(), set()).add(performer.id)

    def name_of(self, performer_id: str | None) -> str | None:
        return self._names.get(performer_id) if performer_id else None

    def _one_holder(self, subject: str) -> str | None:
        holders = self._holders.get(subject.casefold()) or set()
        if len(holders) > 1:
            who = " and ".join(f"{p} ({self._names.get(p, '?')})" for p in sorted(holders, key=int))
            raise AmbiguousSubject(f"subject {subject} is held by performers {who}: keep it as the name or "
                                   "alias of one performer only; not linked")
        return next(iter(holders), None)

    def for_subject(self, subject: str) -> str | None:
        """The performer id linked to ``subject``, or None; AmbiguousSubject when two hold it."""
        key = subject.casefold()
        with self._lock:
            self._load()
            if key in self._holders:
                return self._one_holder(subject)
        found = self._ctx.stash.find_performers_named(subject)
        with self._lock:
            for performer in found:
                self._remember(performer)
            self._holders.setdefault(key, set())
            return self._one_holder(subject) or self._renamed_holder(subject)

    def _renamed_holder(self, subject: str) -> str | None:
        """The performer created under ``subject``'s name and renamed since, with the subject put back as its
        alias; None when the rule of the module docstring says the subject is not (or no longer) its."""
        ctx = self._ctx
        if ctx.state.retired.reason(subject) is not None:
            return None
        promoted = ctx.state.promotions.performer_of(subject)
        if promoted is None:
            return None
        created = ctx.journal.created_name(promoted)
        if created is None or created.casefold() != subject.casefold() or ctx.journal.alias_added(promoted, subject):
            return None
        performer = ctx.stash.find_performer(promoted)
        if performer is None:
            return None  # deleted in Stash: _may_create retires the subject
        ctx.info(f"subject {subject}: performer {performer.id} was created under that name and renamed "
                 f"{performer.name}; it stays theirs, and is added as their alias so the link no longer depends "
                 "on the name")
        return self.hold(performer, subject).id

    def sighting(self, subject: str, item: ItemRef, face_jpeg: bytes, gender: str | None, *,
                 promote: bool = True) -> Promotion:
        """Record that a performer-less subject was seen in ``item`` (images and scenes count together
        towards ``minFacesForNewPerformer``); promote it once seen enough (unless not ``promote``:
        identifyScene only looks)."""
        ctx = self._ctx
        if ctx.state.retired.reason(subject) is not None:
            return Promotion(None, created=False)
        count = ctx.state.candidates.record_sighting(subject, item)
        if not promote:
            return Promotion(None, created=False)
        if not should_promote(count, ctx.settings.min_faces_for_new_performer):
            ctx.debug(f"candidate {subject}: seen in {count} image(s) or scene(s), performer after "
                      f"{ctx.settings.min_faces_for_new_performer}")
            return Promotion(None, created=False)
        with self._lock:
            faces = self._group_faces(subject, [face_jpeg, *self._example_images(subject)])
            merged = self._join_owner(subject, [matches for matches, _ in faces])
            return merged if merged is not None else self.promote(subject, face_jpeg, gender)

    def sight(self, subject: str, item: ItemRef) -> None:
        """A batch image run's sighting: recorded now, the promotion decided at the run's end, with every other
        candidate's, in a fixed order (:meth:`promote_due`), so it does not depend on which image came first."""
        ctx = self._ctx
        if ctx.state.retired.reason(subject) is not None:
            return
        count = ctx.state.candidates.record_sighting(subject, item)
        if should_promote(count, ctx.settings.min_faces_for_new_performer):
            ctx.state.unknown.mark_due(subject)
        else:
            ctx.debug(f"candidate {subject}: seen in {count} image(s) or scene(s), performer after "
                      f"{ctx.settings.min_faces_for_new_performer}")

    def promote_due(self) -> int:
        """Every candidate seen often enough becomes a performer, or joins the known performer its faces are as a
        group; one after the other, the candidate first seen in the earliest item first (by id, never by thread
        timing), so a candidate promoted here may be joined by a later one of the same person. A candidate stays
        due until decided, so a run killed here is completed by the next. Returns the performers created."""
        ctx = self._ctx
        created = 0
        for subject, _items in ctx.state.unknown.due():
            ctx.check_stop()
            try:
                created += self._promote_due(subject).created
            except ServiceError as exc:
                if exc.retryable:
                    ctx.warning(f"candidate {subject}: {exc}; it becomes a performer in the next run")
                    continue
                ctx.warning(f"candidate {subject}: {exc}; left for review")
            except ItemError as exc:  # AmbiguousSubject among them
                ctx.warning(f"candidate {subject}: {exc}; left for review")
            ctx.state.unknown.decided(subject)
        return created

    def _promote_due(self, subject: str) -> Promotion:
        ctx = self._ctx
        if ctx.state.retired.reason(subject) is not None:
            return Promotion(None, created=False)
        held = self.for_subject(subject)
        if held is not None:
            self.finish_pending(subject, held)
            return Promotion(held, created=False)
        faces = self._group_faces(subject, self._example_images(subject))
        if not faces and not ctx.settings.dry_run:
            ctx.warning(f"candidate {subject}: {ctx.face_service.name} holds no face of it to judge it by or to "
                        "show on a performer; left for review")
            return Promotion(None, created=False)
        with self._lock:
            merged = self._join_owner(subject, [matches for matches, _ in faces])
            if merged is not None:
                return merged
            crop, gender = faces[0][1] if faces else (b"", None)
            return self.promote(subject, crop, gender)

    def _join_owner(self, subject: str, faces: list[tuple[SubjectMatch, ...]]) -> Promotion | None:
        """The candidate made one more subject of the performer its ``faces`` (each face's matches) belong to
        as a group (module docstring); None when they belong to nobody known (or it has a performer already)."""
        ctx = self._ctx
        if subject in self._planned or self.for_subject(subject) is not None:
            return None
        match = group_owner(faces, own=subject, min_similarity=ctx.settings.min_similarity, eligible=self._may_join)
        if match is None:
            return None
        holder = self.for_subject(match.subject)
        performer = ctx.stash.find_performer(holder) if holder is not None else None
        if performer is None:
            return None
        ctx.info(f"candidate {subject}: its {match.faces} faces are {match.subject}'s as a group (mean "
                 f"similarity {match.similarity:.2f}), so it joins performer {performer.id} ({performer.name}) "
                 "instead of becoming a second performer of the same person")
        if ctx.settings.dry_run:
            self._planned.add(subject)
            return Promotion(None, created=False)
        self.hold(performer, subject)
        self._link_sightings(subject, performer.id)
        return Promotion(performer.id, created=False)

    def _may_join(self, subject: str) -> bool:
        """A subject a candidate may join: one performer holds it, and it is not retired."""
        if self._ctx.state.retired.reason(subject) is not None:
            return False
        try:
            return self.for_subject(subject) is not None
        except AmbiguousSubject:
            return False

    def _example_images(self, subject: str) -> list[bytes]:
        """The pictures of the subject's first examples by id (``MAX_GROUP_FACES``), so every run looks at the
        same ones."""
        service = self._ctx.face_service
        try:
            examples = sorted(service.list_examples(subject), key=lambda e: e.id)[:MAX_GROUP_FACES]
        except FaceServiceError as exc:
            self._ctx.debug(f"candidate {subject}: its examples could not be listed: {exc}")
            return []
        crops = []
        for example in examples:
            try:
                crops.append(service.example_image(example.id))
            except (FaceServiceError, MediaError) as exc:
                self._ctx.debug(f"candidate {subject}: example {example.id} could not be read: {exc}")
        return crops

    def _group_faces(self, subject: str, crops: list[bytes]
                     ) -> list[tuple[tuple[SubjectMatch, ...], tuple[bytes, str | None]]]:
        """Each of the candidate's face pictures (at most ``MAX_GROUP_FACES``) recognised: its matches, and the
        picture with the face's gender (for a performer made of it)."""
        service = self._ctx.face_service
        faces = []
        for crop in crops[:MAX_GROUP_FACES]:
            found = order_faces(service.recognize(crop, min_probability=RECHECK_MIN_PROBABILITY))
            if found:
                faces.append((found[0].matches, (crop, stash_gender(found[0].gender))))
        return faces

    def promote(self, subject: str, face_jpeg: bytes, gender: str | None, *, name: str = "") -> Promotion:
        """Create (or find) the subject's performer and link every image and scene the candidate was seen in.

        The performer is named after the subject, or ``name`` (the user typed it), which then keeps the
        subject as its alias. The performer id is None only in a dry run, where nothing is created.
        """
        ctx = self._ctx
        with self._lock:
            performer_id = self.for_subject(subject)
            created = False
            if performer_id is None:
                if subject in self._planned or not self._may_create(subject):
                    return Promotion(None, created=False)
                result = (self.named_performer(name, lambda: face_jpeg, gender) if name
                          else ctx.writes.create_performer(subject, face_jpeg, gender))
                if result is None:
                    self._planned.add(subject)
                    return Promotion(None, created=False)
                performer, created = result
                performer_id = self.hold(performer, subject).id
            self._link_sightings(subject, performer_id)
            return Promotion(performer_id, created=created)

    def named_performer(self, name: str, face: Callable[[], bytes], gender: str | None
                        ) -> tuple[Performer, bool] | None:
        """The one performer called ``name`` (any case), else a new one with the image ``face()``, and
        whether it was created; None in a dry run. Two of that name: the user must say which (performerId)."""
        ctx = self._ctx
        same = [p for p in ctx.stash.find_performers_named(name) if p.name.casefold() == name.casefold()]
        if len(same) > 1:
            ids = ", ".join(p.id for p in same)
            raise SettingError(f"several performers are named {name} ({ids}): use mergeIntoPerformer or "
                               "confirmMatch with the performerId of the right one", setting="name")
        if same:
            ctx.info(f"performer {same[0].id} ({same[0].name}) already exists: no second one is created")
            return same[0], False
        return ctx.writes.create_performer(name, face(), gender)

    def hold(self, performer: Performer, subject: str) -> Performer:
        """Make ``subject`` lead to ``performer``: its name or an alias (added unless already there)."""
        if subject.casefold() not in {a.casefold() for a in (performer.name, *performer.aliases)}:
            self._ctx.writes.add_alias(performer, subject)
            performer = Performer(performer.id, performer.name, (*performer.aliases, subject), performer.image_url,
                                  performer.tag_ids)
        self.adopt(performer)
        return performer

    def own_subject(self, performer: Performer) -> str:
        """The performer's subject name: its ``Person …`` alias, added (once) when it has none. The
        performer is read again first: another run (or the user) may have added one since it was read."""
        alias = person_alias(performer.name, performer.aliases)
        if alias is None:
            fresh = self._ctx.stash.find_performer(performer.id)
            alias = person_alias(fresh.name, fresh.aliases) if fresh else None
        if alias is None:
            alias = subject_name(performer.id, self._ctx.suffix())
            self._ctx.writes.add_alias(performer, alias)
        holder = self.for_subject(alias)  # AmbiguousSubject when another performer holds it too
        if holder not in (None, performer.id):
            raise ItemError(f"its subject {alias} belongs to performer {holder}: remove the alias from one of them")
        return alias

    def _may_create(self, subject: str) -> bool:
        """Whether a performer may be made of ``subject``, which no performer holds now: not when it is
        retired, and not when it had one (deleted: retired; kept but unlinked: left for the user)."""
        ctx = self._ctx
        if ctx.state.retired.reason(subject) is not None:
            return False
        promoted = ctx.state.promotions.performer_of(subject)
        if promoted is None:
            return True
        if ctx.stash.find_performer(promoted) is None:
            ctx.state.retired.add(subject, RETIRED_DELETED)
            ctx.info(f"subject {subject}: its performer {promoted} was deleted in Stash, so no performer is "
                     "created from it again (name it or merge it into a performer to undo)")
        else:
            ctx.state.retired.add(subject, RETIRED_UNLINKED)
            ctx.info(f"subject {subject}: performer {promoted} no longer holds it as name or alias (its alias was "
                     "removed), so it is no longer linked; to link it again, add the subject back as an alias")
        return False

    def finish_pending(self, subject: str, performer_id: str) -> None:
        """A subject with a performer but unlinked sightings: a previous run died mid-promotion."""
        if self._ctx.state.candidates.exists(subject):
            with self._lock:
                self._link_sightings(subject, performer_id)

    def link_sightings(self, subject: str, performer_id: str) -> None:
        """Link every image and scene the candidate was seen in to ``performer_id`` (name or merge)."""
        with self._lock:
            self._link_sightings(subject, performer_id)

    def adopt(self, performer: Performer) -> None:
        """A performer that now holds a subject (created or given an alias by a review mode)."""
        with self._lock:
            self._remember(performer)

    def _link_sightings(self, subject: str, performer_id: str) -> None:
        """Link the candidate's earlier images; recorded as pending first, so that a failed or killed
        write is completed by the next run (:meth:`complete_pending`)."""
        state = self._ctx.state
        if state.promotions.performer_of(subject) == performer_id:
            return
        items = state.candidates.sightings(subject)
        if items:
            state.promotions.mark_pending(subject, performer_id)
            images, scenes = split_items(items)
            self._ctx.writes.link_performer(images, performer_id, subject, scene_ids=scenes)
        state.promotions.complete(subject, performer_id)

    # -- performers found to be one person ---------------------------------------------------------

    def merge_split(self) -> int:
        """Merge the performers the plugin created whose groups of faces turn out to be one person (module
        docstring); the number merged away. Each is compared (its examples against every subject, as a group)
        when its subject's examples changed since it last was, in id order; the older of two is kept."""
        ctx = self._ctx
        self.resume_merges()
        mergeable = sorted((p for p in person_performers(ctx.stash) if self._unedited(p)), key=lambda p: int(p.id))
        if len(mergeable) < 2:
            return 0
        by_subject = {s.casefold(): p for p in mergeable for s in self.subjects_of(p)}
        removed: set[str] = set()
        for performer in mergeable:
            ctx.check_stop()
            if performer.id in removed:
                continue
            try:
                examples = ctx.face_service.count_examples(performer.name)
            except FaceServiceError as exc:
                ctx.debug(f"performer {performer.id}: its examples could not be counted: {exc}")
                continue
            if ctx.state.merges.compared(performer.id) == examples:
                continue
            faces = self._group_faces(performer.name, self._example_images(performer.name))
            match = group_owner([matches for matches, _ in faces], own=performer.name,
                                min_similarity=ctx.settings.min_similarity, eligible=_other_than(performer, self))
            ctx.state.merges.mark_compared(performer.id, examples)
            other = by_subject.get(match.subject.casefold()) if match is not None else None
            if match is None or other is None or other.id in removed:
                continue  # nobody's, or a performer the user named or edited: never merged
            keep, gone = sorted((performer, other), key=lambda p: int(p.id))
            if gone.name.casefold() in ctx.journal.merges_undone(keep.id):
                ctx.debug(f"performers {keep.id} and {gone.id}: their merge was undone, so they stay apart")
                continue
            ctx.info(f"performers {keep.id} ({keep.name}) and {gone.id} ({gone.name}) are one person: the faces of "
                     f"{performer.name} are {match.subject}'s as a group (mean similarity {match.similarity:.2f}); "
                     f"{gone.id} is merged into {keep.id} (its subjects become aliases, its images and scenes are "
                     "linked), then deleted. undoRun of this run re-creates it")
            if ctx.settings.dry_run:
                continue
            self._merge(gone, keep)
            removed.add(gone.id)
        return len(removed)

    def subjects_of(self, performer: Performer) -> list[str]:
        return [performer.name, *(a for a in performer.aliases if is_subject_name(a))]

    def _unedited(self, performer: Performer) -> bool:
        """A performer a run created under its subject's name that nobody changed since (the rule undoRun uses:
        ``journal.PerformerSeen``): the only kind merged. One the user named or edited is theirs."""
        journal = self._ctx.journal
        if journal.created_name(performer.id) != performer.name:
            return False
        seen = journal.last_seen(performer.id)
        return seen is not None and seen.unchanged(performer)

    def _merge(self, gone: Performer, keep: Performer) -> None:
        """Recorded in the state first (with all undo needs of ``gone``), so a kill midway is finished by the
        next run (:meth:`resume_merges`)."""
        ctx = self._ctx
        counts_and_ids = {kind: performer_items(ctx.stash, kind, gone.id, 1)[0] for kind in (ItemKind.IMAGE,
                                                                                            ItemKind.SCENE)}
        items = {kind: performer_items(ctx.stash, kind, gone.id, count)[1] if count else []
                 for kind, count in counts_and_ids.items()}
        detail = {"name": gone.name, "aliases": list(gone.aliases), "subjects": self.subjects_of(gone),
                  "image": base64.b64encode(self._image(gone)).decode("ascii"),
                  "image_ids": items[ItemKind.IMAGE], "scene_ids": items[ItemKind.SCENE]}
        self._finish_merge(ctx.state.merges.begin(gone.id, keep.id, detail))

    def _image(self, performer: Performer) -> bytes:
        if not performer.has_image:
            return b""
        try:
            with self._ctx.stash.download(performer.image_url, what="performer image") as media:
                return media.read()
        except ItemError as exc:
            self._ctx.debug(f"performer {performer.id}: its image could not be read: {exc}")
            return b""

    def resume_merges(self) -> None:
        """Finish the merges an earlier run began and did not end (a kill, a failed write)."""
        for pending in self._ctx.state.merges.pending():
            self._finish_merge(pending)

    def _finish_merge(self, pending: PendingMerge) -> None:
        """Every step may have been done already (a resumed merge): alias, links, deletion, journal, state."""
        ctx = self._ctx
        keep = ctx.stash.find_performer(pending.into_id)
        if keep is None:
            ctx.warning(f"performer {pending.into_id} was deleted before performer {pending.removed_id} could be "
                        "merged into it: nothing merged")
            ctx.state.merges.done(pending.removed_id)
            return
        d = pending.detail
        subjects = [str(s) for s in d["subjects"]]
        with self._lock:
            for subject in subjects:
                keep = self.hold(keep, subject)
            ctx.writes.link_performer(list(d["image_ids"]), keep.id, str(d["name"]), scene_ids=list(d["scene_ids"]))
            if ctx.stash.find_performer(pending.removed_id) is not None:
                ctx.writes.destroy_performer(pending.removed_id)
            self._forget(pending.removed_id)
        ctx.journal.record(PerformersMerged(
            removed_id=pending.removed_id, into_id=keep.id, name=str(d["name"]), aliases=tuple(d["aliases"]),
            subjects=tuple(subjects), image=str(d["image"]), image_ids=tuple(d["image_ids"]),
            scene_ids=tuple(d["scene_ids"])))
        fresh = ctx.stash.find_performer(keep.id)
        if fresh is not None:  # as this run left it: still the plugin's, so a later merge may keep it too
            ctx.journal.record(PerformerSeen.of(fresh))
        for subject in subjects:
            ctx.state.promotions.complete(subject, keep.id)
        ctx.state.merges.done(pending.removed_id)

    def _forget(self, performer_id: str) -> None:
        self._names.pop(performer_id, None)
        for holders in self._holders.values():
            holders.discard(performer_id)

    def complete_pending(self) -> None:
        """Finish promotions an earlier run recorded but could not link (a failed write, a kill), and merges."""
        ctx = self._ctx
        self.resume_merges()
        for pending in ctx.state.promotions.pending():
            subject, performer_id = pending.subject, pending.performer_id
            if ctx.stash.find_performer(performer_id) is None:
                ctx.warning(f"candidate {subject}: its performer {performer_id} no longer exists; not linked")
                ctx.state.promotions.clear_pending(subject)
                ctx.state.retired.add(subject, RETIRED_DELETED)
                continue
            if pending.items:
                image_ids, scene_ids = split_items(pending.items)
                ctx.writes.link_performer(image_ids, performer_id, subject, scene_ids=scene_ids)
            ctx.state.promotions.complete(subject, performer_id)
