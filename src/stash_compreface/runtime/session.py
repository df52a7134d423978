"""Build a TaskContext from a Stash connection: the plugin runtime and the CLI share this."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from ..compreface.client import CompreFaceClient
from ..errors import ServiceUnavailable, SettingError
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
from ..tasks.context import TaskContext
from ..tasks.state import StateStore
from ..vision.client import VisionClient
from .reporter import Reporter

STATE_FILE = "state.sqlite3"


def resolve_compreface_url(settings: Settings, *, timeout_s: float = 5.0) -> str:
    """The configured URL, or the first auto candidate that answers CompreFace's key-less config route."""
    candidates = settings.compreface_candidates()
    for url in candidates:
        try:
            response = httpx.get(f"{url}/api/v1/config", timeout=timeout_s)
        except httpx.HTTPError:
            continue
        if response.status_code < 500:
            return url
    tried = ", ".join(candidates)
    hint = "comprefaceUrl is set but" if settings.compreface_url else "comprefaceUrl is empty and"
    raise ServiceUnavailable(
        f"Cannot reach CompreFace: {hint} nothing answered at {tried}. Set comprefaceUrl to the address of "
        "your CompreFace (the UI's address, e.g. http://192.168.1.10:8000)",
        service="compreface",
        setting="comprefaceUrl",
    )


def compreface_for(settings: Settings) -> FaceService:
    settings.require_recognition_key()
    url = resolve_compreface_url(settings)
    workers = max(4, settings.max_concurrency * 2)
    # CompreFace gives up after 60 s itself; slow CPU-only boxes may want more (or tests, less).
    timeout_s = float(os.environ.get("STASH_COMPREFACE_TIMEOUT_S") or 90)
    return CompreFaceClient(url, recognition_key=settings.recognition_api_key,
                            detection_key=settings.detection_api_key,
                            verification_key=settings.verification_api_key, max_connections=workers,
                            timeout_s=timeout_s)


DEFAULT_FRAME_SERVER = "http://vision-frame-server:5001"


def vision_for(settings: Settings) -> VisionClient:
    """The Vision Service client; only the video-frame scene modes ask for it."""
    if not settings.vision_service_url:
        raise SettingError("recognition from video frames goes through the Vision Service: set "
                           "visionServiceUrl (and frameServerUrl), or run the sprite tasks, which need no "
                           "other service", setting="visionServiceUrl")
    return VisionClient(settings.vision_service_url, settings.frame_server_url or DEFAULT_FRAME_SERVER)


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
) -> Iterator[TaskContext]:
    """Read our settings from Stash, apply overrides, and open every client a task may need."""
    register_secret(session_cookie)
    register_secret(api_key)
    stash = StashClient(stash_url, session_cookie=session_cookie, api_key=api_key, verify_tls=verify_tls)
    state: StateStore | None = None
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
        state = StateStore(state_dir / STATE_FILE if state_dir else None, dry_run=settings.dry_run)
        ctx = TaskContext(settings=settings, stash=stash, reporter=reporter, state=state,
                          face_service_factory=lambda: compreface_for(settings),
                          vision_factory=lambda: vision_for(settings))
        yield ctx
    finally:
        if ctx is not None:
            ctx.close()
        if state is not None:
            state.close()
        stash.close()
