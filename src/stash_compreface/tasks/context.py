"""Everything a task needs, built once by the session (plugin runtime, CLI or a test) and passed in.

Tasks never build a client or read the environment: the clients arrive here, the face service and the
Vision Service as factories so that tasks which never use them (resets) do not need their settings.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Stopped
from ..faces.naming import SUFFIX_ALPHABET, SUFFIX_LENGTH
from ..faceservice import FaceService
from ..ports import StateFiles
from ..reporting import Reporter
from ..settings import Settings
from ..stash.client import StashClient
from ..stash.models import Scene
from .journal import Journal
from .state import StateStore
from .writes import Writes

if TYPE_CHECKING:  # types only: a run that reads no video imports no Pillow (``python -X importtime``)
    from ..video import Frame
    from ..vision.client import VisionClient


def random_suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))


def _no_service(*_: object) -> Any:
    raise RuntimeError("this context has no such service")


@dataclass
class TaskContext:
    settings: Settings
    stash: StashClient
    reporter: Reporter
    state: StateStore
    face_service_factory: Callable[[], FaceService] = _no_service
    engine_factory: Callable[[str], FaceService] = _no_service
    vision_factory: Callable[[], VisionClient] = _no_service
    # Frames of a scene's video, sampled here: (scene, seconds between samples, stop) -> frames as they come.
    frames: Callable[[Scene, float, threading.Event], Iterable[Frame]] = _no_service
    # The state folder's other files (scene-faces/, hook-queue/); read-only in a dry run, like every port.
    files: StateFiles = field(default_factory=lambda: StateFiles(None))
    stop: threading.Event = field(default_factory=threading.Event)
    suffix: Callable[[], str] = random_suffix
    mode: str = ""  # the mode running (set by tasks.run): some refuse a lost face store, others rebuild it
    _face_service: FaceService | None = None
    _vision: VisionClient | None = None
    _writes: Writes | None = None
    _journal: Journal | None = None
    _engines: dict[str, FaceService] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)  # face_service uses engine()

    @property
    def face_service(self) -> FaceService:
        """Built on first use, so tasks that never touch CompreFace (resets) do not need its key."""
        with self._lock:
            if self._face_service is None:
                self._face_service = self.face_service_factory()
            return self._face_service

    def engine(self, name: str) -> FaceService:
        """A named face engine ("compreface" or "builtin"), whatever faceEngine says: for moving subjects."""
        with self._lock:
            if name not in self._engines:
                self._engines[name] = self.engine_factory(name)
            return self._engines[name]

    @property
    def vision(self) -> VisionClient:
        """The Vision Service client (a SettingError names visionServiceUrl when it is not set)."""
        with self._lock:
            if self._vision is None:
                self._vision = self.vision_factory()
            return self._vision

    @property
    def journal(self) -> Journal:
        """The undo journal in the state: this run's entries (once armed by tasks.run), and any run's to read."""
        with self._lock:
            if self._journal is None:
                self._journal = Journal(self.state.runs, keep_runs=self.settings.journal_runs,
                                        dry_run=self.settings.dry_run)
            return self._journal

    @property
    def writes(self) -> Writes:
        """Every write goes here; in a dry run it only says what it would write."""
        with self._lock:
            if self._writes is None:
                self._writes = Writes(self.stash, self.settings, lambda: self.face_service, self.reporter.log,
                                      self.journal)
            return self._writes

    @property
    def run_id(self) -> int | None:
        """This run's journal id: None until the run's first write, for a mode that is not a run to undo, and
        in a dry run."""
        return self.journal.run_id

    def tag_id(self, name: str) -> str | None:
        """An existing tag's id (None when missing), looked up once per run."""
        return self.writes.tag_id(name)

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
            raise Stopped()

    def close(self) -> None:
        """Release the services' connections, if they were opened; the caller owns the rest."""
        services = {id(s): s for s in (self._face_service, self._vision, *self._engines.values()) if s is not None}
        for service in services.values():
            close = getattr(service, "close", None)
            if close is not None:
                close()

    def rest(self, seconds: float) -> None:
        """Cooldown between batches that a stop request interrupts at once."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped()
