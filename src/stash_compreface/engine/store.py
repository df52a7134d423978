"""The built-in engine's subjects and their examples, in ``faces.sqlite3`` beside the state file.

This is what CompreFace's Postgres holds for the CompreFace engine: who each subject is, as face vectors
(with the model that made them, the item they came from, the face box, a quality figure and a small
crop, so the examples can be shown, exported to CompreFace or re-embedded by a future model).

* Every write is one transaction: a SIGKILL leaves the file as it was before or after a write.
* The layout carries ``PRAGMA user_version`` and is upgraded by ordered migrations; a file written by a
  newer plugin is refused (clobbering it would lose what an upgrade keeps). A file SQLite cannot read, or
  another program's, is moved aside (kept for recovery) with one warning: the machinery is the state file's
  (``sqlite_file``).
* Search is exact: cosine (dot product of unit vectors) in numpy over every example of one model id,
  best example per subject. Vectors of another model id are never compared: their spaces are unrelated.
  A few thousand examples take well under a millisecond, so no approximate index is needed.
* One connection behind a lock: the tasks' worker threads share the store.
* ``read_only`` (a dry run): an in-memory copy of the file, so it is never migrated, moved aside or written.
* Closed after a run that changed it, the file is copied into a verified ``faces.sqlite3.backup``; a damaged
  file is replaced by that backup (``sqlite_file``). With neither, :attr:`SubjectStore.origin` says the store
  is empty for a reason (``runtime/engines.py`` then refuses a run that would create duplicate performers).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..faces.models import Box
from ..faceservice import ExampleNotFound, SubjectNotFound
from ..sqlite_file import Opened, Origin, Schema, in_memory, open_copy, open_file
from . import NAME

SERVICE = "builtin"

APPLICATION_ID = int.from_bytes(b"scFC")  # PRAGMA application_id of a stash-compreface face store

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE subjects (
            name TEXT PRIMARY KEY,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE examples (
            id TEXT PRIMARY KEY,
            subject TEXT NOT NULL REFERENCES subjects(name) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            embedding BLOB NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            box_x_min INTEGER, box_y_min INTEGER, box_x_max INTEGER, box_y_max INTEGER,
            quality REAL,
            crop BLOB,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX examples_subject ON examples(subject)",
        "CREATE INDEX examples_model ON examples(model_id)",
    ),
    (
        # 2: the file is marked as ours (an older file was recognised by its tables).
        f"PRAGMA application_id = {APPLICATION_ID}",
    ),
)
_EXPECTED_COLUMNS = {
    "subjects": frozenset({"name", "created_at"}),
    "examples": frozenset({"id", "subject", "model_id", "embedding", "source", "box_x_min", "box_y_min",
                           "box_x_max", "box_y_max", "quality", "crop", "created_at"}),
}
_LOST = ("the built-in engine's subjects and examples (run synchronizePerformers to enrol the performers "
         "again; faces learned from images are relearned as they are recognized)")

Warn = Callable[[str], None]
SCHEMA = Schema(what="face store", migrations=_MIGRATIONS, expected_columns=_EXPECTED_COLUMNS, lost=_LOST,
                application_id=APPLICATION_ID,
                counts={"subjects": "SELECT COUNT(*) FROM subjects", "examples": "SELECT COUNT(*) FROM examples"})
SCHEMA_VERSION = SCHEMA.version


@dataclass(frozen=True)
class Example:
    """One stored example, without its vector."""

    id: str
    subject: str
    model_id: str
    source: str
    box: Box | None
    quality: float | None
    created_at: float


@dataclass(frozen=True)
class Hit:
    """A subject's best example for a query vector."""

    subject: str
    cosine: float
    example_id: str


@dataclass
class _Matrix:
    """Every example vector of one model id, rows in ``ids`` order."""

    ids: list[str]
    subjects: np.ndarray  # subject index of each row
    names: list[str]  # subject index -> name
    vectors: np.ndarray  # (rows, dim) float32, unit rows


