"""Candidates (subjects with no performer yet, and where each was seen) and their promotions to performers.

A stranger seen once must not become a performer, so sightings outlive a run: a subject's distinct images and
scenes count together towards ``minFacesForNewPerformer``. A promotion is recorded as pending before its
links are written, so a run killed in between is completed by the next one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ...stash.models import ItemRef
from .shared import Repository


@dataclass(frozen=True)
class OpenCandidate:
    """A candidate as the review page lists it: how many items it was seen in, and the first of them."""

    subject: str
    seen: int
    items: tuple[ItemRef, ...]


@dataclass(frozen=True)
class Pending:
    """A promotion a previous run did not finish: the performer, and every item to link to it."""

    subject: str
    performer_id: str
    items: tuple[ItemRef, ...]


_OPEN = "c.performer_id IS NULL AND c.subject NOT IN (SELECT subject FROM retired)"


class Candidates(Repository):
    def add(self, subject: str) -> None:
        with self._shared.write() as db:
            db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)", (subject, time.time()))

    def exists(self, subject: str) -> bool:
        with self._shared.read() as db:
            return db.execute("SELECT 1 FROM candidates WHERE subject = ?", (subject,)).fetchone() is not None

    def record_sighting(self, subject: str, item: ItemRef) -> int:
        """Remember that ``subject`` was seen in ``item``; the number of distinct items it was seen in."""
        with self._shared.write() as db:
            db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)", (subject, time.time()))
            db.execute("INSERT OR IGNORE INTO sightings(subject, item) VALUES (?, ?)", (subject, str(item)))
            (count,) = db.execute("SELECT COUNT(*) FROM sightings WHERE subject = ?", (subject,)).fetchone()
        return int(count)

    def sightings(self, subject: str) -> list[ItemRef]:
        with self._shared.read() as db:
            rows = db.execute("SELECT item FROM sightings WHERE subject = ? ORDER BY item", (subject,)).fetchall()
        return [ItemRef.parse(item) for (item,) in rows]

    def add_sightings(self, subject: str, items: list[ItemRef]) -> list[ItemRef]:
        """Record ``items`` as sightings of ``subject`` (mergeCandidates: another subject's); those it did not
        have before, which are what undoing the merge takes back."""
        added = []
        with self._shared.write() as db:
            db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)", (subject, time.time()))
            for item in items:
                if db.execute("INSERT OR IGNORE INTO sightings(subject, item) VALUES (?, ?)",
                              (subject, str(item))).rowcount == 1:
                    added.append(item)
        return added

    def forget_sightings(self, subject: str, items: list[ItemRef]) -> None:
        """Undo of :meth:`add_sightings`: exactly these sightings of ``subject`` go."""
        with self._shared.write() as db:
            db.executemany("DELETE FROM sightings WHERE subject = ? AND item = ?", [(subject, str(i)) for i in items])

    def open(self, limit: int, items_each: int, offset: int = 0) -> list[OpenCandidate]:
        """The ``limit`` subjects after the first ``offset`` with no performer that are not retired, the most
        seen first, each with its first ``items_each`` items: a page of what the review page offers to name,
        merge or reject. One query."""
        with self._shared.read() as db:
            rows = db.execute(
                "WITH shown AS ("
                "  SELECT c.subject, c.created_at, COUNT(s.item) AS seen FROM candidates c "
                f"  LEFT JOIN sightings s ON s.subject = c.subject WHERE {_OPEN} "
                "  GROUP BY c.subject ORDER BY seen DESC, c.created_at, c.subject LIMIT ? OFFSET ?), "
                "first AS ("
                "  SELECT subject, item, ROW_NUMBER() OVER (PARTITION BY subject ORDER BY item) AS n FROM sightings "
                "  WHERE subject IN (SELECT subject FROM shown)) "
                "SELECT shown.subject, shown.seen, first.item FROM shown "
                "LEFT JOIN first ON first.subject = shown.subject AND first.n <= ? "
                "ORDER BY shown.seen DESC, shown.created_at, shown.subject, first.n",
                (limit, offset, items_each)).fetchall()
        found: dict[str, tuple[int, list[ItemRef]]] = {}
        for subject, seen, item in rows:
            items = found.setdefault(subject, (int(seen), []))[1]
            if item is not None:
                items.append(ItemRef.parse(item))
        return [OpenCandidate(subject, seen, tuple(items)) for subject, (seen, items) in found.items()]

    def open_count(self) -> int:
        """How many candidates :meth:`open` would list without a limit (a run's closing summary, the review
        page's "and N more")."""
        with self._shared.read() as db:
            (count,) = db.execute(f"SELECT COUNT(*) FROM candidates c WHERE {_OPEN}").fetchone()
        return int(count)


class Promotions(Repository):
    """Which performer each candidate became (``candidates.performer_id``), and the promotions in flight."""

    def performer_of(self, subject: str) -> str | None:
        with self._shared.read() as db:
            row = db.execute("SELECT performer_id FROM candidates WHERE subject = ?", (subject,)).fetchone()
        return row[0] if row else None

    def promoted_to(self, subject: str) -> str | None:
        """The performer a candidate was promoted to, its earlier items linked or about to be (pending)."""
        with self._shared.read() as db:
            row = db.execute("SELECT performer_id FROM pending_promotions WHERE subject = ? UNION ALL "
                             "SELECT performer_id FROM candidates WHERE subject = ? AND performer_id IS NOT NULL",
                             (subject, subject)).fetchone()
        return row[0] if row else None

    def mark_pending(self, subject: str, performer_id: str) -> None:
        """Call before linking a promoted subject's items: a run killed mid-link leaves this behind."""
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO pending_promotions(subject, performer_id, created_at) VALUES (?, ?, ?)",
                       (subject, performer_id, time.time()))

    def clear_pending(self, subject: str) -> None:
        """Drop a pending promotion without completing it (e.g. its performer no longer exists)."""
        with self._shared.write() as db:
            db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def complete(self, subject: str, performer_id: str) -> None:
        """The subject's items are linked to ``performer_id``: the promotion is complete (pending cleared)."""
        with self._shared.write() as db:
            db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)", (subject, time.time()))
            db.execute("UPDATE candidates SET performer_id = ? WHERE subject = ?", (performer_id, subject))
            db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def pending(self) -> list[Pending]:
        """The promotions a previous run did not finish, oldest first, with their items. One query."""
        with self._shared.read() as db:
            rows = db.execute(
                "SELECT p.subject, p.performer_id, s.item FROM pending_promotions p "
                "LEFT JOIN sightings s ON s.subject = p.subject "
                "ORDER BY p.created_at, p.subject, s.item").fetchall()
        found: dict[str, tuple[str, list[ItemRef]]] = {}
        for subject, performer_id, item in rows:
            items = found.setdefault(subject, (performer_id, []))[1]
            if item is not None:
                items.append(ItemRef.parse(item))
        return [Pending(subject, performer_id, tuple(items)) for subject, (performer_id, items) in found.items()]

    def reopen(self, subject: str) -> None:
        """The subject's performer no longer holds it (its alias was removed): it is a candidate again."""
        with self._shared.write() as db:
            db.execute("UPDATE candidates SET performer_id = NULL WHERE subject = ?", (subject,))

    def reopen_performer(self, performer_id: str) -> None:
        """The performer is gone (undone): its subjects are candidates again, waiting for review."""
        with self._shared.write() as db:
            db.execute("UPDATE candidates SET performer_id = NULL WHERE performer_id = ?", (performer_id,))
