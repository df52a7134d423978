"""Which face engine a run uses, where it is, and the rule that a library never changes engine by accident.

``faceEngine auto`` is decided by the settings alone (``Settings.engine``): CompreFace exactly when a
recognition key is set. Nothing here falls back to the other engine when one fails: a refused key or an
unreachable CompreFace stops the run, naming the setting, because a silent switch to an empty engine would
create a second performer for everyone the first one knows.

The state folder remembers the engine the library uses (``engine.json``). A run whose engine differs is
refused while the new engine is empty and the old one is not: Import Subjects from CompreFace and Export
Subjects to CompreFace move the subjects first, after which the switch goes through.

For the same reason a built-in face store that is empty because it was lost (damaged or deleted, with no
backup to restore) is refused to every mode that could create performers, while the library evidently had
one (``engine.json`` counted subjects in it, or the state holds promotions): Synchronize Performers rebuilds
it from the performers' images, and a genuinely first run still starts empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..engine import FACES_FILE
from ..engine import NAME as BUILTIN_NAME  # the package alone: no numpy, no model runtime
from ..errors import FatalError, ServiceUnavailable, SettingError
from ..faceservice import FaceService
from ..settings import Settings
from ..sqlite_file import BACKUP_SUFFIX

ENGINE_FILE = "engine.json"
# As each FaceService.name says (CompreFaceClient.name: its module, with Pillow, is imported by the runs using it).
ENGINE_NAMES = {"compreface": "CompreFace", "builtin": BUILTIN_NAME}
ENGINE_LABELS = {"compreface": "CompreFace", "builtin": "built-in"}
# Modes that may run on a face store that was lost: they rebuild it (Synchronize Performers) or only take away.
WITHOUT_FACES = frozenset({"synchronizePerformers", "undoRun", "rejectMatch"})

Log = Callable[[str, str], None]


def resolve_compreface_url(settings: Settings, *, timeout_s: float = 5.0) -> str:
    """The first candidate address (comprefaceUrl, or the defaults) that answers CompreFace's key-less route."""
    from ..compreface.client import CompreFaceClient

    candidates = settings.compreface_candidates()
    for url in candidates:
        if CompreFaceClient.answers(url, timeout_s=timeout_s):
            return url
    tried = ", ".join(candidates)
    hint = "comprefaceUrl is set but" if settings.compreface_url else "comprefaceUrl is empty and"
    raise ServiceUnavailable(
        f"Cannot reach CompreFace: {hint} nothing answered at {tried}. Set comprefaceUrl to the address of "
        "your CompreFace as the Stash server reaches it (e.g. http://compreface-fe:80 in a compose network, "
        "http://192.168.1.10:8000 on another machine), or clear recognitionApiKey to use the built-in engine",
        service="compreface",
        setting="comprefaceUrl",
    )


def compreface_for(settings: Settings, stop: threading.Event) -> FaceService:
    from ..compreface.client import CompreFaceClient

    settings.require_recognition_key()
    url = resolve_compreface_url(settings)
    workers = max(4, settings.max_concurrency * 2)
    return CompreFaceClient(url, recognition_key=settings.recognition_api_key,
                            detection_key=settings.detection_api_key, max_connections=workers,
                            timeout_s=settings.request_timeout_s, stop=stop)


def builtin_for(store_dir: Path | None, stop: threading.Event, log: Log, *, read_only: bool = False) -> FaceService:
    """The built-in engine; its subject store lives beside the state (in memory when there is none), and in a
    dry run (``read_only``) is an in-memory copy of its file."""
    from ..engine.service import BuiltinFaceService  # numpy and the model runtime load only when used

    return BuiltinFaceService(store_dir, stop=stop, warn=lambda message: log("warning", message), read_only=read_only)


def engine_for(name: str, settings: Settings, stop: threading.Event, store_dir: Path | None, log: Log) -> FaceService:
    if name == "compreface":
        return compreface_for(settings, stop)
    return builtin_for(store_dir, stop, log, read_only=settings.dry_run)


def describe(settings: Settings, state_folder: Path | None) -> str:
    """The first line of every run: the engine, why it was chosen, and where faces and state are kept."""
    engine = settings.engine
    if settings.face_engine == "auto":
        why = ("faceEngine auto, a Recognition API Key is set" if engine == "compreface"
               else "faceEngine auto, no Recognition API Key")
    else:
        why = f"faceEngine {settings.face_engine}"
    if engine == "compreface":
        where = (f"at {settings.compreface_url}" if settings.compreface_url
                 else f"at the first of {', '.join(settings.compreface_candidates())} that answers")
        faces = "faces in CompreFace"
    else:
        where = ""
        faces = f"faces in {state_folder / FACES_FILE}" if state_folder is not None else "faces in memory"
    state = f"state in {state_folder}" if state_folder is not None else "state in memory"
    return f"Face engine: {ENGINE_LABELS[engine]}{' ' + where if where else ''} ({why}); {faces}; {state}"


