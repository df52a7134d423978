"""One versioned SQLite file: open, check, migrate, and move a damaged file aside.

Shared by the state file (``tasks/state/``) and the built-in engine's face store (``engine/store.py``):
each gives its :class:`Schema` (ordered migrations, the columns a current file must have, what a user
loses when the file is moved aside). ``PRAGMA user_version`` is the schema version; a newer file is
refused, never clobbered; a file SQLite cannot read, or that is not ours, is renamed to
``<name>.damaged-<UTC time>`` and a fresh one started, with one warning.

A dry run opens the file with :func:`open_copy` instead: an in-memory copy, migrated there, so the file is
never migrated, moved aside or written.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import FatalError

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Schema:
    what: str  # how messages name the file: "state file", "face store"
    migrations: tuple[tuple[str, ...], ...]  # migration N (1-based) brings a file from version N-1 to N
    expected_columns: Mapping[str, frozenset[str]]  # what a file at the current version must contain
    lost: str  # what the user loses when the file is moved aside
    setting: str = "stateDir"  # the setting that moves the file elsewhere

    @property
    def version(self) -> int:
        return len(self.migrations)


class Damaged(Exception):
    """The file is not a readable file of this schema: move it aside and start afresh."""


class NewerFileError(FatalError):
    """The file was written by a newer stash-compreface; it is left untouched."""


def connect(path: Path | str) -> sqlite3.Connection:
    return sqlite3.connect(str(path), check_same_thread=False, timeout=30)


def cannot_open(schema: Schema, path: Path, reason: str) -> FatalError:
    return FatalError(f"Cannot open the {schema.what} {path}: {reason}. Check that the Stash process may read and "
                      f"write it, or set {schema.setting} to another folder", setting=schema.setting)


def prepare(db: sqlite3.Connection, schema: Schema, where: str) -> None:
    """Check, migrate and verify in one transaction: a file that fails is left as it was.

    Raises :class:`Damaged` for anything that is not a readable file of ``schema``, :class:`NewerFileError`
    for a newer layout, and lets ``sqlite3.OperationalError`` (cannot open, locked, read-only, I/O) through:
    those are the machine's problem, not the file's.
    """
    try:
        check = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
        if check != ["ok"]:
            raise Damaged(f"integrity check failed: {'; '.join(map(str, check[:3]))}")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > schema.version:
            raise NewerFileError(
                f"The {schema.what} {where} was written by a newer stash-compreface (version {version}, this one "
                f"knows up to {schema.version}). Update the plugin, or move the file away to start afresh "
                f"(losing {schema.lost})."
            )
        db.execute("BEGIN IMMEDIATE")
        try:
            for number in range(version + 1, schema.version + 1):
                for statement in schema.migrations[number - 1]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {schema.version}")
            for table, columns in schema.expected_columns.items():
                found = {row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall()}
                if not columns <= found:
                    raise Damaged(f"not a stash-compreface {schema.what} (table {table} lacks "
                                  f"{', '.join(sorted(columns - found))})")
        except BaseException:
            db.rollback()
            raise
        db.commit()
    except sqlite3.OperationalError as exc:
        if "no such" in str(exc) or "already exists" in str(exc):
            raise Damaged(f"unexpected tables ({exc})") from exc
        raise
    except sqlite3.DatabaseError as exc:
        raise Damaged(str(exc)) from exc


def in_memory(schema: Schema) -> sqlite3.Connection:
    db = connect(":memory:")
    prepare(db, schema, "in memory")
    return db


def read_into_memory(path: Path) -> sqlite3.Connection:
    """Copy a file into memory without writing to it (dry runs, and seeds in read-only folders)."""
    memory = connect(":memory:")
    last: sqlite3.Error | None = None
    # Without a -wal beside it nobody has the file open and it holds everything: "immutable" reads it as it
    # stands and leaves no -wal/-shm behind (which "mode=ro" would). With one, another connection may hold
    # recent commits there, so "mode=ro" reads through it; "immutable" is the fallback where a read-only
    # folder cannot take the -shm.
    base = path.resolve().as_uri()
    in_use = path.with_name(path.name + "-wal").exists()
    for uri in [f"{base}?{mode}" for mode in (("mode=ro", "immutable=1") if in_use else ("immutable=1", "mode=ro"))]:
        try:
            disk = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            disk.backup(memory)
            return memory
        except sqlite3.OperationalError as exc:
            last = exc
        finally:
            disk.close()
    memory.close()
    assert last is not None
    raise last


def open_copy(path: Path | None, schema: Schema, warn: Warn) -> sqlite3.Connection:
    """A dry run's file: an in-memory copy of ``path``, checked and migrated in memory (a fresh one when there
    is no file); a damaged file is named in one warning and left as it is."""
    if path is None or not path.exists():
        return in_memory(schema)
    try:
        if path.is_file() and path.stat().st_size == 0:
            raise Damaged("the file is empty")
        memory = read_into_memory(path)
        try:
            prepare(memory, schema, str(path))
        except BaseException:
            memory.close()
            raise
        return memory
    except Damaged as damage:
        reason = str(damage)
    except sqlite3.DatabaseError as damage:
        if isinstance(damage, sqlite3.OperationalError) and "not a database" not in str(damage):
            raise cannot_open(schema, path, str(damage)) from damage
        reason = str(damage)
    warn(f"The {schema.what} {path} could not be used ({reason}). A real run would move it aside and start a new "
         f"one, losing {schema.lost}; this dry run starts from nothing and leaves it as is.")
    return in_memory(schema)


def open_file(path: Path, schema: Schema, warn: Warn) -> sqlite3.Connection:
    """The file, ready to use; a damaged one moved aside (one warning), a fresh one started."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = _checked(path, schema)
    except Damaged as damage:
        try:
            moved = move_aside(path)
        except OSError as exc:
            raise cannot_open(schema, path, f"{damage}, and it could not be moved aside: {exc}") from exc
        warn(f"The {schema.what} {path} could not be used ({damage}); it was moved to {moved} and a new one was "
             f"started. Lost: {schema.lost}.")
        try:
            db = _checked(path, schema)
        except Damaged as again:
            raise cannot_open(schema, path, str(again)) from again
    try:
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        db.close()
        raise cannot_open(schema, path, str(exc)) from exc
    return db


def _checked(path: Path, schema: Schema) -> sqlite3.Connection:
    if path.is_file() and path.stat().st_size == 0:
        raise Damaged("the file is empty")
    try:
        db = connect(path)
    except sqlite3.Error as exc:
        raise cannot_open(schema, path, str(exc)) from exc
    try:
        prepare(db, schema, str(path))
    except sqlite3.OperationalError as exc:
        db.close()
        raise cannot_open(schema, path, str(exc)) from exc
    except BaseException:
        db.close()
        raise
    return db


def move_aside(path: Path) -> Path:
    """Rename the file (and its -wal/-shm/-journal companions) to ``<name>.damaged-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            with contextlib.suppress(OSError):
                os.replace(companion, target.with_name(target.name + suffix))
    return target
