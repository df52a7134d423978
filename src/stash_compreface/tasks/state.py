"""Local, durable memory of candidate subjects: who was seen where, and who became a performer.

A stranger seen once must not become a performer, so sightings have to outlive a run (and a SIGKILL).
Stash has nowhere to keep them (no performer exists yet, images have no custom fields), so they live in
a small SQLite file next to the plugin. Every write commits at once. A dry run works on an in-memory
copy, so it reads past sightings but leaves the file untouched.

The file is only a cache of work in progress, so it must never stop a run: a file SQLite cannot read
(truncated, overwritten, someone else's schema) is moved aside with one warning and replaced by a fresh
one. The one thing that is refused is a file written by a *newer* plugin: clobbering it would lose data
that an upgrade would have kept. The layout carries ``PRAGMA user_version`` and is upgraded by ordered
migrations.

It also holds the undo journal's rows (``runs``, ``run_writes``); what they mean is ``tasks/journal.py``'s.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import hookqueue
from ..errors import FatalError, SettingError
from ..hookqueue import STATE_FILE, folder_is_writable
from ..sqlite_file import (
    Damaged,
    NewerFileError,
    Schema,
    connect,
    in_memory,
    open_copy,
    open_file,
    prepare,
    read_into_memory,
)

Warn = Callable[[str], None]

# Ordered migrations: entry N-1 brings a file from user_version N-1 to N. Never edit a released entry;
# append a new one. Version 1 is the layout that shipped without a version (user_version 0), hence
# IF NOT EXISTS: such files already hold these tables.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS candidates (
            subject TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            performer_id TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS sightings (
            subject TEXT NOT NULL,
            image_id TEXT NOT NULL,
            PRIMARY KEY (subject, image_id)
        )""",
        """CREATE TABLE IF NOT EXISTS learned (
            subject TEXT NOT NULL,
            image_id TEXT NOT NULL,
            PRIMARY KEY (subject, image_id)
        )""",
    ),
    (
        # A promotion whose image links may not have been written yet (the run can be killed in between).
        """CREATE TABLE pending_promotions (
            subject TEXT PRIMARY KEY,
            performer_id TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
    ),
    (
        # Examples copied between CompreFace and the built-in engine, so a rerun copies each once.
        """CREATE TABLE transfers (
            direction TEXT NOT NULL,
            source_id TEXT NOT NULL,
            target_id TEXT NOT NULL,
            PRIMARY KEY (direction, source_id)
        )""",
    ),
    (
        # The journal: every write a run performed, so undoRun can revert exactly that run's additions;
        # and the user's refusals ("not this person"), so no later run links that face to that item again.
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mode TEXT NOT NULL,
            started_at REAL NOT NULL,
            undone_at REAL
        )""",
        """CREATE TABLE run_writes (
            run_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
        """CREATE TABLE refusals (
            item TEXT NOT NULL,
            performer_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (item, performer_id, subject)
        )""",
    ),
    (
        # 5: subjects that must never become a performer again: rejected by the user, or their performer was
        # deleted in Stash.
        """CREATE TABLE retired (
            subject TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            retired_at REAL NOT NULL
        )""",
    ),
    (
        # 6: the typed journal (tasks/journal.py). Runs whose entries were trimmed (journalRuns) stay known, so
        # undoing one says why it cannot. The entries move into a table clustered by (run_id, seq), without the
        # rowid and the separate key index, in their compact form: a link's detail no longer repeats the kind
        # and item of its target; a link that added no performer becomes "tags"; an example is filed under the
        # item it came from (how rejectMatch and confirmMatch look it up), its subject moving into the detail.
        "ALTER TABLE runs ADD COLUMN trimmed_at REAL",
        """CREATE TABLE journal (
            run_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
        """INSERT INTO journal(run_id, seq, kind, target, detail)
            SELECT run_id, seq,
                CASE WHEN kind = 'link' AND COALESCE(json_array_length(detail, '$.performers'), 0) = 0 THEN 'tags'
                     ELSE kind END,
                CASE WHEN kind = 'example' THEN COALESCE(json_extract(detail, '$.item'), '') ELSE target END,
                json(CASE WHEN kind = 'link' THEN json_remove(detail, '$.kind', '$.item')
                          WHEN kind = 'example' THEN json_set(json_remove(detail, '$.item'), '$.subject', target)
                          ELSE detail END)
            FROM run_writes""",
        "UPDATE journal SET detail = json_remove(detail, '$.performers') WHERE kind = 'tags'",
        "DROP TABLE run_writes",
        "ALTER TABLE journal RENAME TO run_writes",
        "CREATE INDEX run_writes_examples ON run_writes(target) WHERE kind = 'example'",
    ),
)

