"""One versioned SQLite file: open, check, migrate, keep a verified backup, and recover from damage.

Shared by the state file (``tasks/state/``) and the built-in engine's face store (``engine/store.py``):
each gives its :class:`Schema` (ordered migrations, the columns a current file must have, its
``application_id``, what can be counted in it, what a user loses when the file is moved aside).
``PRAGMA user_version`` is the schema version; a newer file is refused, never clobbered. ``PRAGMA
application_id`` marks the file as ours: a file of another program (another id, or tables we never made) is
not adopted.

Opening is one process at a time (an OS lock on ``<name>.open-lock``): two tasks, or a task and a look from
the UI, that start together on a new file, after an update or on a damaged file, never see each other's half-made
file, migrate it twice or move aside the file the other has just restored.

After a run that changed it, :meth:`Opened.close` copies the file into ``<name>.backup`` with SQLite's
online backup, checked with ``PRAGMA integrity_check`` before it replaces the previous backup. A file SQLite
cannot read, or that is not ours, is renamed to ``<name>.damaged-<UTC time>`` and the backup restored (a
missing file is restored too), with one warning naming every kind of data lost since the backup; with no
backup a fresh file is started, and :attr:`Opened.origin` says so, so that the caller can refuse what an
empty file would make wrong.

A dry run opens the file with :func:`open_copy` instead: an in-memory copy, migrated there, so the file is
never migrated, moved aside or written.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .errors import FatalError
from .oslock import file_lock

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Schema:
    what: str  # how messages name the file: "state file", "face store"
    migrations: tuple[tuple[str, ...], ...]  # migration N (1-based) brings a file from version N-1 to N
    expected_columns: Mapping[str, frozenset[str]]  # what a file at the current version must contain
    lost: str  # what the user loses when the file is moved aside
    application_id: int  # PRAGMA application_id of our files of this kind (set by a migration)
    # What can be counted, by the name a user knows it under ("refusals"): compared between a damaged file and
    # the backup restored in its place, to name what was lost.
    counts: Mapping[str, str] = field(default_factory=dict)
    setting: str = "stateDir"  # the setting that moves the file elsewhere

    @property
    def version(self) -> int:
        return len(self.migrations)

    @property
    def tables(self) -> frozenset[str]:
        """Every table a file of ours ever held, at any version: a file with others is not ours."""
        made = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)|RENAME TO (\w+)", re.IGNORECASE)
        return frozenset(name for statements in self.migrations for statement in statements
                         for match in made.finditer(statement) for name in match.groups() if name)


class Damaged(Exception):
    """The file is not a readable file of this schema: move it aside and start afresh."""


class Foreign(Damaged):
    """The file is another program's SQLite database: never adopted, moved aside like a damaged one."""


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
        _check_ours(db, schema)
        # The version is read under the write lock: a run that opens the file while another migrates it (two
        # tasks at once, on a new file or after an update) waits, then finds it migrated.
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version > schema.version:
                raise NewerFileError(
                    f"The {schema.what} {where} was written by a newer stash-compreface (version {version}, this "
                    f"one knows up to {schema.version}). Update the plugin, or move the file away to start afresh "
                    f"(losing {schema.lost})."
                )
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


def _check_ours(db: sqlite3.Connection, schema: Schema) -> None:
    """Raise :class:`Foreign` for a file marked by another program, or (unmarked, as our older files are)
    holding tables we never made. A file with no table at all is anybody's: it becomes ours."""
    (application_id,) = db.execute("PRAGMA application_id").fetchone()
    if application_id == schema.application_id:
        return
    if application_id != 0:
        raise Foreign(f"it is not a stash-compreface {schema.what} but another program's database "
                      f"(application_id {application_id:#x})")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    foreign = sorted(name for name in tables - schema.tables if not name.startswith("sqlite_"))
    if foreign:
        raise Foreign(f"it is not a stash-compreface {schema.what} but another program's database "
                      f"(tables {', '.join(foreign[:5])}{', …' if len(foreign) > 5 else ''})")


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


Origin = Literal["opened", "created", "restored", "lost"]
BACKUP_SUFFIX = ".backup"


def backup_path(path: Path) -> Path:
    """``<name>.backup`` beside the file: the last verified copy, taken after a run that changed it."""
    return path.with_name(path.name + BACKUP_SUFFIX)


