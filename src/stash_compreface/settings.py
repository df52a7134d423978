"""Raw plugin settings and task arguments → frozen, validated values (pure; no I/O).

``SETTINGS`` is the one definition of every setting: its Stash name, ``Settings`` attribute,
manifest type, default, accepted range, display name and description. The loader, the
``Settings`` defaults, the command-line help and the manifest test (plugin/compreface.yml must
match it word for word) all read it, so a setting cannot drift between them.

Stash hands settings over in whatever type the UI or the API stored (a NUMBER may be an int or a
float, a STRING fraction may be "0.81" or "81"), and task arguments from ``defaultArgs`` always as
strings (``"false"`` is truthy in Python). Everything is coerced here once, and every bad value,
including one of the wrong JSON type, is reported together, each naming the setting and its range.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .errors import SettingError
from .hookqueue import read_bool, read_folder

PLUGIN_ID = "compreface"
LEGACY_PLUGIN_ID = "compreface-rpc"

ERROR_TAG = "Compreface Error"
SYNCED_TAG = "Compreface Synced"
DEFAULT_SCANNED_TAG = "Compreface Scanned"
DEFAULT_MATCHED_TAG = "Compreface Matched"
DEFAULT_UNIDENTIFIED_TAG = "Compreface Unidentified"
DEFAULT_FRAME_SERVER_URL = "http://vision-frame-server:5001"
# Where CompreFace listens when comprefaceUrl is empty, in order: inside a compose network its
# single-container image (exadel/compreface, nginx on port 80) and the front end of its multi-container
# compose (compreface-fe, also port 80, as in our docker-compose.yaml); then the host port both publish.
COMPREFACE_AUTO_URLS = ("http://compreface:80", "http://compreface-fe:80", "http://localhost:8000")
# A bare http://host means "whatever port CompreFace listens on there": its containers' 80, then the 8000
# both of CompreFace's documents publish on the host.
COMPREFACE_BARE_HOST_PORTS = (80, 8000)


# -- value parsers: (value, setting name) -> parsed value, or ValueError naming the setting -----------

def _shown(value: Any, *, text_expected: bool = False) -> str:
    """The offending value for an error message: short, and saying its JSON type when that is the fault."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple | set):
        return "a list"
    if isinstance(value, int | float) and text_expected:
        return f"the number {value!r}"
    if isinstance(value, int | float | str):
        return repr(value)
    return f"a {type(value).__name__}"