# What a current file must contain; anything less is not our file.
_EXPECTED_COLUMNS: Mapping[str, frozenset[str]] = {
    "candidates": frozenset({"subject", "created_at", "performer_id"}),
    "sightings": frozenset({"subject", "image_id"}),
    "learned": frozenset({"subject", "image_id"}),
    "pending_promotions": frozenset({"subject", "performer_id", "created_at"}),
    "transfers": frozenset({"direction", "source_id", "target_id"}),
    "runs": frozenset({"id", "mode", "started_at", "undone_at", "trimmed_at"}),
    "run_writes": frozenset({"run_id", "seq", "kind", "target", "detail"}),
    "refusals": frozenset({"item", "performer_id", "subject", "created_at"}),
    "retired": frozenset({"subject", "reason", "retired_at"}),
}

_LOST = ("candidate sightings (unnamed faces start counting towards minFacesForNewPerformer again), "
         "learned-example claims (an image may be uploaded to CompreFace as an example once more) "
         "and unfinished promotions")

_log = logging.getLogger(__name__)

SCHEMA = Schema(what="state file", migrations=_MIGRATIONS, expected_columns=_EXPECTED_COLUMNS, lost=_LOST)
NewerStateError = NewerFileError  # the name callers and tests know
SCHEMA_VERSION = SCHEMA.version


# ----------------------------------------------------------------------------------------------- where


@dataclass(frozen=True)
class StateLocation:
    """Where the state lives (and the run lock with it).

    ``seed`` is an older state file to start from when ``file`` does not exist yet: the preferred folder
    became read-only, so its data is copied rather than forgotten.
    """

    folder: Path
    seed: Path | None = None

    @property
    def file(self) -> Path:
        return self.folder / STATE_FILE


def user_state_dir(stash_url: str, *, environ: Mapping[str, str] | None = None, windows: bool | None = None) -> Path:
    """The per-user folder used when the plugin folder is read-only (``hookqueue.user_state_dir``)."""
    return Path(hookqueue.user_state_dir(stash_url, environ=environ, windows=windows))


def locate_state(
    *,
    preferred: Path | None,
    configured: Path | None = None,
    fallback: Path,
    warn: Warn,
    writable: Callable[[Path], bool] = folder_is_writable,
) -> StateLocation:
    """Pick the state folder: ``configured`` (the stateDir setting) if set, else ``preferred`` (the plugin
    folder's ``data/``) if writable, else the per-user ``fallback``, saying so in one warning.
    """
    folder, why = hookqueue.choose_state_folder(configured, preferred, fallback, writable)  # as the hooks do
    if why == "configured":
        if not writable(folder):
            raise SettingError(f"stateDir {folder} is not a writable folder: choose a folder the Stash "
                               "process can write to, or clear stateDir", setting="stateDir")
        return StateLocation(folder)
    if why == "preferred":
        return StateLocation(folder)
    if not writable(fallback):
        where = f"Neither {preferred} nor {fallback} is" if preferred is not None else f"{fallback} is not"
        raise FatalError(f"{where} a writable folder for the plugin's state: set stateDir to a folder the Stash "
                         "process can write to", setting="stateDir")
    seed = None
    if preferred is not None:
        old = preferred / STATE_FILE
        seed = old if old.is_file() and not (fallback / STATE_FILE).exists() else None
        copied = f"; starting from a copy of {old}" if seed else ""
        warn(f"State folder {preferred} is not writable (read-only mount?): keeping the state in {fallback} "
             f"instead{copied}. Set stateDir to choose the folder.")
    return StateLocation(fallback, seed=seed)


def open_state(location: StateLocation, *, warn: Warn, dry_run: bool = False) -> StateStore:
    return StateStore(location.file, dry_run=dry_run, warn=warn, seed=location.seed)


# ----------------------------------------------------------------------------------------------- opening


