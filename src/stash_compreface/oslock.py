"""Exclusive OS file locks: ``flock`` on POSIX, ``msvcrt.locking`` on Windows.

A lock is held by an open file: when Stash SIGKILLs the plugin, the OS drops it with the process, so no
stale lock is ever left to clean up (the lock file itself stays; only the lock on it matters). Two threads
of one process that open the file separately exclude each other too. Standard library only, and nothing
else of the package: the bootstrap's hook path imports it through ``hookqueue`` with Stash's bare Python.

Used by the hook queue (``queue.lock``), the run lock (``run.lock``: one writing run per library) and the
SQLite files (``<file>.open-lock``: one process at a time creates, checks, migrates or restores a file).
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs a hook a few milliseconds
if TYPE_CHECKING:
    from collections.abc import Iterator


def try_lock(fd: int) -> bool:
    """Take the lock on the open file ``fd`` without waiting; False if another open file holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


def _lock(fd: int) -> None:
    """Take the lock, waiting as long as it takes."""
    if sys.platform == "win32":
        import msvcrt

        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises: wait on
                return
            except OSError:
                continue
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)


@contextlib.contextmanager
def file_lock(path: str, *, create: bool = True) -> Iterator[None]:
    """An exclusive lock on ``path`` for a short critical section, waiting until it is free.

    ``create=False`` (a read-only look) neither creates the file nor its folder: without the file, nobody has
    written under the lock yet, and the block runs unlocked.
    """
    if create:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    else:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield
            return
    try:
        _lock(fd)
        yield
    finally:
        os.close(fd)  # closing releases the lock
