"""One process-wide memory budget for media in flight, and the spool a download streams into.

A NAS has little memory and Stash libraries hold huge files, so what an item holds must not grow with the
file or with ``maxConcurrency``. Two things hold an item's bytes: its download (:class:`Spool`) and its
decode (``imaging``). Both take their bytes from one :class:`MemoryBudget` before they hold them and give
them back after, so any number of workers together never hold more than the budget, and an item that
would hold more than all of it alone is refused rather than attempted.

A download stays in memory only while it is small (``SPOOL_MEMORY_BYTES``, taken from the budget);
beyond that it streams into a temporary file, which costs disk, not memory, and decoders read from it.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import io
import platform
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

from .errors import MediaError

# Bytes of media in flight across all threads: downloads kept in memory and decoded pixels. With the
# interpreter, Pillow and the clients (~90 MB) this keeps a task's peak memory near 450 MB whatever
# maxConcurrency is (benchmarks/bench_memory.py).
MEMORY_BUDGET_BYTES = 320 * 2**20
# A download up to this size stays in memory (from the budget); a larger one goes to a temporary file.
SPOOL_MEMORY_BYTES = 8 * 2**20


# glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def return_freed_memory() -> bool:
    """Make glibc give large freed buffers back to the system at once, so the budget bounds resident memory.

    By default glibc serves buffers under 32 MB (a band, a spool, Pillow's 16 MB blocks) from per-thread
    arenas, one per worker, and keeps what is freed there: resident memory grew by ~20 MB a worker above
    the budget (930 MB at 32 workers, benchmarks/bench_memory.py). A fixed 1 MiB mmap threshold maps and
    unmaps every large buffer, and two arenas are plenty with the GIL. musl (Alpine) already unmaps large
    buffers and is left alone. True when the setting was applied.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)) and bool(libc.mallopt(_M_ARENA_MAX, 2))
    except (OSError, AttributeError):
        return False


return_freed_memory()  # at import: before the task's worker threads exist (each would get its arena)


def mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MB" if nbytes >= 10 * 2**20 else f"{nbytes / 2**20:.2g} MB"


class MemoryBudget:
    """Bytes in flight, process-wide: a holder takes its bytes before it holds them and gives them back after.

    Requests are served in arrival order, so a huge item is not starved by a stream of small ones; small
    ones that fit alongside each other never wait. A waiting request holds nothing: whoever waits has given
    back what it could (a spool moves to disk first), so waiting cannot deadlock. ``peak`` and ``waits``
    are there for tests and benchmarks.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a memory budget needs a positive capacity")
        self.capacity = capacity
        self.peak = 0
        self.waits = 0
        self._used = 0
        self._queue: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._used

    @property
    def waiting(self) -> int:
        """Requests queued behind others or for bytes to come back."""
        with self._changed:
            return len(self._queue)

    def refuse(self, nbytes: int) -> MediaError:
        return MediaError(f"it would hold {mb(nbytes)} at once, above the {mb(self.capacity)} this plugin "
                          "holds for media at a time")

    def try_acquire(self, nbytes: int) -> bool:
        """Take ``nbytes`` if they are free now and nobody is waiting; never waits."""
        with self._changed:
            if self._queue or self._used + nbytes > self.capacity:
                return False
            self._take(nbytes)
            return True

    def acquire(self, nbytes: int) -> None:
        if nbytes > self.capacity:
            raise self.refuse(nbytes)
        ticket = object()
        with self._changed:
            if self._queue or self._used + nbytes > self.capacity:
                self.waits += 1
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._used + nbytes > self.capacity:
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too, or may now be first
            self._take(nbytes)

    def _take(self, nbytes: int) -> None:
        self._used += nbytes
        self.peak = max(self.peak, self._used)

    def release(self, nbytes: int) -> None:
        with self._changed:
            self._used -= nbytes
            self._changed.notify_all()

    @contextlib.contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        self.acquire(nbytes)
        try:
            yield
        finally:
            self.release(nbytes)


BUDGET = MemoryBudget(MEMORY_BUDGET_BYTES)


class Spool:
    """A media file being downloaded: in memory while small (its bytes held in the budget), beyond
    ``memory_cap`` a temporary file (deleted on close). Decoders read it through :attr:`file`.

    ``expected`` is the announced size (Content-Length), if any: a file announced larger than the cap goes
    to disk from the first byte; one announced smaller takes only its size from the budget.
    """

    def __init__(self, budget: MemoryBudget | None = None, *, expected: int | None = None,
                 memory_cap: int = SPOOL_MEMORY_BYTES) -> None:
        self.budget = budget or BUDGET
        self.size = 0
        self._held = 0
        self._file: IO[bytes]
        room = memory_cap if expected is None else expected
        if room <= memory_cap and room <= self.budget.capacity:
            self.budget.acquire(room)
            self._held = room
            self._file = io.BytesIO()
        else:
            self._file = tempfile.TemporaryFile(prefix="stash-compreface-")  # noqa: SIM115 (closed by close())

    @classmethod
    def of(cls, data: bytes, budget: MemoryBudget | None = None) -> Spool:
        """A spool holding ``data`` (tests, and media that already is in memory)."""
        spool = cls(budget, expected=len(data))
        spool.write(data)
        return spool.rewind()

    @property
    def in_memory(self) -> bool:
        return isinstance(self._file, io.BytesIO)

    @property
    def file(self) -> IO[bytes]:
        return self._file

    def write(self, chunk: bytes) -> None:
        if self.in_memory and self.size + len(chunk) > self._held:
            self.spill()
        self._file.write(chunk)
        self.size += len(chunk)

    def rewind(self) -> Spool:
        self._file.seek(0)
        return self

    def spill(self) -> None:
        """Move the bytes to a temporary file and give their memory back (before waiting for more)."""
        if not self.in_memory:
            return
        memory = self._file
        assert isinstance(memory, io.BytesIO)
        disk = tempfile.TemporaryFile(prefix="stash-compreface-")  # noqa: SIM115 (closed by close())
        position = memory.tell()
        disk.write(memory.getbuffer())
        disk.seek(position)
        self._file = disk
        memory.close()
        self._give_back()

    def read(self) -> bytes:
        """All of it as bytes: for small media only (a VTT, a test)."""
        self._file.seek(0)
        return self._file.read()

    def _give_back(self) -> None:
        if self._held:
            self.budget.release(self._held)
            self._held = 0

    def close(self) -> None:
        self._file.close()
        self._give_back()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
