"""Subject ↔ performer links, and turning candidate subjects into performers without duplicates.

A subject belongs to the performer whose name or alias equals it. All ``Person …`` performers are read
once per run (one query), so matching a face costs no GraphQL round trip; misses fall back to an exact
lookup. Creation is serialised and always looks Stash up first, so a run killed between "create
performer" and "link images" is completed by the next run instead of creating a second performer.
"""

from __future__ import annotations

import base64
import threading

from ..errors import GraphQLError
from ..faces.matching import should_promote
from ..stash.models import Performer
from .context import TaskContext

_PERSON_FILTER = {
    "name": {"value": "Person", "modifier": "INCLUDES"},
    "OR": {"aliases": {"value": "Person", "modifier": "INCLUDES"}},
}


def data_url(jpeg: bytes) -> str:
    """Performer images go to Stash inline: a CompreFace static URL would carry the API key."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


class PerformerDirectory:
    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._lock = threading.RLock()
        self._by_subject: dict[str, str | None] = {}
        self._names: dict[str, str] = {}
        self._loaded = False
        self._dry_ids = 0

    def _load(self) -> None:
        if self._loaded:
            return
        _, performers = self._ctx.stash.find_performers({"per_page": -1, "sort": "id"}, _PERSON_FILTER)
        for performer in performers:
            self._remember(performer)
        self._loaded = True

    def _remember(self, performer: Performer) -> None:
        self._names[performer.id] = performer.name
        for name in (performer.name, *performer.aliases):
            self._by_subject.setdefault(name.casefold(), performer.id)

    def name_of(self, performer_id: str | None) -> str | None:
        return self._names.get(performer_id) if performer_id else None

    def for_subject(self, subject: str) -> str | None:
        """The performer id linked to ``subject``, or None."""
        key = subject.casefold()
        with self._lock:
            self._load()
            if key in self._by_subject:
                return self._by_subject[key]
        found = self._ctx.stash.find_performers_named(subject)
        with self._lock:
            for performer in found:
                self._remember(performer)
            self._by_subject.setdefault(key, None)
            return self._by_subject[key]

    def sighting(self, subject: str, image_id: str, face_jpeg: bytes, gender: str | None) -> str | None:
        """Record that a performer-less subject was seen in ``image_id``; promote it once seen enough.

        Returns the performer id when the subject has (or now has) a performer.
        """
        ctx = self._ctx
        count = ctx.state.record_sighting(subject, image_id)
        if not should_promote(count, ctx.settings.min_faces_for_new_performer):
            ctx.debug(f"candidate {subject}: seen in {count} image(s), performer after "
                      f"{ctx.settings.min_faces_for_new_performer}")
            return None
        return self.promote(subject, face_jpeg, gender)

    def promote(self, subject: str, face_jpeg: bytes, gender: str | None) -> str:
        """Create (or find) the subject's performer and link every image the candidate was seen in."""
        ctx = self._ctx
        with self._lock:
            performer_id = self._by_subject.get(subject.casefold())
            if performer_id is None:
                performer_id = self._create(subject, face_jpeg, gender)
            images = ctx.state.sightings(subject)
            if images and ctx.state.promoted_performer(subject) != performer_id:
                self._link(images, performer_id, subject)
            ctx.state.mark_promoted(subject, performer_id)
            return performer_id

    def finish_pending(self, subject: str, performer_id: str) -> None:
        """A subject with a performer but unlinked sightings: a previous run died mid-promotion."""
        ctx = self._ctx
        if not ctx.state.is_candidate(subject) or ctx.state.promoted_performer(subject) == performer_id:
            return
        with self._lock:
            images = ctx.state.sightings(subject)
            if images:
                self._link(images, performer_id, subject)
            ctx.state.mark_promoted(subject, performer_id)

    def _link(self, image_ids: list[str], performer_id: str, subject: str) -> None:
        ctx = self._ctx
        matched = ctx.tags.lookup(ctx.settings.matched_tag)
        if ctx.dry_run:
            ctx.info(f"dry run: would link {subject} to images {', '.join(image_ids)}")
            return
        ctx.stash.update_images(image_ids, add_performers=[performer_id], add_tags=[matched] if matched else [])
        ctx.info(f"linked performer {performer_id} ({subject}) to {len(image_ids)} image(s) where it was seen")

    def _create(self, subject: str, face_jpeg: bytes, gender: str | None) -> str:
        ctx = self._ctx
        existing = ctx.stash.find_performers_named(subject)
        if existing:
            self._remember(existing[0])
            return existing[0].id
        if ctx.dry_run:
            self._dry_ids += 1
            fake = f"dry-run-{self._dry_ids}"
            ctx.info(f"dry run: would create performer {subject}")
            self._by_subject[subject.casefold()] = fake
            self._names[fake] = subject
            return fake
        try:
            performer = ctx.stash.create_performer(subject, image_url=data_url(face_jpeg), gender=gender)
        except GraphQLError:
            # "already exists": created by someone else since our lookup; use theirs.
            existing = ctx.stash.find_performers_named(subject)
            if not existing:
                raise
            performer = existing[0]
        self._by_subject[subject.casefold()] = performer.id
        self._names[performer.id] = performer.name
        ctx.info(f"created performer {performer.id} ({subject})")
        return performer.id
