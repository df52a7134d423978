"""The state file's one connection and its lock, shared by every repository of the store."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator


class Shared:
    """One SQLite connection used from many worker threads: every read and write takes the lock; a write is one
    transaction, committed at once (a SIGKILL loses at most the write in flight)."""

    def __init__(self, db: sqlite3.Connection, *, close: Callable[[], None] | None = None) -> None:
        self._db = db
        self._close = close if close is not None else db.close  # the file's close (which keeps its backup)
        self._lock = threading.Lock()
        self.library: str | None = None  # the Stash library this run works on (its database path), if known

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._lock, self._db:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._close()


class Repository:
    """One concern of the state (candidates, refusals, the journal's runs, …) over the shared connection."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
