"""Performers merged because their groups of faces are one person (``tasks/performers.py``): a merge in
flight, kept from its first write to its last so a run killed in between is completed by the next, and how
many examples each performer's subject held when it was last compared, so only what changed is compared again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .shared import Repository


@dataclass(frozen=True)
class PendingMerge:
    removed_id: str
    into_id: str
    detail: dict[str, Any]  # the removed performer as it was: what the journal's PerformersMerged records


class Merges(Repository):
    def begin(self, removed_id: str, into_id: str, detail: dict[str, Any]) -> PendingMerge:
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO pending_merges(removed_id, into_id, detail) VALUES (?, ?, ?)",
                       (removed_id, into_id, json.dumps(detail, sort_keys=True)))
        return PendingMerge(removed_id, into_id, detail)

    def pending(self) -> list[PendingMerge]:
        with self._shared.read() as db:
            rows = db.execute("SELECT removed_id, into_id, detail FROM pending_merges ORDER BY removed_id").fetchall()
        return [PendingMerge(removed, into, json.loads(detail)) for removed, into, detail in rows]

    def done(self, removed_id: str) -> None:
        with self._shared.write() as db:
            db.execute("DELETE FROM pending_merges WHERE removed_id = ?", (removed_id,))

    def compared(self, performer_id: str) -> int | None:
        """How many examples the performer's subjects held when it was last compared; None: never."""
        with self._shared.read() as db:
            row = db.execute("SELECT examples FROM merge_checked WHERE performer_id = ?", (performer_id,)).fetchone()
        return None if row is None else int(row[0])

    def mark_compared(self, performer_id: str, examples: int) -> None:
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO merge_checked(performer_id, examples) VALUES (?, ?)",
                       (performer_id, examples))
