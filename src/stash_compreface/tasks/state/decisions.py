"""The user's decisions that every later run honours: refusals ("not this person in this item") and retired
subjects (never a performer again)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ...stash.models import ItemRef
from .shared import Repository


class Refusals(Repository):
    """What rejectMatch recorded: a performer, and the subjects it held, are not in an item."""

    def add(self, item: ItemRef, performer_id: str, subjects: Iterable[str]) -> None:
        """The user said this performer is not in ``item``."""
        with self._shared.write() as db:
            for subject in {*subjects, ""}:
                db.execute("INSERT OR IGNORE INTO refusals(item, performer_id, subject, created_at) "
                           "VALUES (?, ?, ?, ?)", (str(item), performer_id, subject.casefold(), time.time()))

    def forget(self, item: ItemRef, performer_id: str, subjects: Iterable[str]) -> None:
        """The user confirmed this performer in ``item`` after all (confirmMatch): forget the refusal."""
        with self._shared.write() as db:
            db.execute("DELETE FROM refusals WHERE item = ? AND performer_id = ?", (str(item), performer_id))
            for subject in subjects:
                db.execute("DELETE FROM refusals WHERE item = ? AND subject = ?", (str(item), subject.casefold()))

    def refused(self, item: ItemRef, *, performer_id: str | None = None, subject: str | None = None) -> bool:
        """Whether linking ``performer_id`` (or the performer of ``subject``) to ``item`` was refused."""
        with self._shared.read() as db:
            row = db.execute(
                "SELECT 1 FROM refusals WHERE item = ? AND (performer_id = ? OR (subject != '' AND subject = ?))",
                (str(item), performer_id or "", (subject or "").casefold())).fetchone()
        return row is not None


class Retired(Repository):
    """Subjects that must never become a performer again: rejected by the user, or their performer was deleted
    (or stopped holding them) in Stash."""

    def add(self, subject: str, reason: str) -> None:
        """Retire ``subject``: its promotion and pending links go with it."""
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO retired(subject, reason, retired_at) VALUES (?, ?, ?)",
                       (subject, reason, time.time()))
            db.execute("UPDATE candidates SET performer_id = NULL WHERE subject = ?", (subject,))
            db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def reason(self, subject: str) -> str | None:
        """Why ``subject`` was retired, or None when it was not."""
        with self._shared.read() as db:
            row = db.execute("SELECT reason FROM retired WHERE subject = ?", (subject,)).fetchone()
        return row[0] if row else None

    def remove(self, subject: str) -> None:
        """The user named or merged the subject after all: it may have a performer again."""
        with self._shared.write() as db:
            db.execute("DELETE FROM retired WHERE subject = ?", (subject,))
