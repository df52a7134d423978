"""Where the state lives, and opening it: one SQLite file per library, its repositories over one connection.

A file SQLite cannot read (truncated, overwritten, someone else's) is moved aside and its last verified
backup restored (a fresh one started when there is none), with one warning naming what was lost; a file
written by a *newer* plugin is refused (clobbering it would lose data an upgrade would have kept). A run that
changed the state leaves a new backup when it closes it (``sqlite_file``). Run ids never repeat, even when
the file is reset: the highest id given is also kept beside it (``last-run-id``). A dry run works on an
in-memory copy: it reads the file, never writes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ... import hookqueue
from ...errors import FatalError, SettingError
from ...hookqueue import STATE_FILE, folder_is_writable
from ...sqlite_file import (
    Damaged,
    Opened,
    Origin,
    backup_path,
    connect,
    count,
    in_memory,
    open_copy,
    open_file,
    prepare,
    read_into_memory,
)
from .candidates import Candidates, Promotions
from .decisions import Refusals, Retired
from .examples import Learned, Transfers
from .merges import Merges
from .runs import Runs
from .schema import LOST, SCHEMA, NewerStateError
from .shared import Shared
from .unknown import UnknownFaces

Warn = Callable[[str], None]

RUN_ID_FILE = "last-run-id"  # beside the state file: the highest run id it ever gave

_log = logging.getLogger(__name__)


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
    """The state of one library: one repository per concern, all over one connection and its lock.

    ``candidates`` (who was seen where), ``promotions`` (which performer a candidate became, and the
    promotions in flight), ``learned`` (one face per item per subject), ``transfers`` (examples copied between
    engines), ``refusals`` and ``retired`` (the user's decisions), ``runs`` (the undo journal's rows).
    """

    def __init__(self, path: Path | None, *, dry_run: bool = False, warn: Warn | None = None,
                 seed: Path | None = None) -> None:
        """``path`` None keeps everything in memory; ``seed`` is a state file to start from when ``path``
        does not exist yet (see :class:`StateLocation`)."""
        self._warn = warn if warn is not None else _log.warning
        self.path = path
        if path is None:
            opened = Opened(in_memory(SCHEMA), "created")
        elif dry_run:
            opened = self._open_dry(path, seed)
        else:
            opened = self._open_disk(path, seed)
        self.origin: Origin = opened.origin
        self._shared = shared = Shared(opened.db, close=opened.close)
        self._run_ids = path.with_name(RUN_ID_FILE) if path is not None and not dry_run else None
        self.candidates = Candidates(shared)
        self.promotions = Promotions(shared)
        self.unknown = UnknownFaces(shared)
        self.merges = Merges(shared)
        self.learned = Learned(shared)
        self.transfers = Transfers(shared)
        self.refusals = Refusals(shared)
        self.retired = Retired(shared)
        self.runs = Runs(shared, started=self._note_run_id)
        if self._run_ids is not None:
            self.runs.continue_after(self._last_run_id())

    @property
    def library(self) -> str | None:
        """The Stash library this run works on (its database path): recorded with each run, checked by undo."""
        return self._shared.library

    @library.setter
    def library(self, identity: str | None) -> None:
        self._shared.library = identity or None

    def counts(self) -> dict[str, int | None]:
        """What the state holds, kind by kind (``schema.COUNTS``: refusals, journal runs, promotions, …)."""
        with self._shared.read() as db:
            return count(db, SCHEMA)

    def _last_run_id(self) -> int:
        try:
            return int((self._run_ids or Path()).read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            return 0

    def _note_run_id(self, run_id: int) -> None:
        """Keep the highest run id outside the file too (atomically): a reset file continues above it."""
        if self._run_ids is None or run_id <= self._last_run_id():
            return
        scratch = self._run_ids.with_name(f"{RUN_ID_FILE}.{os.getpid()}.tmp")
        try:
            scratch.write_text(str(run_id), encoding="ascii")
            os.replace(scratch, self._run_ids)
        except OSError as exc:
            self._warn(f"Could not record run {run_id} in {self._run_ids} ({exc}): should the state file be "
                       "reset, run ids could repeat.")

    def _open_disk(self, path: Path, seed: Path | None) -> Opened:
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
                       f"Not carried over: {LOST}.")

    def _open_dry(self, path: Path, seed: Path | None) -> Opened:
        restorable = path.exists() or backup_path(path).is_file()
        return open_copy(path if restorable or seed is None else seed, SCHEMA, self._warn)

    def close(self) -> None:
        """Close the file, with a verified backup first when this run changed it."""
        self._shared.close()
