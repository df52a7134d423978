"""The undo journal's rows: runs, and each run's entries as stored (a kind, a target, a JSON detail).

What the rows mean is ``tasks/journal.py``'s, which reads and writes them as typed entries; this module only
stores and selects them. Every list has a limit, and each is one query, whatever the number of runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .shared import Repository, Shared

Row = tuple[str, str]  # (target, detail)


@dataclass(frozen=True)
class RunSummary:
    """One journalled run as the review page lists it."""

    run_id: int
    mode: str
    started_at: float
    undone: bool
    writes: int


class Runs(Repository):
    def __init__(self, shared: Shared, *, started: Callable[[int], None] = lambda run_id: None) -> None:
        super().__init__(shared)
        self._started = started  # told each new run id (the store keeps the high-water mark outside the file)

    def start(self, mode: str) -> int:
        """A new run id, recorded with the library it writes to; every write of the run is recorded under it."""
        with self._shared.write() as db:
            cursor = db.execute("INSERT INTO runs(mode, started_at, library) VALUES (?, ?, ?)",
                                (mode, time.time(), self._shared.library))
        run_id = int(cursor.lastrowid or 0)
        self._started(run_id)
        return run_id

    def library_of(self, run_id: int) -> str | None:
        """The Stash library (database path) the run wrote to; None when unknown (older runs) or no such run."""
        with self._shared.read() as db:
            row = db.execute("SELECT library FROM runs WHERE id = ?", (run_id,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def last_id(self) -> int:
        """The highest run id this file ever gave (AUTOINCREMENT's sequence), 0 before the first run."""
        with self._shared.read() as db:
            row = db.execute("SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'runs'").fetchone()
        return int(row[0] or 0) if row else 0

    def continue_after(self, run_id: int) -> None:
        """Make the next run id exceed ``run_id`` (the state was reset but ids given before must not repeat)."""
        with self._shared.write() as db:  # one lock for the look and the change; no change, no commit
            (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'runs'").fetchone()
            if run_id <= int(last):
                return
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'runs'")
            db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('runs', ?)", (run_id,))

    def trim(self, keep: int) -> int:
        """Delete the entries of every run before the newest ``keep``; those runs stay, marked trimmed. How
        many runs were newly trimmed."""
        with self._shared.write() as db:
            row = db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,)).fetchone()
            if row is None:
                return 0
            db.execute("DELETE FROM run_writes WHERE run_id <= ?", (row[0],))
            cursor = db.execute("UPDATE runs SET trimmed_at = ? WHERE id <= ? AND trimmed_at IS NULL",
                                (time.time(), row[0]))
        return cursor.rowcount

    def record(self, run_id: int) -> tuple[str, bool, bool] | None:
        """``(mode, undone, trimmed)`` of a run, None when the state has no such run."""
        with self._shared.read() as db:
            row = db.execute("SELECT mode, undone_at IS NOT NULL, trimmed_at IS NOT NULL FROM runs WHERE id = ?",
                             (run_id,)).fetchone()
        return None if row is None else (str(row[0]), bool(row[1]), bool(row[2]))

    def mark_undone(self, run_id: int) -> None:
        with self._shared.write() as db:
            db.execute("UPDATE runs SET undone_at = COALESCE(undone_at, ?) WHERE id = ?", (time.time(), run_id))

    def recent(self, limit: int) -> list[RunSummary]:
        """The newest ``limit`` runs that wrote something (a look writes nothing, and nothing is there to undo),
        newest first, with how many writes each made."""
        with self._shared.read() as db:
            rows = db.execute(
                "SELECT r.id, r.mode, r.started_at, r.undone_at, "
                "(SELECT COUNT(*) FROM run_writes w WHERE w.run_id = r.id) FROM runs r "
                "WHERE EXISTS (SELECT 1 FROM run_writes w WHERE w.run_id = r.id) "
                "ORDER BY r.id DESC LIMIT ?", (limit,)).fetchall()
        return [RunSummary(int(i), m, float(s), u is not None, int(n)) for i, m, s, u, n in rows]

    # -- entries ---------------------------------------------------------------------------------------

    def append(self, run_id: int, kind: str, target: str, detail: str) -> None:
        with self._shared.write() as db:
            (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM run_writes WHERE run_id = ?",
                                (run_id,)).fetchone()
            db.execute("INSERT INTO run_writes(run_id, seq, kind, target, detail) VALUES (?, ?, ?, ?, ?)",
                       (run_id, seq, kind, target, detail))

    def entries(self, run_id: int) -> list[tuple[str, str, str]]:
        """``(kind, target, detail)`` of the run's entries in the order they were written."""
        with self._shared.read() as db:
            return db.execute("SELECT kind, target, detail FROM run_writes WHERE run_id = ? ORDER BY seq",
                              (run_id,)).fetchall()

    def first_entries(self, run_ids: Sequence[int], kind: str, limit: int) -> dict[int, tuple[list[Row], int]]:
        """For each of ``run_ids`` that has entries of ``kind``: its first ``limit`` of them and how many it has.
        One query for all the runs."""
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        with self._shared.read() as db:
            rows = db.execute(
                "SELECT run_id, target, detail, total FROM ("
                "  SELECT run_id, seq, target, detail, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY seq) AS n, "
                "         COUNT(*) OVER (PARTITION BY run_id) AS total "
                f"  FROM run_writes WHERE kind = ? AND run_id IN ({marks})) "
                "WHERE n <= ? ORDER BY run_id, seq", (kind, *run_ids, limit)).fetchall()
        found: dict[int, tuple[list[Row], int]] = {}
        for run_id, target, detail, total in rows:
            found.setdefault(int(run_id), ([], int(total)))[0].append((target, detail))
        return found

    def entries_at(self, kind: str, target: str, *, undone: bool = True) -> list[Row]:
        """``(target, detail)`` of every entry of ``kind`` at ``target``, any run (only those not undone when
        not ``undone``), oldest first."""
        live = "" if undone else " AND run_id IN (SELECT id FROM runs WHERE undone_at IS NULL)"
        with self._shared.read() as db:
            return db.execute("SELECT target, detail FROM run_writes WHERE kind = ? AND target = ?" + live +
                              " ORDER BY run_id, seq", (kind, target)).fetchall()

    def entries_about(self, kind: str, field: str, values: Sequence[str]) -> list[Row]:
        """``(target, detail)`` of every entry of ``kind`` whose detail's ``field`` is one of ``values``, any
        run not undone, oldest first (the performer page: where each example of a subject came from)."""
        if not values:
            return []
        marks = ", ".join("?" * len(values))
        with self._shared.read() as db:
            return db.execute(
                f"SELECT target, detail FROM run_writes WHERE kind = ? AND json_extract(detail, '$.{field}') "
                f"IN ({marks}) AND run_id IN (SELECT id FROM runs WHERE undone_at IS NULL) ORDER BY run_id, seq",
                (kind, *values)).fetchall()

    def targets_shared(self, run_id: int, kind: str) -> set[str]:
        """Targets of the run's entries of ``kind`` that entries of ``kind`` of other runs, not undone, share."""
        with self._shared.read() as db:
            rows = db.execute(
                "SELECT DISTINCT w.target FROM run_writes w JOIN runs r ON r.id = w.run_id "
                "WHERE w.kind = ? AND w.run_id != ? AND r.undone_at IS NULL "
                "AND w.target IN (SELECT target FROM run_writes WHERE run_id = ? AND kind = ?)",
                (kind, run_id, run_id, kind)).fetchall()
        return {target for (target,) in rows}
