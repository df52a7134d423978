"""Raw plugin settings and task arguments → frozen, validated values (pure; no I/O).

Stash hands settings over in whatever type the UI or the API stored (a NUMBER may be an int or a
float, a STRING fraction may be "0.81" or "81"), and task arguments from ``defaultArgs`` always as
strings (``"false"`` is truthy in Python). Everything is coerced here once, and every bad value is
reported together, each naming the setting and its accepted range.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import SettingError

PLUGIN_ID = "compreface"
LEGACY_PLUGIN_ID = "compreface-rpc"

ERROR_TAG = "Compreface Error"
SYNCED_TAG = "Compreface Synced"
DEFAULT_SCANNED_TAG = "Compreface Scanned"
DEFAULT_MATCHED_TAG = "Compreface Matched"
COMPREFACE_AUTO_URLS = ("http://compreface:8000", "http://localhost:8000")


@dataclass(frozen=True)
class Settings:
    compreface_url: str | None = None
    recognition_api_key: str = ""
    detection_api_key: str = ""
    verification_api_key: str = ""
    vision_service_url: str | None = None
    frame_server_url: str | None = None
    stash_host_url: str | None = None
    cooldown_s: float = 0.0
    max_batch_size: int = 20
    max_concurrency: int = 4
    min_similarity: float = 0.81
    min_face_size_px: int = 64
    min_confidence: float = 0.7
    min_quality: float = 0.0
    min_processing_quality: float = 0.0
    scanned_tag: str = DEFAULT_SCANNED_TAG
    matched_tag: str = DEFAULT_MATCHED_TAG
    dry_run: bool = False
    min_faces_for_new_performer: int = 2

    @property
    def error_tag(self) -> str:
        return ERROR_TAG

    @property
    def synced_tag(self) -> str:
        return SYNCED_TAG

    def secrets(self) -> list[str]:
        return [k for k in (self.recognition_api_key, self.detection_api_key, self.verification_api_key) if k]

    def compreface_candidates(self) -> tuple[str, ...]:
        return (self.compreface_url,) if self.compreface_url else COMPREFACE_AUTO_URLS

    def require_recognition_key(self) -> None:
        if not self.recognition_api_key:
            raise SettingError(
                "recognitionApiKey is not set: copy the API key of your CompreFace recognition service "
                "into the plugin settings",
                setting="recognitionApiKey",
            )


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)


_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f", ""}


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be true or false, got {value!r}")


def parse_int(value: Any, name: str, lo: int, hi: int | None) -> int:
    bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
    number: float
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number in {bounds}, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a whole number in {bounds}, got {value!r}") from None
    else:
        raise ValueError(f"{name} must be a whole number in {bounds}, got {value!r}")
    if not number.is_integer() or number < lo or (hi is not None and number > hi):
        raise ValueError(f"{name} must be a whole number in {bounds}, got {value!r}")
    return int(number)


def parse_fraction(value: Any, name: str) -> float:
    """Accept 0.81, "0.81", 81, "81" and "81%": the UI can only store integers in NUMBER settings."""
    message = f"{name} must be a fraction 0..1 (e.g. 0.81) or a percent 0..100 (e.g. 81), got {value!r}"
    if isinstance(value, bool):
        raise ValueError(message)
    text = str(value).strip() if isinstance(value, str) else None
    percent = False
    if text is not None:
        if text.endswith("%"):
            text, percent = text[:-1].strip(), True
        try:
            number = float(text)
        except ValueError:
            raise ValueError(message) from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError(message)
    if number != number:  # NaN
        raise ValueError(message)
    if number > 1 and not percent and not number.is_integer():
        raise ValueError(message)  # 2.5: neither a fraction nor the whole-number percent the UI stores
    if percent or number > 1:
        number /= 100
    if not 0 <= number <= 1:
        raise ValueError(message)
    return number


def parse_float(value: Any, name: str, lo: float, hi: float) -> float:
    message = f"{name} must be a number in {lo:g}..{hi:g}, got {value!r}"
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not lo <= number <= hi:
        raise ValueError(message)
    return number


def normalize_url(value: str, name: str, default_port: int | None = None) -> str:
    """Add a missing scheme, keep host name, port and path exactly (no DNS, so TLS and proxies work)."""
    text = value.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL such as http://compreface:8000, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{name} has an invalid port: {value!r}") from None
    netloc = parts.netloc
    # A bare "http://host" means the service's own port; a URL with a path is a reverse proxy.
    if port is None and default_port is not None and parts.scheme == "http" and not parts.path.strip("/"):
        netloc = f"{netloc}:{default_port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _api_key(value: Any, name: str) -> str:
    key = str(value).strip()
    if not key:
        return ""
    try:
        uuid.UUID(key)
    except ValueError:
        raise ValueError(
            f"{name} must be the UUID key shown in CompreFace (like 00000000-0000-0000-0000-000000000002)"
        ) from None
    return key


def _tag_name(value: Any, name: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError(f"{name} must be a non-empty tag name")
    return text


_Parser = Callable[[Any, str], Any]
_SETTINGS: dict[str, tuple[str, _Parser]] = {
    "comprefaceUrl": ("compreface_url", lambda v, n: normalize_url(v, n, 8000)),
    "recognitionApiKey": ("recognition_api_key", _api_key),
    "detectionApiKey": ("detection_api_key", _api_key),
    "verificationApiKey": ("verification_api_key", _api_key),
    "visionServiceUrl": ("vision_service_url", lambda v, n: normalize_url(v, n, 5010)),
    "frameServerUrl": ("frame_server_url", lambda v, n: normalize_url(v, n, 5001)),
    "stashHostUrl": ("stash_host_url", normalize_url),
    "cooldownSeconds": ("cooldown_s", lambda v, n: parse_float(v, n, 0, 3600)),
    "maxBatchSize": ("max_batch_size", lambda v, n: parse_int(v, n, 1, 1000)),
    "maxConcurrency": ("max_concurrency", lambda v, n: parse_int(v, n, 1, 32)),
    "minSimilarity": ("min_similarity", parse_fraction),
    "minFaceSize": ("min_face_size_px", lambda v, n: parse_int(v, n, 8, 4096)),
    "minConfidenceScore": ("min_confidence", parse_fraction),
    "minQualityScore": ("min_quality", parse_fraction),
    "minProcessingQualityScore": ("min_processing_quality", parse_fraction),
    "scannedTagName": ("scanned_tag", _tag_name),
    "matchedTagName": ("matched_tag", _tag_name),
    "dryRun": ("dry_run", parse_bool),
    "minFacesForNewPerformer": ("min_faces_for_new_performer", lambda v, n: parse_int(v, n, 1, 100)),
}
SETTING_NAMES = tuple(_SETTINGS)


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """Build Settings from a settings map; absent, null and empty-string values keep their defaults."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, (attr, parser) in _SETTINGS.items():
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            values[attr] = parser(value, key)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingError("Invalid plugin settings: " + "; ".join(problems), setting=_first_name(problems))
    return Settings(**values)


