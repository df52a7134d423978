"""Build a TaskContext from a Stash connection: the plugin runtime, the CLI and the tests share this.

It is the one place where clients are built from settings, the state folder is chosen and opened, and
the run lock is taken, so tasks never build a client, read the environment or touch a file path. In a dry
run it is also where every port is made read-only (``ports.py``): the Stash client, each face engine and the
state folder's files, so that no code path of a task can write.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SettingError
from ..faceservice import FaceService
from ..ports import ReadOnlyStateFiles, StateFiles, read_only_face_service, read_only_stash
from ..redact import register_secret
from ..settings import (
    LEGACY_PLUGIN_ID,
    PLUGIN_ID,
    Settings,
    merge_settings,
    parse_settings,
    pick_plugin_settings,
)
from ..stash.client import StashClient
from ..stash.models import Scene
from ..tasks.context import TaskContext
from ..tasks.state import (
    StateLocation,
    StateStore,
    folder_is_writable,
    locate_state,
    open_state,
    user_state_dir,
)
from . import engines
from .reporter import Reporter
from .runlock import RunLock

if TYPE_CHECKING:  # the video and Vision modules (Pillow) are imported by the runs that use them
    from ..video import Frame
    from ..vision.client import VisionClient


def frames_for(stash: StashClient) -> Callable[[Scene, float, threading.Event], Iterator[Frame]]:
    """Scene frames sampled here: from the file when this machine can read the scene's path, else from
    Stash's stream with our session cookie or API key (ffmpeg on PATH is the fallback where PyAV is missing)."""

    def frames(scene: Scene, interval_s: float, stop: threading.Event) -> Iterator[Frame]:
        from ..video import VideoSource, sample_frames

        source = VideoSource(path=scene.path or None,
                             stream_url=stash.rebase(scene.stream_url) if scene.stream_url else None,
                             headers=stash.auth_headers(), duration_s=scene.duration_s)
        return sample_frames(source, interval_s=interval_s, stop=stop, ffmpeg_path=shutil.which("ffmpeg"))

    return frames


def vision_for(settings: Settings, stop: threading.Event) -> VisionClient:
    """The Vision Service client; only the video-frame scene modes ask for it."""
    if not settings.vision_service_url:
        raise SettingError("recognition from video frames goes through the Vision Service: set "
                           "visionServiceUrl (and frameServerUrl), or run the sprite tasks, which need no "
                           "other service", setting="visionServiceUrl")
    from ..vision.client import VisionClient

    return VisionClient(settings.vision_service_url, settings.frame_server_url, timeout_s=settings.request_timeout_s,
                        stop=stop)


PLUGIN_MANIFEST = f"{PLUGIN_ID}.yml"
PLUGIN_ENTRY = f"{PLUGIN_ID}.py"


def find_plugin_folder(plugins_path: str, *, depth: int = 3) -> Path | None:
    """This plugin's folder below Stash's plugins folder (``compreface.yml`` beside ``compreface.py``), when
    that folder is on this machine; plugin sources install into a subfolder, hence the few levels."""
    if not plugins_path:
        return None
    root = Path(plugins_path)
    level = [root] if root.is_dir() else []
    for _ in range(depth + 1):
        for folder in level:
            if (folder / PLUGIN_MANIFEST).is_file() and (folder / PLUGIN_ENTRY).is_file():
                return folder
        level = [child for folder in level for child in sorted(_subfolders(folder))]
    return None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [child for child in folder.iterdir() if child.is_dir() and child.name not in ("venv", "data")]
    except OSError:
        return []


def _cli_location(settings: Settings, *, stash_url: str, plugins_path: str, warn: Callable[[str], None]) -> \
        StateLocation | None:
    """Where a command-line run keeps its state: the plugin's own ``data/`` when Stash's plugins folder is on
    this machine, so both share one lock, journal and face store. Elsewhere a built-in engine run is refused
    (its faces would split from the plugin's); a CompreFace run keeps its sightings and journal apart."""
    plugin = find_plugin_folder(plugins_path)
    if plugin is not None and folder_is_writable(plugin / "data"):
        return StateLocation(plugin / "data")
    why = (f"the plugin's state folder {plugin / 'data'} is not writable by this user" if plugin is not None
           else f"Stash's plugins folder ({plugins_path or 'unknown'}) holds no {PLUGIN_ID} plugin on this machine")
    if settings.engine == "builtin" and not settings.dry_run:
        raise SettingError(
            f"The command line cannot share the plugin's state: {why}. With the built-in engine the faces, "
            "sightings and undo journal live there, so a run here would start a second, empty library: give "
            "--state-dir (the plugin's data folder, or a mount of it), or run the task in Stash",
            setting="stateDir")
    fallback = user_state_dir(stash_url)
    warn(f"The command line keeps its own sightings and undo journal in {fallback}: {why}. Give --state-dir "
         "(the plugin's data folder) to share them with the plugin's tasks")
    return StateLocation(fallback)


