"""What a task reports through: log lines and progress. The sinks (Stash's stderr protocol, a terminal, a
list in tests) are the front ends' (``runtime.reporter``); tasks know only this protocol, so they import
nothing of the runtime."""

from __future__ import annotations

from typing import Protocol

LEVELS = ("trace", "debug", "info", "warning", "error")


class Reporter(Protocol):
    def log(self, level: str, message: str) -> None: ...

    def progress(self, fraction: float) -> None: ...