def _first_name(problems: list[str]) -> str:
    return problems[0].split(" ", 1)[0]


def merge_settings(stored: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Settings saved in Stash, with command-line overrides on top."""
    merged = dict(stored)
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return merged


def pick_plugin_settings(plugins: Mapping[str, Any] | None) -> dict[str, Any]:
    """Our id first, then the original plugin's id, so users who switch keep their settings."""
    plugins = plugins or {}
    for plugin_id in (PLUGIN_ID, LEGACY_PLUGIN_ID):
        value = plugins.get(plugin_id)
        if isinstance(value, Mapping) and value:
            return dict(value)
    return {}


@dataclass(frozen=True)
class TaskArgs:
    mode: str
    limit: int = 0
    image_id: str = ""
    gallery_id: str = ""
    face_index: int = 0
    create_performer: bool = False
    associate_existing: bool = True


def _id_arg(value: Any, name: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a Stash id (a positive whole number), got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{name} must be a Stash id (a positive whole number), got {value!r}")
    return str(int(text))


_ARGS: dict[str, tuple[str, _Parser]] = {
    "limit": ("limit", lambda v, n: parse_int(v if v != "" else 0, n, 0, None)),
    "imageId": ("image_id", _id_arg),
    "galleryId": ("gallery_id", _id_arg),
    "faceIndex": ("face_index", lambda v, n: parse_int(v if v != "" else 0, n, 0, 1000)),
    "createPerformer": ("create_performer", parse_bool),
    "associateExisting": ("associate_existing", parse_bool),
}


def parse_args(raw: Mapping[str, Any]) -> TaskArgs:
    """Task arguments arrive as strings from the UI and typed from the API or CLI: accept both."""
    mode = raw.get("mode")
    if not isinstance(mode, str) or not mode:
        raise SettingError("No task mode given: the task arguments need a 'mode'", setting="mode")
    values: dict[str, Any] = {"mode": mode}
    problems: list[str] = []
    for key, (attr, parser) in _ARGS.items():
        if key not in raw or raw[key] is None:
            continue
        try:
            values[attr] = parser(raw[key], key)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingError("Invalid task arguments: " + "; ".join(problems), setting=_first_name(problems))
    return TaskArgs(**values)
