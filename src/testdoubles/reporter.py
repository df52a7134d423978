"""A reporter that keeps every log line and progress report in lists, for in-process tests."""

from __future__ import annotations

import threading

from stash_compreface.redact import redact


class MemoryReporter:
    """The tasks' ``Reporter``, recording: lines redacted as every real sink redacts them."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.fractions: list[float] = []
        self._lock = threading.Lock()

    def log(self, level: str, message: str) -> None:
        with self._lock:
            self.lines.append((level, redact(message)))

    def progress(self, fraction: float) -> None:
        with self._lock:
            self.fractions.append(min(max(float(fraction), 0.0), 1.0))

    def messages(self, level: str | None = None) -> list[str]:
        return [m for lv, m in self.lines if level is None or lv == level]