class SubjectStore:
    """Subjects and example vectors; ``path`` None keeps them in memory (tests, benchmarks); ``read_only``
    works on an in-memory copy of the file (a dry run)."""

    def __init__(self, path: Path | None, *, warn: Warn | None = None, read_only: bool = False) -> None:
        self.path = path
        self._warn = warn if warn is not None else (lambda message: None)
        self._lock = threading.Lock()
        self._matrices: dict[str, _Matrix] = {}
        if path is None:
            self._file = Opened(in_memory(SCHEMA), "created")
        else:
            self._file = open_copy(path, SCHEMA, self._warn) if read_only else open_file(path, SCHEMA, self._warn)
        self._db = self._file.db
        self._db.execute("PRAGMA foreign_keys = ON")

    @property
    def origin(self) -> Origin:
        """How the file came to be (``sqlite_file.Opened``): ``created`` or ``lost`` means an empty store."""
        return self._file.origin

    def close(self) -> None:
        """Close the file, with a verified backup first when this run changed it."""
        with self._lock:
            self._file.close()

    # -- writes (one transaction each) -------------------------------------------------------------

    def add_example(self, subject: str, model_id: str, embedding: np.ndarray, *, source: str = "",
                    box: Box | None = None, quality: float | None = None, crop: bytes | None = None) -> str:
        """Store one example (creating the subject if missing); returns its new id."""
        vector = np.asarray(embedding, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(vector))
        if vector.size == 0 or not np.isfinite(norm) or norm == 0:
            raise ValueError("an example needs a finite, non-zero embedding")
        vector = vector / norm
        example_id = str(uuid.uuid4())
        now = time.time()
        corners = (box.x_min, box.y_min, box.x_max, box.y_max) if box is not None else (None,) * 4
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO subjects(name, created_at) VALUES (?, ?)", (subject, now))
            self._db.execute(
                "INSERT INTO examples(id, subject, model_id, embedding, source, box_x_min, box_y_min, box_x_max, "
                "box_y_max, quality, crop, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (example_id, subject, model_id, vector.astype("<f4").tobytes(), source, *corners, quality, crop, now))
            self._matrices.pop(model_id, None)
        return example_id

    def delete_subject(self, subject: str) -> int:
        """Remove a subject and its examples; returns how many examples went. SubjectNotFound if missing."""
        with self._lock, self._db:
            (count,) = self._db.execute("SELECT COUNT(*) FROM examples WHERE subject = ?", (subject,)).fetchone()
            self._db.execute("DELETE FROM examples WHERE subject = ?", (subject,))
            cursor = self._db.execute("DELETE FROM subjects WHERE name = ?", (subject,))
            if cursor.rowcount == 0:
                raise SubjectNotFound(f"{NAME} has no subject {subject!r}", service=SERVICE)
            self._matrices.clear()
        return int(count)

    def delete_example(self, example_id: str) -> None:
        """ExampleNotFound if there is no such example; the subject stays (as in CompreFace)."""
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM examples WHERE id = ?", (example_id,))
            if cursor.rowcount == 0:
                raise ExampleNotFound(f"{NAME} has no example {example_id!r}", service=SERVICE)
            self._matrices.clear()

    # -- reads ---------------------------------------------------------------------------------------

    def subjects(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT name FROM subjects ORDER BY name")]

    def count_examples(self, subject: str, model_id: str | None = None) -> int:
        """Examples of ``subject`` (of one model id if given); 0 for an unknown subject."""
        query = "SELECT COUNT(*) FROM examples WHERE subject = ?"
        params: tuple[str, ...] = (subject,)
        if model_id is not None:
            query += " AND model_id = ?"
            params += (model_id,)
        with self._lock:
            (count,) = self._db.execute(query, params).fetchone()
        return int(count)

    def examples(self, subject: str | None = None) -> list[Example]:
        """Examples (of one subject if given), oldest first."""
        query = ("SELECT id, subject, model_id, source, box_x_min, box_y_min, box_x_max, box_y_max, quality, "
                 "created_at FROM examples")
        params: tuple[str, ...] = ()
        if subject is not None:
            query += " WHERE subject = ?"
            params = (subject,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, id", params).fetchall()
        return [Example(id=r[0], subject=r[1], model_id=r[2], source=r[3],
                        box=Box(r[4], r[5], r[6], r[7]) if r[4] is not None else None, quality=r[8],
                        created_at=r[9]) for r in rows]

    def crop(self, example_id: str) -> bytes | None:
        """The example's stored face crop (JPEG); ExampleNotFound if there is no such example."""
        with self._lock:
            row = self._db.execute("SELECT crop FROM examples WHERE id = ?", (example_id,)).fetchone()
        if row is None:
            raise ExampleNotFound(f"{NAME} has no example {example_id!r}", service=SERVICE)
        return bytes(row[0]) if row[0] is not None else None

    def search_many(self, vectors: np.ndarray, model_id: str, *, limit: int = 5) -> list[list[Hit]]:
        """For each row of ``vectors`` (all faces of one image, in one matrix product), the ``limit``
        subjects whose best example of ``model_id`` is nearest, best first."""
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim != 2:
            raise ValueError("search_many needs a (faces, dim) matrix")
        if len(queries) == 0:
            return []
        matrix = self._matrix(model_id)
        if not matrix.ids or limit < 1:
            return [[] for _ in queries]
        if queries.shape[1] != matrix.vectors.shape[1]:
            raise ValueError(f"{model_id} vectors have {matrix.vectors.shape[1]} dimensions, the query "
                             f"{queries.shape[1]}")
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        queries = (queries / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        scores = queries @ matrix.vectors.T  # (faces, examples)
        results = []
        for row in scores:
            # Best example of each subject: sort by score, keep the first row of each subject.
            order = np.argsort(-row, kind="stable")
            seen: set[int] = set()
            hits: list[Hit] = []
            for index in order:
                subject = int(matrix.subjects[index])
                if subject in seen:
                    continue
                seen.add(subject)
                hits.append(Hit(matrix.names[subject], float(row[index]), matrix.ids[index]))
                if len(hits) == limit:
                    break
            results.append(hits)
        return results

    def _matrix(self, model_id: str) -> _Matrix:
        """The vectors of one model id, read once and kept until a write changes them."""
        with self._lock:
            cached = self._matrices.get(model_id)
            if cached is not None:
                return cached
            rows = self._db.execute("SELECT id, subject, embedding FROM examples WHERE model_id = ? ORDER BY id",
                                    (model_id,)).fetchall()
            names: list[str] = []
            index: dict[str, int] = {}
            ids, subjects, blobs = [], [], []
            dim = None
            for example_id, subject, blob in rows:
                vector = np.frombuffer(blob, dtype="<f4")
                if dim is None:
                    dim = vector.size
                if vector.size != dim:
                    continue  # a vector of another shape cannot come from this model: never compare it
                if subject not in index:
                    index[subject] = len(names)
                    names.append(subject)
                ids.append(example_id)
                subjects.append(index[subject])
                blobs.append(vector)
            vectors = np.vstack(blobs).astype(np.float32) if blobs else np.zeros((0, 0), dtype=np.float32)
            matrix = _Matrix(ids=ids, subjects=np.asarray(subjects, dtype=np.int64), names=names, vectors=vectors)
            self._matrices[model_id] = matrix
            return matrix