def _record(folder: Path) -> dict[str, object]:
    try:
        data = json.loads((folder / ENGINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_engine(folder: Path) -> str | None:
    """The engine this library's state was last used with; None when unknown (new, or from before the rule)."""
    engine = _record(folder).get("engine")
    return engine if isinstance(engine, str) and engine in ENGINE_NAMES else None


def recorded_subjects(folder: Path) -> int:
    """How many subjects the built-in store held when a run last saw it (0 when unknown)."""
    subjects = _record(folder).get("subjects")
    return subjects if isinstance(subjects, int) and not isinstance(subjects, bool) else 0


def record_engine(folder: Path, engine: str, subjects: int | None = None) -> None:
    """Remember the library's engine and, for the built-in one, how many subjects its store holds (atomically;
    a folder we cannot write only loses the reminder)."""
    record: dict[str, object] = {"engine": engine}
    if subjects is not None:
        record["subjects"] = subjects
    tmp = folder / f"{ENGINE_FILE}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, folder / ENGINE_FILE)


def _builtin_subjects(folder: Path) -> int:
    """Subjects in the built-in store of ``folder`` (0 without one), read without loading any model."""
    import sqlite3

    path = folder / FACES_FILE
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT COUNT(*) FROM subjects").fetchone()
    except sqlite3.Error:
        return 0  # a damaged store is the store's own warning, not a reason to refuse
    return int(row[0]) if row else 0


def confirm_library_engine(folder: Path, engine: str, service: FaceService, *, dry_run: bool, mode: str = "",
                           promotions: Callable[[], int] = lambda: 0) -> None:
    """Refuse a switch of engine, or a lost built-in store, that would start this library over with an empty
    face store.

    The library's previous engine is the recorded one; for a state from before the record, the built-in
    store beside it counts as a previous built-in engine when it holds subjects. A switch goes through when
    the new engine already has subjects (imported or exported), or when the previous one had none. A built-in
    store that is empty with no backup (no readable file nor backup was found) is refused to ``mode`` unless
    it rebuilds or only takes away (:data:`WITHOUT_FACES`), when the library had subjects (:func:`_had_faces`).
    """
    previous = recorded_engine(folder)
    if previous is None and engine == "compreface" and _builtin_subjects(folder):
        previous = "builtin"
    if previous is not None and previous != engine:
        other_has_subjects = _builtin_subjects(folder) > 0 if previous == "builtin" else True
        if other_has_subjects and not service.list_subjects():
            raise SettingError(_switch_refused(previous, engine, folder), setting="faceEngine")
    subjects = None
    if engine == "builtin":
        subjects = len(service.list_subjects())
        if not subjects and mode not in WITHOUT_FACES and _had_faces(folder, promotions):
            raise FatalError(_lost_refused(folder))
    if not dry_run and (previous != engine or (subjects is not None and subjects != recorded_subjects(folder))):
        record_engine(folder, engine, subjects)


def _had_faces(folder: Path, promotions: Callable[[], int]) -> bool:
    """Whether an empty built-in store beside this state lost the library's faces. A store that a run ever
    changed keeps a backup (``sqlite_file``), restored when the file is damaged or missing: with one, empty
    means emptied (an undo, say). Without one, the library had faces if ``engine.json`` counted subjects, or,
    for a record from before the count, if the state holds promotions."""
    if (folder / f"{FACES_FILE}{BACKUP_SUFFIX}").exists():
        return False
    record = _record(folder)
    if "subjects" in record:
        return recorded_subjects(folder) > 0
    return bool(record) and recorded_engine(folder) == "builtin" and promotions() > 0


def _lost_refused(folder: Path) -> str:
    return (f"The built-in engine's face store {folder / FACES_FILE} is empty and has no backup "
            f"({folder / FACES_FILE}{BACKUP_SUFFIX}), but this library had faces in it (damaged or deleted?), so "
            "this run would make every known person a new performer. Run Synchronize Performers first, which "
            "enrols the performers again from their images, or Import Subjects from CompreFace if they are there, "
            f"or put the file back. To start the face store empty on purpose, delete {folder / ENGINE_FILE}")


def _switch_refused(previous: str, engine: str, folder: Path) -> str:
    if previous == "builtin":
        move = ("run Export Subjects to CompreFace first, which copies them there, or clear recognitionApiKey "
                "(or set faceEngine builtin) to keep the built-in engine")
        held = f"the built-in engine ({_builtin_subjects(folder)} subjects in {folder / FACES_FILE})"
    else:
        move = ("set recognitionApiKey (and comprefaceUrl) and run Import Subjects from CompreFace first, which "
                "copies them into the built-in engine, or set faceEngine back to compreface")
        held = "CompreFace"
    return (f"This library's faces are in {held}, but this run would use {ENGINE_NAMES[engine]}, which knows "
            f"nobody yet, so every known person would become a new performer: {move}. To leave them behind "
            f"and start {ENGINE_NAMES[engine]} empty on purpose, delete {folder / ENGINE_FILE}")
