"""Examples the plugin sent: which item each subject already learned a face of, and which examples were copied
between CompreFace and the built-in engine. Both are recorded so that a rerun sends each once."""

from __future__ import annotations

from ...stash.models import ItemRef
from .shared import Repository


class Learned(Repository):
    """One face per item per subject (``tasks/enrolment.py``)."""

    def claim(self, subject: str, item: ItemRef) -> bool:
        """True the first time a face of ``item`` is taken as an example of ``subject``.

        Claimed before the upload: a kill in between costs one example, never adds one twice.
        """
        with self._shared.write() as db:
            cursor = db.execute("INSERT OR IGNORE INTO learned(subject, item) VALUES (?, ?)", (subject, str(item)))
        return cursor.rowcount == 1

    def unclaim(self, subject: str, item: ItemRef) -> None:
        """The example taken from ``item`` was deleted (undo, rejection): it may be learned again."""
        with self._shared.write() as db:
            db.execute("DELETE FROM learned WHERE subject = ? AND item = ?", (subject, str(item)))


class Transfers(Repository):
    """Examples copied by importFromCompreFace and exportToCompreFace, by direction (``import``, ``export``)."""

    def done(self, direction: str, source_id: str) -> bool:
        """Whether this example was already copied in ``direction``."""
        with self._shared.read() as db:
            row = db.execute("SELECT 1 FROM transfers WHERE direction = ? AND source_id = ?",
                             (direction, source_id)).fetchone()
        return row is not None

    def record(self, direction: str, source_id: str, target_id: str) -> None:
        """Recorded after the copy: a kill in between copies that one example again, never loses it."""
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO transfers(direction, source_id, target_id) VALUES (?, ?, ?)",
                       (direction, source_id, target_id))

    def forget(self, direction: str, source_id: str, target_id: str) -> None:
        """The copy ``target_id`` was deleted (undoRun): a later run copies ``source_id`` again. Only that
        copy's record goes; a newer copy of the same example (a rerun after the undo) keeps its record."""
        with self._shared.write() as db:
            db.execute("DELETE FROM transfers WHERE direction = ? AND source_id = ? AND target_id = ?",
                       (direction, source_id, target_id))