@dataclass
class Opened:
    """An open file and how it came to be: ``opened`` as it was, ``created`` (there was neither a file nor a
    backup), ``restored`` from its backup, or ``lost`` (damaged or not ours, with no backup: started afresh).

    ``path`` None (in memory, a dry run's copy) is never backed up.
    """

    db: sqlite3.Connection
    origin: Origin
    path: Path | None = None
    schema: Schema | None = None
    warn: Warn | None = None
    _baseline: int = 0

    def __post_init__(self) -> None:
        self._baseline = self.db.total_changes

    @property
    def changed(self) -> bool:
        """Whether anything was written through this connection since it was opened."""
        return self.db.total_changes > self._baseline

    def close(self) -> None:
        """Close the file, keeping a verified backup first when this connection changed it. A backup that
        fails is one warning: the file itself is fine, and the previous backup stays."""
        try:
            if self.path is not None and self.schema is not None and self.changed:
                try:
                    keep_backup(self.db, self.path)
                except (sqlite3.Error, OSError, Damaged) as exc:
                    if self.warn is not None:
                        self.warn(f"Could not back up the {self.schema.what} {self.path} to "
                                  f"{backup_path(self.path)} ({exc}); the previous backup is kept.")
        finally:
            self.db.close()


def keep_backup(db: sqlite3.Connection, path: Path) -> Path:
    """Copy ``db`` (the open file at ``path``) into its backup: SQLite's online backup into a temporary file,
    ``PRAGMA integrity_check`` on the copy, then an atomic rename over the previous backup."""
    target = backup_path(path)
    scratch = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with contextlib.closing(sqlite3.connect(str(scratch))) as copy:
            db.backup(copy)
            check = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
        if check != ["ok"]:
            raise Damaged(f"the copy failed its integrity check: {'; '.join(map(str, check[:3]))}")
        with open(scratch, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(scratch, target)
    finally:
        with contextlib.suppress(OSError):
            scratch.unlink()
    return target


def count(db: sqlite3.Connection, schema: Schema) -> dict[str, int | None]:
    """Each of the schema's counts (None where this file cannot say: a damaged page, a missing table)."""
    found: dict[str, int | None] = {}
    for name, query in schema.counts.items():
        try:
            found[name] = int(db.execute(query).fetchone()[0])
        except (sqlite3.Error, TypeError):
            found[name] = None
    return found


def _count_file(path: Path, schema: Schema) -> dict[str, int | None]:
    """What a damaged file still lets us count, read as it stands (never written)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False)
    except (sqlite3.Error, OSError):
        return dict.fromkeys(schema.counts)
    try:
        return count(db, schema)
    finally:
        db.close()


@dataclass(frozen=True)
class _Restored:
    taken: str  # when the backup was taken, as the warning says it
    counts: dict[str, int | None]


def _restore(path: Path, schema: Schema) -> tuple[_Restored | None, str]:
    """Write the backup (checked and migrated in memory first) to ``path``, which must not exist. The backup's
    time and counts, or None and why there is none."""
    source = backup_path(path)
    if not source.is_file():
        return None, "there is no backup to restore"
    try:
        memory = read_into_memory(source)
    except sqlite3.Error as exc:
        return None, f"its backup {source} cannot be read either ({exc})"
    try:
        prepare(memory, schema, str(source))
        counts = count(memory, schema)
        with contextlib.closing(connect(path)) as disk:
            memory.backup(disk)
    except Damaged as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        return None, f"its backup {source} is damaged too ({exc})"
    finally:
        memory.close()
    taken = datetime.fromtimestamp(source.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _Restored(taken, counts), ""


def _lost_since(schema: Schema, restored: _Restored, found: Mapping[str, int | None]) -> str:
    """What the damaged file held beyond the backup, kind by kind: counted where it can still be read, else
    named as what may be lost."""
    more = [f"{have - was} {name}" for name, have in found.items()
            if have is not None and (was := restored.counts.get(name)) is not None and have > was]
    unknown = [name for name, have in found.items() if have is None]
    parts = []
    if more:
        parts.append(f"Lost since then: {', '.join(more)}.")
    if unknown:
        parts.append(f"{'Anything' if not more else 'Also, anything'} recorded after it may be lost of: "
                     f"{', '.join(unknown)} (the file cannot be counted).")
    return " ".join(parts) or "Nothing it counts was lost (it held no more than the backup)."


def _read_copy(path: Path, schema: Schema) -> sqlite3.Connection:
    """An in-memory copy of ``path``, checked and migrated there (the file is never written)."""
    if path.is_file() and path.stat().st_size == 0:
        raise Damaged("the file is empty")
    memory = read_into_memory(path)
    try:
        prepare(memory, schema, str(path))
    except BaseException:
        memory.close()
        raise
    return memory


def open_copy(path: Path | None, schema: Schema, warn: Warn) -> Opened:
    """A dry run's file: an in-memory copy of ``path``, checked and migrated in memory; of its backup when the
    file is missing or damaged (what a real run would restore), a fresh one when there is neither. A damaged
    file is named in one warning and left as it is."""
    if path is None:
        return Opened(in_memory(schema), "created")
    with _opening(path, create=False):
        return _open_copy(path, schema, warn)


def _open_copy(path: Path, schema: Schema, warn: Warn) -> Opened:
    if not (path.exists() or backup_path(path).is_file()):
        return Opened(in_memory(schema), "created")
    if not path.exists():
        with contextlib.suppress(Damaged, sqlite3.DatabaseError):
            return Opened(_read_copy(backup_path(path), schema), "restored")
        return Opened(in_memory(schema), "created")
    try:
        return Opened(_read_copy(path, schema), "opened")
    except Damaged as damage:
        reason = str(damage)
    except sqlite3.DatabaseError as damage:
        if isinstance(damage, sqlite3.OperationalError) and "not a database" not in str(damage):
            raise cannot_open(schema, path, str(damage)) from damage
        reason = str(damage)
    with contextlib.suppress(Damaged, sqlite3.DatabaseError):
        copy = _read_copy(backup_path(path), schema)
        warn(f"The {schema.what} {path} could not be used ({reason}). A real run would move it aside and restore "
             f"its backup {backup_path(path)}; this dry run reads that backup and leaves the file as is.")
        return Opened(copy, "restored")
    warn(f"The {schema.what} {path} could not be used ({reason}). A real run would move it aside and start a new "
         f"one, losing {schema.lost}; this dry run starts from nothing and leaves it as is.")
    return Opened(in_memory(schema), "lost")


def _open_lock(path: Path) -> str:
    """The lock held while ``path`` is opened (created, checked, migrated, restored or moved aside)."""
    return str(path.with_name(path.name + ".open-lock"))


@contextlib.contextmanager
def _opening(path: Path, *, create: bool) -> Iterator[None]:
    """Hold ``path``'s open lock; where the lock file cannot be made (a read-only folder, where nothing will be
    written anyway), go on unlocked. ``create=False`` (a dry run) takes the lock only if it exists."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):
            stack.enter_context(file_lock(_open_lock(path), create=create))
        yield