class StateStore:
    def __init__(self, path: Path | None, *, dry_run: bool = False, warn: Warn | None = None,
                 seed: Path | None = None) -> None:
        """``path`` None keeps everything in memory; ``seed`` is a state file to start from when ``path``
        does not exist yet (see :class:`StateLocation`)."""
        self._lock = threading.Lock()
        self._warn = warn if warn is not None else _log.warning
        self.path = path
        if path is None:
            self._db = in_memory(SCHEMA)
        elif dry_run:
            self._db = self._open_dry(path, seed)
        else:
            self._db = self._open_disk(path, seed)

    def _open_disk(self, path: Path, seed: Path | None) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        if seed is not None and not path.exists():
            self._copy_seed(seed, path)
        return open_file(path, SCHEMA, self._warn)

    def _copy_seed(self, seed: Path, path: Path) -> None:
        """Carry the state of a folder that became read-only over; if that fails, start afresh."""
        try:
            memory = read_into_memory(seed)
            try:
                prepare(memory, SCHEMA, str(seed))
                disk = connect(path)
                try:
                    memory.backup(disk)
                finally:
                    disk.close()
            finally:
                memory.close()
        except NewerStateError:
            raise
        except (sqlite3.Error, Damaged, OSError) as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            self._warn(f"Could not copy the state from {seed} ({exc}); starting a new state file in {path}. "
                       f"Not carried over: {_LOST}.")

    def _open_dry(self, path: Path, seed: Path | None) -> sqlite3.Connection:
        return open_copy(path if path.exists() else seed, SCHEMA, self._warn)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_candidate(self, subject: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)",
                             (subject, time.time()))

    def is_candidate(self, subject: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM candidates WHERE subject = ?", (subject,)).fetchone()
        return row is not None

    def record_sighting(self, subject: str, image_id: str) -> int:
        """Remember that ``subject`` was seen in ``image_id``; returns the number of distinct images."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)",
                             (subject, time.time()))
            self._db.execute("INSERT OR IGNORE INTO sightings(subject, image_id) VALUES (?, ?)",
                             (subject, image_id))
            (count,) = self._db.execute("SELECT COUNT(*) FROM sightings WHERE subject = ?",
                                        (subject,)).fetchone()
        return int(count)

    def sightings(self, subject: str) -> list[str]:
        with self._lock:
            return self._sightings(subject)

    def _sightings(self, subject: str) -> list[str]:
        rows = self._db.execute("SELECT image_id FROM sightings WHERE subject = ? ORDER BY image_id",
                                (subject,)).fetchall()
        return [r[0] for r in rows]

    def promoted_performer(self, subject: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT performer_id FROM candidates WHERE subject = ?",
                                   (subject,)).fetchone()
        return row[0] if row else None

    def mark_promoted(self, subject: str, performer_id: str) -> None:
        """The subject's images are linked to ``performer_id``: the promotion is complete (pending cleared)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)",
                             (subject, time.time()))
            self._db.execute("UPDATE candidates SET performer_id = ? WHERE subject = ?", (performer_id, subject))
            self._db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def mark_pending(self, subject: str, performer_id: str) -> None:
        """Call before linking a promoted subject's images: a run killed mid-link leaves this behind."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO pending_promotions(subject, performer_id, created_at) "
                             "VALUES (?, ?, ?)", (subject, performer_id, time.time()))

    def clear_pending(self, subject: str) -> None:
        """Drop a pending promotion without marking it done (e.g. its performer no longer exists)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def pending_promotions(self) -> list[tuple[str, str, list[str]]]:
        """``(subject, performer_id, image_ids)`` of promotions a previous run did not finish, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT subject, performer_id FROM pending_promotions "
                                    "ORDER BY created_at, subject").fetchall()
            return [(subject, performer_id, self._sightings(subject)) for subject, performer_id in rows]

    def transferred(self, direction: str, source_id: str) -> bool:
        """Whether this example was already copied in ``direction`` (import or export)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM transfers WHERE direction = ? AND source_id = ?",
                                   (direction, source_id)).fetchone()
        return row is not None

    def record_transfer(self, direction: str, source_id: str, target_id: str) -> None:
        """Recorded after the copy: a kill in between copies that one example again, never loses it."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO transfers(direction, source_id, target_id) VALUES (?, ?, ?)",
                             (direction, source_id, target_id))

    def forget_transfer(self, direction: str, source_id: str, target_id: str) -> None:
        """The copy ``target_id`` was deleted (undoRun): a later run copies ``source_id`` again. Only that
        copy's record goes; a newer copy of the same example (a rerun after the undo) keeps its record."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM transfers WHERE direction = ? AND source_id = ? AND target_id = ?",
                             (direction, source_id, target_id))

    def claim_example(self, subject: str, image_id: str) -> bool:
        """True the first time a face of ``image_id`` is taken as an example of ``subject``.

        Claimed before the upload: a kill in between costs one example, never adds one twice.
        """
        with self._lock, self._db:
            cursor = self._db.execute("INSERT OR IGNORE INTO learned(subject, image_id) VALUES (?, ?)",
                                      (subject, image_id))
        return cursor.rowcount == 1

    def unclaim_example(self, subject: str, image_id: str) -> None:
        """The example taken from ``image_id`` was deleted (undo, rejection): it may be learned again."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM learned WHERE subject = ? AND image_id = ?", (subject, image_id))

    # -- the journal (stored rows; tasks/journal.py reads and writes them as typed entries) ------------

    def start_run(self, mode: str) -> int:
        """A new run id; every write of the run is recorded under it."""
        with self._lock, self._db:
            cursor = self._db.execute("INSERT INTO runs(mode, started_at) VALUES (?, ?)", (mode, time.time()))
        return int(cursor.lastrowid or 0)

    def trim_runs(self, keep: int) -> int:
        """Delete the entries of every run before the newest ``keep``; those runs stay, marked trimmed. How
        many runs were newly trimmed."""
        with self._lock, self._db:
            row = self._db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,)).fetchone()
            if row is None:
                return 0
            self._db.execute("DELETE FROM run_writes WHERE run_id <= ?", (row[0],))
            cursor = self._db.execute("UPDATE runs SET trimmed_at = ? WHERE id <= ? AND trimmed_at IS NULL",
                                      (time.time(), row[0]))
        return cursor.rowcount

    def run_record(self, run_id: int) -> tuple[str, bool, bool] | None:
        """``(mode, undone, trimmed)`` of a run, None when the state has no such run."""
        with self._lock:
            row = self._db.execute("SELECT mode, undone_at IS NOT NULL, trimmed_at IS NOT NULL FROM runs WHERE id = ?",
                                   (run_id,)).fetchone()
        return None if row is None else (str(row[0]), bool(row[1]), bool(row[2]))

    def append_entry(self, run_id: int, kind: str, target: str, detail: str) -> None:
        with self._lock, self._db:
            (seq,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM run_writes WHERE run_id = ?",
                                      (run_id,)).fetchone()
            self._db.execute("INSERT INTO run_writes(run_id, seq, kind, target, detail) VALUES (?, ?, ?, ?, ?)",
                             (run_id, seq, kind, target, detail))

    def run_entries(self, run_id: int) -> list[tuple[str, str, str]]:
        """``(kind, target, detail)`` of the run's entries in the order they were written."""
        with self._lock:
            return self._db.execute("SELECT kind, target, detail FROM run_writes WHERE run_id = ? ORDER BY seq",
                                    (run_id,)).fetchall()

    def run_entries_of_kind(self, run_id: int, kind: str, limit: int) -> tuple[list[tuple[str, str]], int]:
        """``(target, detail)`` of the run's first ``limit`` entries of ``kind``, and how many it has."""
        with self._lock:
            rows = self._db.execute("SELECT target, detail FROM run_writes WHERE run_id = ? AND kind = ? ORDER BY seq "
                                    "LIMIT ?", (run_id, kind, limit)).fetchall()
            (count,) = self._db.execute("SELECT COUNT(*) FROM run_writes WHERE run_id = ? AND kind = ?",
                                        (run_id, kind)).fetchone()
        return rows, int(count)

    def entries_at(self, kind: str, target: str) -> list[tuple[str, str]]:
        """``(target, detail)`` of every entry of ``kind`` at ``target``, any run, oldest first."""
        with self._lock:
            return self._db.execute("SELECT target, detail FROM run_writes WHERE kind = ? AND target = ? "
                                    "ORDER BY run_id, seq", (kind, target)).fetchall()

    def targets_shared(self, run_id: int, kind: str) -> set[str]:
        """Targets of the run's entries of ``kind`` that entries of ``kind`` of other runs, not undone, share."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT w.target FROM run_writes w JOIN runs r ON r.id = w.run_id "
                "WHERE w.kind = ? AND w.run_id != ? AND r.undone_at IS NULL "
                "AND w.target IN (SELECT target FROM run_writes WHERE run_id = ? AND kind = ?)",
                (kind, run_id, run_id, kind)).fetchall()
        return {target for (target,) in rows}

    def mark_undone(self, run_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE runs SET undone_at = COALESCE(undone_at, ?) WHERE id = ?", (time.time(), run_id))

    # -- refusals --------------------------------------------------------------------------------

    def refuse(self, item: str, performer_id: str, subjects: Iterable[str]) -> None:
        """The user said this performer is not in ``item`` (an image id, or :func:`scene_item`)."""
        with self._lock, self._db:
            for subject in {*subjects, ""}:
                self._db.execute("INSERT OR IGNORE INTO refusals(item, performer_id, subject, created_at) "
                                 "VALUES (?, ?, ?, ?)", (item, performer_id, subject.casefold(), time.time()))

    def unrefuse(self, item: str, performer_id: str, subjects: Iterable[str]) -> None:
        """The user confirmed this performer in ``item`` after all (confirmMatch): forget the refusal."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM refusals WHERE item = ? AND performer_id = ?", (item, performer_id))
            for subject in subjects:
                self._db.execute("DELETE FROM refusals WHERE item = ? AND subject = ?", (item, subject.casefold()))

    def refused(self, item: str, *, performer_id: str | None = None, subject: str | None = None) -> bool:
        """Whether linking ``performer_id`` (or the performer of ``subject``) to ``item`` was refused."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM refusals WHERE item = ? AND (performer_id = ? OR (subject != '' AND subject = ?))",
                (item, performer_id or "", (subject or "").casefold())).fetchone()
        return row is not None


    # -- retired subjects --------------------------------------------------------------------------

    def retire(self, subject: str, reason: str) -> None:
        """Never make a performer of ``subject`` again (its sightings and pending links go with it)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO retired(subject, reason, retired_at) VALUES (?, ?, ?)",
                             (subject, reason, time.time()))
            self._db.execute("UPDATE candidates SET performer_id = NULL WHERE subject = ?", (subject,))
            self._db.execute("DELETE FROM pending_promotions WHERE subject = ?", (subject,))

    def retired_reason(self, subject: str) -> str | None:
        """Why ``subject`` was retired, or None when it was not."""
        with self._lock:
            row = self._db.execute("SELECT reason FROM retired WHERE subject = ?", (subject,)).fetchone()
        return row[0] if row else None

    def unretire(self, subject: str) -> None:
        """The user named or merged the subject after all: it may have a performer again."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM retired WHERE subject = ?", (subject,))

    def clear_promotions_of(self, performer_id: str) -> None:
        """The performer is gone (undone): its subjects are candidates again, waiting for review."""
        with self._lock, self._db:
            self._db.execute("UPDATE candidates SET performer_id = NULL WHERE performer_id = ?", (performer_id,))

    def clear_promotion(self, subject: str) -> None:
        """The subject's performer no longer holds it (the alias was removed): it is a candidate again."""
        with self._lock, self._db:
            self._db.execute("UPDATE candidates SET performer_id = NULL WHERE subject = ?", (subject,))

    # -- the review page (read only) ---------------------------------------------------------------

    def open_candidates(self) -> list[tuple[str, int, list[str]]]:
        """``(subject, sightings, first item ids)`` of subjects with no performer that are not retired, the
        most seen first: what the review page offers to name, merge or reject."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.subject, COUNT(s.image_id) AS n FROM candidates c "
                "LEFT JOIN sightings s ON s.subject = c.subject "
                "WHERE c.performer_id IS NULL AND c.subject NOT IN (SELECT subject FROM retired) "
                "GROUP BY c.subject ORDER BY n DESC, c.created_at, c.subject").fetchall()
            return [(subject, int(n), self._sightings(subject)) for subject, n in rows]

    def open_candidate_count(self) -> int:
        """How many candidates :meth:`open_candidates` lists (for a run's closing summary)."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM candidates WHERE performer_id IS NULL "
                "AND subject NOT IN (SELECT subject FROM retired)").fetchone()
        return int(count)

    def recent_runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest ``limit`` journalled runs that wrote something (a look from the image or scene page
        writes nothing, and nothing is there to undo), newest first, with how many writes each made."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.id, r.mode, r.started_at, r.undone_at, "
                "(SELECT COUNT(*) FROM run_writes w WHERE w.run_id = r.id) FROM runs r "
                "WHERE EXISTS (SELECT 1 FROM run_writes w WHERE w.run_id = r.id) "
                "ORDER BY r.id DESC LIMIT ?", (limit,)).fetchall()
        return [RunSummary(int(i), m, float(s), u is not None, int(n)) for i, m, s, u, n in rows]


@dataclass(frozen=True)
class RunSummary:
    """One journalled run as the review page lists it."""

    run_id: int
    mode: str
    started_at: float
    undone: bool
    writes: int