def _require_text(value: Any, name: str, expectation: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be {expectation}, got {_shown(value, text_expected=True)}")
    return value


def parse_bool(value: Any, name: str) -> bool:
    """true/false, 1/0, yes/no, on/off, y/n, t/f (any case): the words the scan hooks read too (hookqueue)."""
    parsed = read_bool(value)
    if parsed is None:
        raise ValueError(f"{name} must be true or false, got {_shown(value)}")
    return parsed


def parse_int(value: Any, name: str, lo: int, hi: int | None) -> int:
    bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
    message = f"{name} must be a whole number in {bounds}, got {_shown(value)}"
    number: float
    if isinstance(value, bool):
        raise ValueError(message)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(message) from None
    else:
        raise ValueError(message)
    if not number.is_integer() or number < lo or (hi is not None and number > hi):
        raise ValueError(message)
    return int(number)


def parse_fraction(value: Any, name: str) -> float:
    """Accept 0.81, "0.81", 81, "81" and "81%": the UI can only store integers in NUMBER settings."""
    message = f"{name} must be a fraction 0..1 (e.g. 0.81) or a percent 0..100 (e.g. 81), got {_shown(value)}"
    if isinstance(value, bool):
        raise ValueError(message)
    percent = False
    if isinstance(value, str):
        text = value.strip()
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
    message = f"{name} must be a number in {lo:g}..{hi:g}, got {_shown(value)}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(message)
    try:
        number = float(value)
    except ValueError:
        raise ValueError(message) from None
    if not lo <= number <= hi:  # also false for NaN
        raise ValueError(message)
    return number


def _without_credentials(text: str) -> str:
    """A URL as it may appear in an error: ``user:password@`` never reaches a log line."""
    return re.sub(r"(://)[^/@\s]*@", r"\1<credentials>@", text)


def normalize_url(value: str, name: str, default_port: int | None = None, *, add_port: bool = True) -> str:
    """Add a missing scheme, keep host name, port and path exactly (no DNS, so TLS and proxies work).

    A bare ``http://host`` gets ``default_port`` unless ``add_port`` is false (then the port only shows in
    the example of an error)."""
    example = f"http://host:{default_port}" if default_port else "http://host:9999"
    value = _require_text(value, name, f"an http(s) URL such as {example}")
    text = value.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        text = "http://" + text
    parts = urlsplit(text)
    shown = repr(_without_credentials(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL such as {example}, got {shown}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{name} has an invalid port: {shown}") from None
    netloc = parts.netloc
    # A bare "http://host" means the service's own port; a URL with a path is a reverse proxy.
    if port is None and default_port is not None and add_port and parts.scheme == "http" \
            and not parts.path.strip("/"):
        netloc = f"{netloc}:{default_port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _api_key(value: Any, name: str) -> str:
    expectation = "the UUID key shown in CompreFace (like 00000000-0000-0000-0000-000000000002)"
    key = _require_text(value, name, expectation).strip()
    if not key:
        return ""
    try:
        uuid.UUID(key)
    except ValueError:
        raise ValueError(f"{name} must be {expectation}") from None  # the value itself may be a secret
    return key


def _tag_name(value: Any, name: str) -> str:
    text = _require_text(value, name, "a tag name").strip()
    if not text:
        raise ValueError(f"{name} must be a non-empty tag name")
    return text


def _folder(value: Any, name: str) -> str:
    """An absolute folder path (``~`` expanded): a relative one would depend on Stash's working directory."""
    expectation = "an absolute folder path such as /config/compreface-state"
    folder = read_folder(_require_text(value, name, expectation))
    if folder is None:
        raise ValueError(f"{name} must be {expectation}, got {_shown(value)}")
    return folder


# -- the table ------------------------------------------------------------------------------------

ManifestType = Literal["STRING", "NUMBER", "BOOLEAN"]
_Parser = Callable[[Any, str], Any]


@dataclass(frozen=True)
class SettingSpec:
    """One plugin setting, everything about it in one place."""

    name: str  # Stash key (camelCase), as saved by the UI and the original compreface-rpc plugin
    attr: str  # attribute of Settings
    type: ManifestType  # the manifest's type: which editor the Stash UI shows
    default: Any  # value on Settings when the setting is absent, null or empty
    range: str  # accepted values, for people: "1-1000", "0-1", "an http(s) URL"
    display_name: str
    meaning: str  # what the code does with it (first part of the description)
    parse: _Parser
    default_note: str = ""  # what the default means, when the value alone does not say
    details: str = ""  # how to enter it, after default and range

    @property
    def default_text(self) -> str:
        if self.default is None or self.default == "":
            shown = "empty"
        elif isinstance(self.default, bool):
            shown = "on" if self.default else "off"
        elif isinstance(self.default, int | float):
            shown = f"{self.default:g}"
        else:
            shown = str(self.default)
        return f"{shown} = {self.default_note}" if self.default_note else shown

    @property
    def description(self) -> str:
        """The manifest description: meaning, then default and range, in one fixed shape."""
        parts = [f"default {self.default_text}"]
        if self.type != "BOOLEAN":
            numeric = self.type == "NUMBER" or self.parse is parse_fraction
            parts.append(f"range {self.range}" if numeric else f"accepts {self.range}")
        if self.details:
            parts.append(self.details)
        return f"{self.meaning} ({'; '.join(parts)})"


def _spec_int(lo: int, hi: int) -> tuple[str, _Parser]:
    return f"{lo}-{hi}", lambda v, n: parse_int(v, n, lo, hi)


def _spec_float(lo: float, hi: float) -> tuple[str, _Parser]:
    return f"{lo:g}-{hi:g}", lambda v, n: parse_float(v, n, lo, hi)


def _spec_compreface_url() -> tuple[str, _Parser]:
    """A bare http://host is kept bare: the engine tries each of COMPREFACE_BARE_HOST_PORTS there."""
    ports = " or ".join(str(port) for port in COMPREFACE_BARE_HOST_PORTS)
    return f"an http(s) URL, and http://host alone means port {ports}, whichever answers", \
        lambda v, n: normalize_url(v, n, COMPREFACE_BARE_HOST_PORTS[-1], add_port=False)


def _spec_url(port: int | None) -> tuple[str, _Parser]:
    text = f"an http(s) URL, and http://host alone means port {port}" if port else "an http(s) URL"
    return text, lambda v, n: normalize_url(v, n, port)


FACE_ENGINES = ("auto", "compreface", "builtin")


def _face_engine(value: Any, name: str) -> str:
    expectation = " or ".join(FACE_ENGINES)
    text = _require_text(value, name, expectation).strip().lower()
    if text not in FACE_ENGINES:
        raise ValueError(f"{name} must be {expectation}, got {_shown(value)}")
    return text


_KEY = ("a UUID", _api_key)
_TAG = ("any non-empty tag name", _tag_name)
_FRACTION = ("0-1", parse_fraction)
_BOOL = ("true or false", parse_bool)


def _spec(name: str, attr: str, type_: ManifestType, default: Any, kind: tuple[str, _Parser], display_name: str,
          meaning: str, default_note: str = "", details: str = "") -> SettingSpec:
    return SettingSpec(name, attr, type_, default, kind[0], display_name, meaning, kind[1], default_note, details)


SETTINGS: tuple[SettingSpec, ...] = (
    _spec("faceEngine", "face_engine", "STRING", "auto", (" or ".join(FACE_ENGINES), _face_engine), "Face Engine",
          "Who finds and recognizes faces. compreface is your CompreFace server; builtin is a face model that "
          "runs inside the plugin with no server; auto is compreface when a recognitionApiKey is set (a refused "
          "key or an unreachable CompreFace then stops the task, naming the setting to fix) and builtin when none "
          "is. The first log line of every run names the engine"),
    _spec("comprefaceUrl", "compreface_url", "STRING", None, _spec_compreface_url(), "CompreFace URL",
          "Base URL of CompreFace, as the Stash server reaches it, such as http://compreface-fe:80 in our "
          "docker-compose.yaml or http://192.168.1.10:8000. Scheme, host name, port and path are kept, so https "
          "and reverse proxies work",
          default_note="try " + ", then ".join(COMPREFACE_AUTO_URLS)),
    _spec("recognitionApiKey", "recognition_api_key", "STRING", "", _KEY, "Recognition API Key",
          "API key of your CompreFace recognition service, as shown in the CompreFace UI. Needed when CompreFace "
          "is the face engine",
          default_note="the built-in engine (faceEngine auto), or a stop naming this setting (faceEngine compreface)"),
    _spec("detectionApiKey", "detection_api_key", "STRING", "", _KEY, "Detection API Key",
          "API key of a CompreFace detection service, used by Synchronize Performers to find the face in "
          "profile images",
          default_note="the recognition service finds the faces"),
    _spec("visionServiceUrl", "vision_service_url", "STRING", None, _spec_url(5010), "Vision Service URL",
          "URL of the stash-auto-vision service such as http://vision-api:5010, for users who run it. Recognize "
          "New Scenes and Recognize All Scenes then send it the video path (it must see the files at the same "
          "paths as Stash) and it finds and groups the faces in sampled frames",
          default_note="frames are sampled locally, from the scene's file or Stash's stream, every "
          "frameInterval seconds"),
    _spec("frameInterval", "frame_interval_s", "NUMBER", 10.0, _spec_float(1, 600),
          "Frame Interval (seconds)",
          "Seconds between the video frames sampled locally by Recognize New Scenes and Recognize All Scenes; "
          "keyframes are used where they are at least this close"),
    _spec("frameServerUrl", "frame_server_url", "STRING", DEFAULT_FRAME_SERVER_URL, _spec_url(5001),
          "Vision Frame Server URL",
          "URL of the Vision Service's frame server, from which the video scene tasks fetch one frame per face "
          "group to recognize it"),
    _spec("stashHostUrl", "stash_host_url", "STRING", None, _spec_url(None), "Stash Host URL",
          "URL at which the plugin reaches Stash for its API and media, such as http://stash:9999",
          default_note="the address Stash gives the plugin"),
    _spec("stateDir", "state_dir", "STRING", None,
          ("an absolute folder path", _folder), "State Folder",
          "Folder of the plugin's state (where each unknown person was seen, your refusals, the undo journal, "
          "the run lock and the built-in engine's faces). The tasks, the Faces pages and the command line share it",
          default_note="the data folder inside the plugin folder, which the command line finds through Stash"),
    _spec("journalRuns", "journal_runs", "NUMBER", 200, _spec_int(10, 10000), "Runs Kept for Undo",
          "How many of the latest runs keep their undo journal; an older run can no longer be undone. The journal "
          "takes about 90 bytes per image a run changes"),
    _spec("requestTimeout", "request_timeout_s", "NUMBER", 30.0, _spec_float(5, 600),
          "Request Timeout (seconds)",
          "Seconds to wait for the answer to one request to CompreFace or the Vision Service before it fails; "
          "slow CPU-only servers may need more"),
    _spec("cooldownSeconds", "cooldown_s", "NUMBER", 0.0, _spec_float(0, 3600),
          "Cooldown Between Batches (seconds)",
          "Pause between batches to rest the hardware; stopping the task interrupts it"),
    _spec("maxBatchSize", "max_batch_size", "NUMBER", 20, _spec_int(1, 1000), "Maximum Batch Size",
          "Items fetched from Stash and processed per batch"),
    _spec("maxConcurrency", "max_concurrency", "NUMBER", 4, _spec_int(1, 32), "Maximum Concurrency",
          "Items processed at the same time; their downloads, CompreFace calls and Stash writes overlap"),
    _spec("minFaceSize", "min_face_size_px", "NUMBER", 64, _spec_int(8, 4096), "Minimum Face Size (pixels)",
          "Smallest face width and height in pixels that may create a new person. Matching a known person "
          "accepts half of it; the Low Quality, scene and Create Performer from Image tasks a third"),
    _spec("minFacesForNewPerformer", "min_faces_for_new_performer", "NUMBER", 2, _spec_int(1, 100),
          "Sightings Before a New Performer",
          "How often an unknown person must be seen before a performer is created",
          details="1 creates on first sight"),
    _spec("minSimilarity", "min_similarity", "STRING", 0.81, _FRACTION, "Minimum Similarity",
          "Similarity a face needs to match a known person, as a fraction",
          details="enter 0.81, or 81 for percent"),
    _spec("minConfidenceScore", "min_confidence_score", "STRING", 0.7, _FRACTION, "Minimum Detection Confidence",
          "Detection confidence a face needs to be used. The Low Quality, scene and Create Performer from "
          "Image tasks lower it by 0.2, to no less than 0.5",
          details="enter 0.7, or 70 for percent"),
    _spec("minQualityScore", "min_quality_score", "STRING", 0.0, _FRACTION, "Minimum Quality (New Subjects)",
          "Overall face quality (size, pose, sharpness and detection confidence) needed to create a new person",
          default_note="size, sharpness and pose gates only", details="enter 0.5, or 50 for percent"),
    _spec("minProcessingQualityScore", "min_processing_quality_score", "STRING", 0.0, _FRACTION,
          "Minimum Quality (Recognition)",
          "Overall face quality needed to try recognition at all",
          default_note="no extra gate", details="enter 0.2, or 20 for percent"),
    _spec("scannedTagName", "scanned_tag", "STRING", DEFAULT_SCANNED_TAG, _TAG, "Scanned Tag Name",
          "Tag added to every scanned image, gallery or scene"),
    _spec("matchedTagName", "matched_tag", "STRING", DEFAULT_MATCHED_TAG, _TAG, "Matched Tag Name",
          "Tag added to items where a performer was linked"),
    _spec("unidentifiedTagName", "unidentified_tag", "STRING", DEFAULT_UNIDENTIFIED_TAG, _TAG,
          "Unidentified Tag Name",
          "Tag added to images where a clear face matched no performer, so they can be filtered for review; "
          "removed once a performer is linked to the image"),
    _spec("dryRun", "dry_run", "BOOLEAN", False, _BOOL, "Dry Run",
          "Log what would be written to Stash and CompreFace, and write nothing"),
    _spec("autoRecognize", "auto_recognize", "BOOLEAN", False, _BOOL, "Recognize New Items Automatically",
          "Queue every image and scene a scan adds and recognize them in one Recognize Queued Items task "
          "after the scan (high-quality image recognition, video scene recognition)"),
)
SETTING_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SETTINGS}
_DEFAULTS: dict[str, Any] = {spec.attr: spec.default for spec in SETTINGS}


def _d(attr: str) -> Any:
    """A Settings field default, read from the table (KeyError at import if the two disagree on a name)."""
    return _DEFAULTS[attr]


@dataclass(frozen=True)
class Settings:
    """Parsed settings. Defaults come from SETTINGS; tests check that both name the same attributes."""

    face_engine: str = _d("face_engine")
    compreface_url: str | None = _d("compreface_url")
    recognition_api_key: str = _d("recognition_api_key")
    detection_api_key: str = _d("detection_api_key")
    vision_service_url: str | None = _d("vision_service_url")
    frame_server_url: str = _d("frame_server_url")
    frame_interval_s: float = _d("frame_interval_s")
    stash_host_url: str | None = _d("stash_host_url")
    state_dir: str | None = _d("state_dir")
    journal_runs: int = _d("journal_runs")
    request_timeout_s: float = _d("request_timeout_s")
    cooldown_s: float = _d("cooldown_s")
    max_batch_size: int = _d("max_batch_size")
    max_concurrency: int = _d("max_concurrency")
    min_similarity: float = _d("min_similarity")
    min_face_size_px: int = _d("min_face_size_px")
    min_confidence_score: float = _d("min_confidence_score")
    min_quality_score: float = _d("min_quality_score")
    min_processing_quality_score: float = _d("min_processing_quality_score")
    scanned_tag: str = _d("scanned_tag")
    matched_tag: str = _d("matched_tag")
    unidentified_tag: str = _d("unidentified_tag")
    dry_run: bool = _d("dry_run")
    auto_recognize: bool = _d("auto_recognize")
    min_faces_for_new_performer: int = _d("min_faces_for_new_performer")

    @property
    def error_tag(self) -> str:
        return ERROR_TAG

    @property
    def synced_tag(self) -> str:
        return SYNCED_TAG

    def secrets(self) -> list[str]:
        return [k for k in (self.recognition_api_key, self.detection_api_key) if k]

    @property
    def engine(self) -> str:
        """The face engine of a run: faceEngine as set; auto = CompreFace exactly when a recognition key is set.

        Never the other engine because one failed: a silent switch would meet an empty face store."""
        if self.face_engine != "auto":
            return self.face_engine
        return "compreface" if self.recognition_api_key else "builtin"

    def compreface_candidates(self) -> tuple[str, ...]:
        """The addresses to try, in order: comprefaceUrl (each likely port of a bare host), else the defaults."""
        if not self.compreface_url:
            return COMPREFACE_AUTO_URLS
        parts = urlsplit(self.compreface_url)
        if parts.scheme == "http" and parts.port is None and not parts.path.strip("/"):
            return tuple(f"http://{parts.netloc}:{port}" for port in COMPREFACE_BARE_HOST_PORTS)
        return (self.compreface_url,)

    def require_recognition_key(self) -> None:
        if not self.recognition_api_key:
            raise SettingError(
                "recognitionApiKey is not set: copy the API key of your CompreFace recognition service "
                "into the plugin settings",
                setting="recognitionApiKey",
            )


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _raise_all(what: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise SettingError(f"{what}: " + "; ".join(message for _, message in problems), setting=problems[0][0])


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """Build Settings from a settings map; absent, null and empty-string values keep their defaults.

    Keys the table does not know are ignored: Stash keeps whatever a plugin or user once stored.
    """
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for spec in SETTINGS:
        value = raw.get(spec.name)
        if _is_empty(value):
            continue
        try:
            values[spec.attr] = spec.parse(value, spec.name)
        except (ValueError, TypeError) as exc:
            problems.append((spec.name, str(exc)))
    _raise_all("Invalid plugin settings", problems)
    return Settings(**values)


def settings_table() -> list[tuple[str, str, str, str]]:
    """(name, default, range, meaning) per setting, for ``stash-compreface settings``."""
    return [(s.name, s.default_text, s.range, s.meaning) for s in SETTINGS]


def manifest_settings_yaml() -> str:
    """The ``settings:`` block of plugin/compreface.yml as the table defines it (paste it on a mismatch)."""
    lines = ["settings:"]
    for spec in SETTINGS:
        lines += [f"  {spec.name}:", f"    displayName: {spec.display_name}",
                  f"    description: {spec.description}", f"    type: {spec.type}"]
    return "\n".join(lines) + "\n"


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


# -- task arguments -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskArgs:
    mode: str
    limit: int = 0
    image_id: str = ""
    gallery_id: str = ""
    scene_id: str = ""
    performer_id: str = ""
    run_id: int = 0
    face_index: int | None = None  # None: not given (createPerformerFromImage takes face 0)
    create_performer: bool = False
    associate_existing: bool = True
    subject: str = ""  # a face-service subject (``Person …``), for the review modes
    name: str = ""  # a performer name typed by the user (nameCandidate, createPerformerFromImage)
    cached: bool = False  # identifyImage/identifyScene: answer the item's kept last look when there is one
    offset: int = 0  # reviewData: the candidates to skip (a page of ``limit`` after them)
    subjects: tuple[str, ...] = ()  # the review page's bulk actions: several candidates in one run
    example_id: str = ""  # removeFace: the example (a face a subject was learned from) to remove


def _id_arg(value: Any, name: str) -> str:
    message = f"{name} must be a Stash id (a positive whole number), got {_shown(value)}"
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(message)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(message)
    return str(int(text))


def _text_arg(value: Any, name: str) -> str:
    """A free-text argument (a subject or a performer name), trimmed; empty means not given."""
    text = _require_text(value, name, "text")
    if "\x00" in text or len(text) > 500:
        raise ValueError(f"{name} must be a line of text of at most 500 characters")
    return " ".join(text.split())


def _subjects_arg(value: Any, name: str) -> tuple[str, ...]:
    """Several subjects (the review page's bulk selection): a list of texts, or one text a line each."""
    items = value.splitlines() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) > 1000:
        raise ValueError(f"{name} must be a list of at most 1000 subjects, got {_shown(value)}")
    subjects = [_text_arg(item, name) for item in items]
    return tuple(dict.fromkeys(s for s in subjects if s))


def _name_arg(value: Any, name: str) -> str:
    """A performer name the user typed: given blank (empty or only spaces) it is refused, never taken as "no
    name" (createPerformerFromImage would silently name the performer after its subject)."""
    text = _text_arg(value, name)
    if not text:
        raise ValueError(f"{name} is blank: type the performer's name (or leave {name} out where it is optional)")
    return text


_ARGS: dict[str, tuple[str, _Parser]] = {
    "limit": ("limit", lambda v, n: parse_int(v if v != "" else 0, n, 0, None)),
    "imageId": ("image_id", _id_arg),
    "galleryId": ("gallery_id", _id_arg),
    "sceneId": ("scene_id", _id_arg),
    "performerId": ("performer_id", _id_arg),
    "runId": ("run_id", lambda v, n: int(_id_arg(v, n) or 0)),
    "faceIndex": ("face_index", lambda v, n: None if v in ("", None) else parse_int(v, n, 0, 1000)),
    "createPerformer": ("create_performer", parse_bool),
    "associateExisting": ("associate_existing", parse_bool),
    "subject": ("subject", _text_arg),
    "name": ("name", _name_arg),
    "cached": ("cached", parse_bool),
    "offset": ("offset", lambda v, n: parse_int(v if v != "" else 0, n, 0, None)),
    "subjects": ("subjects", _subjects_arg),
    "exampleId": ("example_id", _text_arg),
}
# The TaskArgs attribute of each argument, by the name Stash and the CLI use ("imageId": "image_id").
ARG_ATTRIBUTES: dict[str, str] = {name: attribute for name, (attribute, _parse) in _ARGS.items()}


def parse_args(raw: Mapping[str, Any]) -> TaskArgs:
    """Task arguments arrive as strings from the UI and typed from the API or CLI: accept both."""
    if not isinstance(raw, Mapping):
        raise SettingError(f"The task arguments must be an object of names and values, got {_shown(raw)}",
                           setting="args")
    mode = raw.get("mode")
    if mode is None or mode == "":
        raise SettingError("No task mode given: the task arguments need a 'mode'", setting="mode")
    problems: list[tuple[str, str]] = []
    if not isinstance(mode, str):
        problems.append(("mode", f"mode must be the name of a task mode, got {_shown(mode)}"))
    values: dict[str, Any] = {"mode": mode}
    for key, (attr, parser) in _ARGS.items():
        if key not in raw or raw[key] is None:
            continue
        try:
            values[attr] = parser(raw[key], key)
        except (ValueError, TypeError) as exc:
            problems.append((key, str(exc)))
    _raise_all("Invalid task arguments", problems)
    return TaskArgs(**values)
