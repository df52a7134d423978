"""Build a TaskContext from a Stash connection: the plugin runtime, the CLI and the tests share this.

It is the one place where clients are built from settings, the state folder is chosen and opened, and
the run lock is taken, so tasks never build a client, read the environment or touch a file path.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..compreface.client import CompreFaceClient
from ..errors import PluginError, ServiceUnavailable, SettingError
from ..faceservice import FaceService
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
from ..tasks.state import StateStore, locate_state, open_state, user_state_dir
from ..video import Frame, VideoSource, sample_frames
from ..vision.client import VisionClient
from .reporter import Reporter
from .runlock import RunLock


def resolve_compreface_url(settings: Settings, *, timeout_s: float = 5.0) -> str:
    """The configured URL, or the first auto candidate that answers CompreFace's key-less config route."""
    candidates = settings.compreface_candidates()
    for url in candidates:
        if CompreFaceClient.answers(url, timeout_s=timeout_s):
            return url
    tried = ", ".join(candidates)
    hint = "comprefaceUrl is set but" if settings.compreface_url else "comprefaceUrl is empty and"
    raise ServiceUnavailable(
        f"Cannot reach CompreFace: {hint} nothing answered at {tried}. Set comprefaceUrl to the address of "
        "your CompreFace (the UI's address, e.g. http://192.168.1.10:8000)",
        service="compreface",
        setting="comprefaceUrl",
    )


def compreface_for(settings: Settings, stop: threading.Event) -> FaceService:
    settings.require_recognition_key()
    url = resolve_compreface_url(settings)
    workers = max(4, settings.max_concurrency * 2)
    return CompreFaceClient(url, recognition_key=settings.recognition_api_key,
                            detection_key=settings.detection_api_key,
                            verification_key=settings.verification_api_key, max_connections=workers,
                            timeout_s=settings.request_timeout_s, stop=stop)


def builtin_for(store_dir: Path | None, stop: threading.Event, log: Callable[[str, str], None]) -> FaceService:
    """The built-in engine; its subject store lives beside the state (in memory when there is none)."""
    from ..engine.service import BuiltinFaceService  # numpy and the model runtime load only when used

    return BuiltinFaceService(store_dir, stop=stop, warn=lambda message: log("warning", message))


def engine_for(name: str, settings: Settings, stop: threading.Event, store_dir: Path | None,
               log: Callable[[str, str], None]) -> FaceService:
    return compreface_for(settings, stop) if name == "compreface" else builtin_for(store_dir, stop, log)


def choose_engine(settings: Settings, log: Callable[[str, str], None]) -> str:
    """faceEngine: compreface or builtin as set; auto = CompreFace when it answers with a valid key."""
    if settings.face_engine != "auto":
        return settings.face_engine
    if not settings.recognition_api_key:
        log("info", "Face engine: built-in (faceEngine auto, and no recognitionApiKey for CompreFace)")
        return "builtin"
    for url in settings.compreface_candidates():
        probe = CompreFaceClient(url, recognition_key=settings.recognition_api_key, timeout_s=5.0,
                                 connect_timeout_s=5.0, retries=0)
        try:
            probe.check()
        except PluginError as exc:
            log("debug", f"faceEngine auto: CompreFace at {url} is not usable: {exc}")
            continue
        finally:
            probe.close()
        log("info", f"Face engine: CompreFace at {url} (faceEngine auto)")
        return "compreface"
    log("warning", f"Face engine: built-in (faceEngine auto), because no CompreFace answered with "
                   f"recognitionApiKey at {', '.join(settings.compreface_candidates())}. Set faceEngine to "
                   "compreface to stop instead when CompreFace is down")
    return "builtin"


def frames_for(stash: StashClient) -> Callable[[Scene, float, threading.Event], Iterator[Frame]]:
    """Scene frames sampled here: from the file when this machine can read the scene's path, else from
    Stash's stream with our session cookie or API key (ffmpeg on PATH is the fallback where PyAV is missing)."""

    def frames(scene: Scene, interval_s: float, stop: threading.Event) -> Iterator[Frame]:
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
    return VisionClient(settings.vision_service_url, settings.frame_server_url, timeout_s=settings.request_timeout_s,
                        stop=stop)


@contextlib.contextmanager
def _state(settings: Settings, *, stash_url: str, state_dir: Path | None, reporter: Reporter,
           stop: threading.Event, wait_for_lock: bool) -> Iterator[StateStore]:
    """Open the state where it can live, holding the library's run lock unless this is a dry run.

    No folder at all (in-process tests) means a state in memory and no lock.
    """
    configured = Path(settings.state_dir) if settings.state_dir else None
    if state_dir is None and configured is None:
        store = StateStore(None)
        try:
            yield store
        finally:
            store.close()
        return
    location = locate_state(preferred=state_dir, configured=configured, fallback=user_state_dir(stash_url),
                            warn=lambda m: reporter.log("warning", m))
    with contextlib.ExitStack() as stack:
        if not settings.dry_run:
            stack.enter_context(RunLock(location.folder, stash_url, wait=wait_for_lock, stop=stop,
                                        on_wait=lambda m: reporter.log("info", m)))
        store = open_state(location, warn=lambda m: reporter.log("warning", m), dry_run=settings.dry_run)
        stack.callback(store.close)
        yield store


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
) -> Iterator[TaskContext]:
    """Read our settings from Stash, apply overrides, take the library's run lock, open the state, and
    offer every client a task may need.

    ``state_dir`` is the default state folder (the plugin folder's ``data/``; the ``stateDir`` setting
    wins over it); ``wait_for_lock=False`` ends at once when another run holds the library.
    """
    register_secret(session_cookie)
    register_secret(api_key)
    stop = stop or threading.Event()
    stash = StashClient(stash_url, session_cookie=session_cookie, api_key=api_key, verify_tls=verify_tls, stop=stop)
    ctx: TaskContext | None = None
    try:
        stash_key, plugins = stash.plugin_configuration([PLUGIN_ID, LEGACY_PLUGIN_ID])
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
        with _state(settings, stash_url=stash_url, state_dir=state_dir, reporter=reporter, stop=stop,
                    wait_for_lock=wait_for_lock) as state:
            store_dir = state.path.parent if state.path is not None else None
            ctx = TaskContext(settings=settings, stash=stash, reporter=reporter, state=state, stop=stop,
                              engine_factory=lambda name: engine_for(name, settings, stop, store_dir, reporter.log),
                              vision_factory=lambda: vision_for(settings, stop), frames=frames_for(stash))
            context = ctx
            ctx.face_service_factory = lambda: context.engine(choose_engine(settings, reporter.log))
            yield ctx
    finally:
        if ctx is not None:
            ctx.close()
        stash.close()