def open_file(path: Path, schema: Schema, warn: Warn) -> Opened:
    """The file, ready to use. A damaged or foreign one is moved aside and its backup restored (a missing one
    is restored too), or a fresh one started when there is no backup: one warning either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _opening(path, create=True):
        return _open_file(path, schema, warn)


def _open_file(path: Path, schema: Schema, warn: Warn) -> Opened:
    origin: Origin = "opened"
    if not path.exists():
        restored, _ = _restore(path, schema)
        origin = "created"
        if restored is not None:
            origin = "restored"
            warn(f"The {schema.what} {path} was missing: its backup of {restored.taken} was restored. Anything "
                 f"recorded after it may be lost of: {', '.join(schema.counts)}.")
    try:
        db = _checked(path, schema)
    except Damaged as damage:
        if origin != "opened":
            raise cannot_open(schema, path, str(damage)) from damage
        try:
            moved = move_aside(path)
        except OSError as exc:
            raise cannot_open(schema, path, f"{damage}, and it could not be moved aside: {exc}") from exc
        restored, why_not = _restore(path, schema)
        if restored is not None:
            origin = "restored"
            warn(f"The {schema.what} {path} could not be used ({damage}); it was moved to {moved} and its backup "
                 f"of {restored.taken} was restored. {_lost_since(schema, restored, _count_file(moved, schema))}")
        else:
            origin = "lost"
            warn(f"The {schema.what} {path} could not be used ({damage}); it was moved to {moved} and a new one was "
                 f"started ({why_not}). Lost: {schema.lost}.")
        try:
            db = _checked(path, schema)
        except Damaged as again:
            raise cannot_open(schema, path, str(again)) from again
    try:
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        db.close()
        raise cannot_open(schema, path, str(exc)) from exc
    return Opened(db, origin, path, schema, warn)


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
