"""Everything a task needs, built once by the plugin runtime, the CLI or a test, and passed in."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import Stopped
from ..faces.naming import SUFFIX_ALPHABET, SUFFIX_LENGTH
from ..faceservice import FaceService
from ..runtime.reporter import Reporter
from ..settings import Settings
from ..stash.client import StashClient
from ..stash.tags import TagResolver
from .state import StateStore


def random_suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))


@dataclass
class TaskContext:
    settings: Settings
    stash: StashClient
    reporter: Reporter
    state: StateStore
    face_service_factory: Callable[[], FaceService]
    stop: threading.Event = field(default_factory=threading.Event)
    suffix: Callable[[], str] = random_suffix
    _faces: FaceService | None = None
    _tags: TagResolver | None = None

    @property
    def faces(self) -> FaceService:
        """Built on first use, so tasks that never touch CompreFace (resets) do not need its key."""
        if self._faces is None:
            self._faces = self.face_service_factory()
        return self._faces

    @property
    def tags(self) -> TagResolver:
        if self._tags is None:
            self._tags = TagResolver(self.stash, create=not self.settings.dry_run)
        return self._tags

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run

    def log(self, level: str, message: str) -> None:
        self.reporter.log(level, message)

    def info(self, message: str) -> None:
        self.reporter.log("info", message)

    def debug(self, message: str) -> None:
        self.reporter.log("debug", message)

    def warning(self, message: str) -> None:
        self.reporter.log("warning", message)

    def progress(self, fraction: float) -> None:
        self.reporter.progress(fraction)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped("stopped on request")

    def close(self) -> None:
        """Release the face service's connections, if one was opened; the caller owns the rest."""
        close = getattr(self._faces, "close", None)
        if close is not None:
            close()

    def rest(self, seconds: float) -> None:
        """Cooldown between batches that a stop request interrupts at once."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped("stopped on request")