def _locate(settings: Settings, *, stash_url: str, state_dir: Path | None, plugins_path: str | None,
            warn: Callable[[str], None]) -> StateLocation | None:
    """The state folder of this run: stateDir, else the caller's default (the plugin's ``data/``), else for
    the command line (``plugins_path`` given) the plugin's own; None keeps the state in memory (tests)."""
    configured = Path(settings.state_dir) if settings.state_dir else None
    if configured is None and state_dir is None:
        if plugins_path is None:
            return None
        return _cli_location(settings, stash_url=stash_url, plugins_path=plugins_path, warn=warn)
    return locate_state(preferred=state_dir, configured=configured, fallback=user_state_dir(stash_url), warn=warn)


@contextlib.contextmanager
def _state(settings: Settings, location: StateLocation | None, *, reporter: Reporter, stop: threading.Event,
           wait_for_lock: bool, take_lock: bool) -> Iterator[StateStore]:
    """Open the state, holding the library's run lock unless this run cannot write (a dry run, a look)."""
    if location is None:
        store = StateStore(None)
        try:
            yield store
        finally:
            store.close()
        return
    with contextlib.ExitStack() as stack:
        if take_lock and not settings.dry_run:
            stack.enter_context(RunLock(location.folder, wait=wait_for_lock, stop=stop,
                                        on_wait=lambda m: reporter.log("info", m)))
        store = open_state(location, warn=lambda m: reporter.log("warning", m), dry_run=settings.dry_run)
        stack.callback(store.close)
        yield store


def _face_service(ctx: TaskContext, folder: Path | None) -> FaceService:
    """The run's engine, once the library is known to use it and its faces are not lost
    (``engines.confirm_library_engine``)."""
    name = ctx.settings.engine
    service = ctx.engine(name)
    if folder is not None:
        engines.confirm_library_engine(folder, name, service, dry_run=ctx.settings.dry_run, mode=ctx.mode,
                                       promotions=lambda: ctx.state.counts()["promotions"] or 0)
    return service


def _ports(settings: Settings, stash: StashClient, store_dir: Path | None, stop: threading.Event,
           log: Callable[[str, str], None]) -> tuple[StashClient, Callable[[str], FaceService], StateFiles]:
    """What a task writes through: Stash, the face engines (by name) and the state folder's files; in a dry
    run each of them read-only."""

    def engine(name: str) -> FaceService:
        return engines.engine_for(name, settings, stop, store_dir, log)

    if not settings.dry_run:
        return stash, engine, StateFiles(store_dir)
    return (read_only_stash(stash, log), lambda name: read_only_face_service(engine(name), log),
            ReadOnlyStateFiles(store_dir, log))


@contextlib.contextmanager
def task_context(
    *,
    stash_url: str,
    reporter: Reporter,
    state_dir: Path | None,
    session_cookie: str | None = None,
    api_key: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    verify_tls: bool = True,
    stop: threading.Event | None = None,
    wait_for_lock: bool = True,
    find_state: bool = False,
    take_lock: bool = True,
) -> Iterator[TaskContext]:
    """Read our settings from Stash, apply overrides, take the library's run lock, open the state, and
    offer every client a task may need.

    ``state_dir`` is the default state folder (the plugin folder's ``data/``; the ``stateDir`` setting
    wins over it); ``find_state`` (the command line) looks for the plugin's own folder through Stash
    instead. ``wait_for_lock=False`` ends at once when another run holds the library; ``take_lock=False``
    (a run that only reads, such as a look from the image page) never waits for it.
    """
    register_secret(session_cookie)
    register_secret(api_key)
    stop = stop or threading.Event()
    stash = StashClient(stash_url, session_cookie=session_cookie, api_key=api_key, verify_tls=verify_tls, stop=stop)
    ctx: TaskContext | None = None
    try:
        config = stash.plugin_configuration([PLUGIN_ID, LEGACY_PLUGIN_ID])
        stash_key, plugins = config.api_key, config.plugins
        if stash_key:
            # The session cookie expires after an hour; Stash's own key keeps long runs authenticated.
            register_secret(stash_key)
            if not api_key:
                stash.set_api_key(stash_key)
        settings = parse_settings(merge_settings(pick_plugin_settings(plugins), overrides or {}))
        for secret in settings.secrets():
            register_secret(secret)
        if settings.stash_host_url:
            stash.base_url = settings.stash_host_url
        stash.resize_pool(max(4, settings.max_concurrency * 2))
        location = _locate(settings, stash_url=stash_url, state_dir=state_dir,
                           plugins_path=config.plugins_path if find_state else None,
                           warn=lambda m: reporter.log("warning", m))
        store_dir = location.folder if location is not None else None
        reporter.log("info", engines.describe(settings, store_dir))
        with _state(settings, location, reporter=reporter, stop=stop, wait_for_lock=wait_for_lock,
                    take_lock=take_lock) as state:
            state.library = config.database_path  # each run records it; undoRun refuses another library's run
            stash_port, engine_port, files_port = _ports(settings, stash, store_dir, stop, reporter.log)
            ctx = TaskContext(settings=settings, stash=stash_port, reporter=reporter, state=state, stop=stop,
                              engine_factory=engine_port, files=files_port,
                              vision_factory=lambda: vision_for(settings, stop), frames=frames_for(stash))
            context = ctx
            ctx.face_service_factory = lambda: _face_service(context, store_dir)
            yield ctx
    finally:
        if ctx is not None:
            ctx.close()
        stash.close()
