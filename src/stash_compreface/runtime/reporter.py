"""Where log lines and progress go: Stash's stderr protocol or a terminal (tests: ``testdoubles.reporter``).

Tasks only see :class:`Reporter` (``stash_compreface.reporting``); the three front ends (plugin, CLI, tests)
pick the sink.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

from ..redact import redact
from ..reporting import LEVELS, Reporter

__all__ = ["LEVELS", "MAX_LINE_BYTES", "ConsoleReporter", "Reporter", "StashReporter"]

_LEVEL_CHAR = {"trace": "t", "debug": "d", "info": "i", "warning": "w", "error": "e"}
# Stash reads stderr with a bufio.Scanner whose token limit is 64 KiB; a longer line makes it close the
# pipe. Cap each line in bytes, with room for the prefix and newline.
MAX_LINE_BYTES = 60_000


def _clamp(fraction: float) -> float:
    return min(max(float(fraction), 0.0), 1.0)


def _cap(line: str) -> str:
    raw = line.encode("utf-8", "replace")
    if len(raw) <= MAX_LINE_BYTES:
        return line
    return raw[:MAX_LINE_BYTES].decode("utf-8", "ignore") + " …(truncated)"


class StashReporter:
    """Stash's raw-plugin stderr protocol: every line prefixed ``\\x01L\\x02``, progress as ``p``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._closed = False

    def _write(self, char: str, text: str) -> None:
        if self._closed:
            return
        lines = [f"\x01{char}\x02{_cap(line)}\n" for line in text.splitlines() if line.strip()]
        with self._lock:
            try:
                self._stream.write("".join(lines))
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                # Stash closed the pipe (e.g. after an over-long line); keep working silently.
                self._closed = True

    def log(self, level: str, message: str) -> None:
        self._write(_LEVEL_CHAR.get(level, "i"), redact(message))

    def progress(self, fraction: float) -> None:
        self._write("p", f"{_clamp(fraction):.4f}")


class ConsoleReporter:
    """Human output for the command line: plain log lines and a one-line progress bar."""

    def __init__(self, stream: IO[str] | None = None, *, verbose: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._verbose = verbose
        self._lock = threading.Lock()
        self._bar_shown = False
        self._last_draw = 0.0
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def log(self, level: str, message: str) -> None:
        if level in ("trace", "debug") and not self._verbose:
            return
        with self._lock:
            self._clear_bar()
            prefix = "" if level == "info" else f"{level.upper()}: "
            for line in redact(message).splitlines():
                self._stream.write(f"{prefix}{line}\n")
            self._stream.flush()

    def progress(self, fraction: float) -> None:
        if not self._tty:
            return
        now = time.monotonic()
        fraction = _clamp(fraction)
        if fraction < 1.0 and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        width = 30
        filled = round(fraction * width)
        with self._lock:
            self._stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%")
            self._stream.flush()
            self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self._stream.write("\r" + " " * 45 + "\r")
            self._bar_shown = False

    def close(self) -> None:
        with self._lock:
            if self._bar_shown:
                self._stream.write("\n")
                self._bar_shown = False
