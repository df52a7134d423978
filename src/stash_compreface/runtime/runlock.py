"""One writing run per Stash library at a time.

Two runs on the same library (a task started twice, a UI operation during a scan, the CLI from cron)
would both count the same sightings, create the same performer twice and fight over tags. An OS file
lock (``oslock``: a SIGKILLed run leaves no stale lock) serialises them: the second run waits (or, with
``wait=False``, gives up at once).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ..errors import FatalError, Stopped
from ..oslock import try_lock, unlock

DEFAULT_POLL_S = 1.0
LOCK_FILE = "run.lock"


class RunLock:
    """Hold the library for one run: ``with RunLock(folder, on_wait=log, stop=event): ...``.

    One state folder is one library, whichever address reached Stash (the plugin's 127.0.0.1, the command
    line's LAN name): the lock is ``run.lock`` in that folder.

    ``wait=True`` polls every ``poll_s`` seconds until the other run ends, calling ``on_wait`` once;
    setting ``stop`` ends the wait with :class:`Stopped`. ``wait=False`` raises :class:`FatalError` at once.
    """

    def __init__(
        self,
        folder: Path,
        *,
        wait: bool = True,
        stop: threading.Event | None = None,
        on_wait: Callable[[str], None] | None = None,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.path = folder / LOCK_FILE
        self._wait = wait
        self._stop = stop or threading.Event()
        self._on_wait = on_wait
        self._poll_s = poll_s
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = self._open()
        try:
            told = False
            while not try_lock(fd):
                holder = self._holder(fd)
                if not self._wait:
                    raise FatalError(f"Another run {holder}holds this Stash library (lock {self.path}); "
                                     "try again when it has finished")
                if not told and self._on_wait is not None:
                    self._on_wait(f"Another run {holder}on this Stash library is in progress; waiting for it "
                                  "to finish")
                told = True
                if self._stop.wait(self._poll_s):
                    raise Stopped("stopped while waiting for another run on this Stash library to finish")
            self._write_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            unlock(fd)
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FatalError(f"Cannot create the run lock {self.path}: {exc.strerror or exc}. Set stateDir to a "
                             "folder the Stash process can write to", setting="stateDir") from exc

    @staticmethod
    def _write_holder(fd: int) -> None:
        """Say who holds the lock, for the message a waiting run logs. Byte 0 is the (Windows) lock byte."""
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"\npid {os.getpid()}, started {started}\n".encode())

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            os.lseek(fd, 1, os.SEEK_SET)
            text = os.read(fd, 200).decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f"({text}) " if text.startswith("pid ") else ""
