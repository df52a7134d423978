"""Local, durable memory of candidate subjects: who was seen where, and who became a performer.

A stranger seen once must not become a performer, so sightings have to outlive a run (and a SIGKILL).
Stash has nowhere to keep them (no performer exists yet, images have no custom fields), so they live in
a small SQLite file next to the plugin. Every write commits at once. A dry run works on an in-memory
copy, so it reads past sightings but leaves the file untouched.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS candidates (
    subject TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    performer_id TEXT
);
CREATE TABLE IF NOT EXISTS sightings (
    subject TEXT NOT NULL,
    image_id TEXT NOT NULL,
    PRIMARY KEY (subject, image_id)
);
CREATE TABLE IF NOT EXISTS learned (
    subject TEXT NOT NULL,
    image_id TEXT NOT NULL,
    PRIMARY KEY (subject, image_id)
);
"""


class StateStore:
    def __init__(self, path: Path | None, *, dry_run: bool = False) -> None:
        self._lock = threading.Lock()
        if path is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            disk = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            if dry_run:
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                disk.executescript(_SCHEMA)
                disk.backup(self._db)
                disk.close()
            else:
                self._db = disk
                self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

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
            rows = self._db.execute("SELECT image_id FROM sightings WHERE subject = ? ORDER BY image_id",
                                    (subject,)).fetchall()
        return [r[0] for r in rows]

    def promoted_performer(self, subject: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT performer_id FROM candidates WHERE subject = ?",
                                   (subject,)).fetchone()
        return row[0] if row else None

    def mark_promoted(self, subject: str, performer_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO candidates(subject, created_at) VALUES (?, ?)",
                             (subject, time.time()))
            self._db.execute("UPDATE candidates SET performer_id = ? WHERE subject = ?", (performer_id, subject))

    def claim_example(self, subject: str, image_id: str) -> bool:
        """True the first time a face of ``image_id`` is taken as an example of ``subject``.

        Claimed before the upload: a kill in between costs one example, never adds one twice.
        """
        with self._lock, self._db:
            cursor = self._db.execute("INSERT OR IGNORE INTO learned(subject, image_id) VALUES (?, ?)",
                                      (subject, image_id))
        return cursor.rowcount == 1
