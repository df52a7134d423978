"""A CompreFace 1.2.0 REST API test double: a real HTTP server on 127.0.0.1 that speaks CompreFace's wire format.

Why: the plugin's CompreFace client, its error mapping and the tasks above it must be tested against the real
protocol (multipart uploads, the ``x-api-key`` filter, error codes, paging, nginx HTML errors) without Docker or
model weights. Faces are "seen" by a pluggable engine (default :class:`SyntheticEngine`), so what the double
answers follows from the uploaded pixels. ``engine="builtin"`` puts the plugin's own YuNet + SFace engine
(:class:`~testdoubles.builtin_engine.BuiltinEngine`) behind the same wire format, for real photos.
Section numbers (§) refer to /work/shared/spec/compreface-api.md.

State is plain Python and inspectable: ``double.subjects`` maps each stored subject name to its list of
:class:`Example` records, in insertion order. Hold ``double.lock`` when reading it while requests may run.

The double serves the endpoints and parameters the plugin's client sends (recognize, detect, verify, subjects,
examples, embeddings/recognize, config). Other real routes (delete-all, bulk deletes, image download, static
images, embedding verification, consistence, migrate, core status) and the ``status``/``detect_faces``
parameters answer 501 and are recorded in ``unsupported``. Not emulated either: the unique-key race between two
concurrent first adds of one subject (400/0), the recognition cache staleness bug (§6.6), ``OPTIONS``/CORS. An
engine that raises anything but :class:`UndecodableImage` answers 500/41 as a crashing core would.

Faults (from :class:`~testdoubles.server.DoubleServer`): ``fail_next`` (nginx 502 pages, HTTP 200 with an empty,
HTML or unexpected JSON body, stalls), ``hang`` (no answer, or a late one), ``go_down``/``come_back``/``down()``
(connection refused, then back on the same port as a restarted container), all scoped by path prefix and method.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import unquote

import numpy as np

from .server import DoubleHandler, DoubleServer
from .synthetic import SyntheticEngine, UndecodableImage

__all__ = [
    "COEFFICIENTS",
    "DETECTION_KEY",
    "MAX_BODY_SIZE",
    "MAX_FILE_SIZE",
    "RECOGNITION_KEY",
    "VERIFICATION_KEY",
    "CompreFaceDouble",
    "CompreFaceHandler",
    "Example",
    "FaceEngine",
    "ScoringEngine",
    "jackson",
    "make_engine",
    "similarity",
]

RECOGNITION_KEY = "00000000-0000-4000-8000-00000000000a"
DETECTION_KEY = "00000000-0000-4000-8000-00000000000b"
VERIFICATION_KEY = "00000000-0000-4000-8000-00000000000c"

MAX_FILE_SIZE = 5 * 1024 * 1024  # Spring max-file-size (§6.5)
MAX_BODY_SIZE = 10 * 1024 * 1024  # nginx client_max_body_size (§6.5)
COEFFICIENTS = (1.1817961, 5.291995557)  # default FaceNet build (§6.1)
DEFAULT_DET_PROB_THRESHOLD = 0.85  # FaceNet build (§6.4)
ALLOWED_EXTENSIONS = frozenset({"tif", "tiff", "jpg", "jpeg", "png", "bmp", "ico", "gif", "webp"})
MAX_PAGE_SIZE = 2000

KNOWN_PLUGINS = ("age", "gender", "landmarks", "pose", "calculator", "mask")

NGINX_413 = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BASE64_RE = re.compile(r"^[A-Za-z0-9+/=\-_\s]*$")  # commons-codec Base64.isBase64: URL-safe and whitespace pass
_SUBJECT_FORBIDDEN = re.compile(r"[;/\\]")
_EXEMPT_RE = re.compile(r"^/(swagger|webjars|v2|api/v1/migrate|api/v1/consistence/status|api/v1/static|api/v1/config)")
_SERVICE_BY_PREFIX = (
    ("/api/v1/recognition", "Recognition"),
    ("/api/v1/detection", "Detection"),
    ("/api/v1/verification", "Verification"),
)


class FaceEngine(Protocol):
    """Anything that turns image bytes into faces (largest first) can stand behind the double.

    A face has ``box`` (x_min, y_min, x_max, y_max), ``probability`` and ``embedding``; optionally
    ``landmarks`` (five points), ``yaw``/``pitch``/``roll``, ``age_low``/``age_high``, ``gender``, ``person``.
    An engine with a ``similarities(query, stored)`` method (see :class:`ScoringEngine`) scores its own
    embeddings; otherwise the double uses CompreFace's FaceNet formula with ``coefficients``.
    """

    def detect(self, data: bytes) -> Sequence[Any]: ...


@runtime_checkable
class ScoringEngine(Protocol):
    """An engine whose embeddings need their own similarity scale (e.g. SFace's calibrated cosine)."""

    def detect(self, data: bytes) -> Sequence[Any]: ...

    def similarities(self, query: np.ndarray, stored: np.ndarray) -> Sequence[float]:
        """Similarity (0..1, CompreFace's scale, unrounded) of the unit vector ``query`` to each unit row."""
        ...


ENGINES = ("synthetic", "builtin")


def make_engine(engine: FaceEngine | str | None) -> FaceEngine:
    """An engine object from a name (``synthetic``, the default, or ``builtin``) or the object itself."""
    if engine is None or engine == "synthetic":
        return SyntheticEngine()
    if engine == "builtin":
        from .builtin_engine import BuiltinEngine  # needs the built-in engine's wheels (OpenCV or ncnn)

        return BuiltinEngine()
    if isinstance(engine, str):
        raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)} or an engine object")
    return engine


@dataclass
class Example:
    """One stored example ("face") of a subject: what CompreFace keeps in its database."""

    image_id: str
    subject: str  # the stored spelling, kept in step with renames and merges
    embedding: tuple[float, ...]
    image: bytes  # the uploaded bytes, as GET /faces/{id}/img returns them
    person: int | None = None  # the synthetic identity the engine decoded, for assertions
    seq: int = 0  # global insertion order (GET /faces has no ORDER BY; we list in insertion order)

    @property
    def data(self) -> bytes:
        return self.image


class ApiError(Exception):
    """A CompreFace ``{"message", "code"}`` error with its HTTP status (§5.2)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Unmodelled(Exception):
    """Real CompreFace serves this, the double does not model it: answer 501 and record it in ``unsupported``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"compreface double: {what} is not implemented")


class EmptyError(Exception):
    """A Spring default error: the status and an empty body (§5.3)."""

    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


def _no_face() -> ApiError:
    return ApiError(400, 28, "No face is found in the given image")


def _undefined() -> ApiError:
    return ApiError(400, 0, "Something went wrong, please try again")


# --------------------------------------------------------------------------------------------------------------
# Wire helpers


def similarity(a: Sequence[float], b: Sequence[float], coefficients: tuple[float, float] = COEFFICIENTS) -> float:
    """CompreFace's similarity (§6.1): tanh of the Euclidean distance of unit vectors, rounded HALF_UP to 5."""
    va = np.asarray(a, dtype=np.float64)
    vb = np.asarray(b, dtype=np.float64)
    distance = float(np.linalg.norm(va / np.linalg.norm(va) - vb / np.linalg.norm(vb)))
    return _round5((math.tanh((coefficients[0] - distance) * coefficients[1]) + 1) / 2)


def _round5(value: float) -> float:
    return float(Decimal(repr(float(value))).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP))


def _java_double(value: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE<n>`` (``9.42E-4``, ``1.0E7``)."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(float(value))
    if 1e-3 <= abs(value) < 1e7:
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)
    chars = "".join(map(str, digits))
    scientific = len(chars) + exponent - 1
    chars = chars.rstrip("0") or "0"
    return f"{'-' if sign else ''}{chars[0]}.{chars[1:] or '0'}E{scientific}"


def jackson(value: Any, level: int = 0) -> str:
    """Serialise like Jackson's ``DefaultPrettyPrinter`` (``"key" : value``, arrays inline) (§3)."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        inner = ",".join(
            f"\n{pad}{json.dumps(k, ensure_ascii=False)} : {jackson(v, level + 1)}" for k, v in value.items()
        )
        return "{" + inner + "\n" + "  " * level + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson(v, level) for v in value) + " ]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    return json.dumps(value, ensure_ascii=False)


@dataclass
class _Part:
    name: str
    filename: str | None
    content: bytes


def _header_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', ";" + value.split(";", 1)[-1]):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key] = raw
    if "filename*" in params:  # RFC 5987: charset''percent-encoded
        charset, _, encoded = params["filename*"].partition("''")
        params["filename"] = unquote(encoded, encoding=charset or "utf-8")
    return params


def _parse_multipart(body: bytes, content_type: str) -> list[_Part]:
    """A strict-enough multipart/form-data parser (the stdlib one is gone from 3.13)."""
    boundary = _header_params(content_type).get("boundary")
    if not boundary:
        raise ValueError("multipart without boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise ValueError("unterminated multipart body")
    parts = []
    for chunk in chunks[1:-1]:
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("multipart part without headers")
        headers: dict[str, str] = {}
        for line in head.split(b"\r\n"):
            if b":" in line:
                key, _, val = line.decode("utf-8", "replace").partition(":")
                headers[key.strip().lower()] = val.strip()
        params = _header_params(headers.get("content-disposition", ""))
        if "name" not in params:
            raise ValueError("multipart part without a name")
        parts.append(_Part(params["name"], params.get("filename"), content))
    return parts


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, list[str]]
    media_type: str
    body: bytes
    parts: list[_Part] = field(default_factory=list)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def file(self, name: str) -> _Part | None:
        return next((p for p in self.parts if p.name == name and p.filename is not None), None)

    @property
    def is_json(self) -> bool:
        return self.media_type == "application/json" or self.media_type.endswith("+json")

    @property
    def is_multipart(self) -> bool:
        return self.media_type == "multipart/form-data"

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise EmptyError(400) from exc


class _Upload:
    """The image of a request, checked in Spring's order: the multipart part at once (34), the JSON field after
    the query parameters are bound (5), extension or Base64 alphabet after method validation (21)."""

    def __init__(self, req: _Request, part_name: str, json_field: str, java_field: str, *, strict: bool) -> None:
        self.req, self.json_field, self.java_field, self.strict = req, json_field, java_field, strict
        self.part: _Part | None = None
        self.value: str | None = None
        if not req.is_json:
            self.part = req.file(part_name)
            if self.part is None:
                raise ApiError(400, 34, f"Required part {part_name} is missing")

    def present(self) -> None:
        if self.req.is_json:
            body = self.req.json()
            value = body.get(self.json_field) if isinstance(body, dict) else None
            if not isinstance(value, str) or value == "":
                raise ApiError(400, 5, f"Field {self.java_field} cannot be empty")
            self.value = value

    def data(self) -> bytes:
        if self.part is not None:
            filename = self.part.filename or ""
            extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            if extension not in ALLOWED_EXTENSIONS:
                raise ApiError(400, 21, f"File [{filename}] has an unavailable extension")
            return self.part.content
        if self.value is None:
            self.present()
        value = self.value or ""
        if not _BASE64_RE.match(value):
            raise ApiError(400, 21, "Provided value is not Base64")
        if self.strict and re.search(r"[\s\-_]", value):
            raise _undefined()  # add-example decodes with java.util.Base64.getDecoder(), which rejects these (§3)
        cleaned = re.sub(r"\s", "", value).replace("-", "+").replace("_", "/").rstrip("=")
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise (_undefined() if self.strict else _no_face()) from exc


# --------------------------------------------------------------------------------------------------------------
# The server


class CompreFaceDouble(DoubleServer):
    """CompreFace on 127.0.0.1: ``with CompreFaceDouble.running() as cf: client(cf.url, RECOGNITION_KEY)``.

    ``engine``: ``"synthetic"`` (default: drawn faces, :mod:`testdoubles.synthetic`), ``"builtin"`` (real
    photos, the plugin's YuNet + SFace engine, :mod:`testdoubles.builtin_engine`) or any :class:`FaceEngine`.

    Knobs: ``recognize_latency_s`` (extra sleep on recognize and detect, for benchmarks), ``latency_s`` and
    the faults from :class:`DoubleServer`, ``coefficients`` (FaceNet scale; unused by a :class:`ScoringEngine`),
    ``det_prob_threshold`` (core default), ``max_file_size``/``max_body_size``. ``unsupported`` lists requests
    the double does not model.
    """

    def __init__(
        self,
        recognition_key: str = RECOGNITION_KEY,
        detection_key: str = DETECTION_KEY,
        verification_key: str = VERIFICATION_KEY,
        engine: FaceEngine | str | None = None,
    ) -> None:
        super().__init__()
        self.keys = {"Recognition": recognition_key, "Detection": detection_key, "Verification": verification_key}
        self.engine: FaceEngine = make_engine(engine)
        self.subjects: dict[str, list[Example]] = {}
        self.recognize_latency_s = 0.0
        self.coefficients = COEFFICIENTS
        self.det_prob_threshold = DEFAULT_DET_PROB_THRESHOLD
        self.max_file_size = MAX_FILE_SIZE
        self.max_body_size = MAX_BODY_SIZE
        self.unsupported: list[str] = []
        self._seq = 0
        self._seq_lock = threading.Lock()

    @property
    def recognition_key(self) -> str:
        return self.keys["Recognition"]

    # -- inspection and seeding, for tests ----------------------------------------------------------------------

    def subject_names(self) -> list[str]:
        """Stored subject names, sorted (CompreFace itself promises no order)."""
        with self.lock:
            return sorted(self.subjects)

    def example_count(self, subject: str | None = None) -> int:
        """Examples stored under ``subject`` (exact stored spelling), or in total when ``subject`` is None."""
        with self.lock:
            if subject is None:
                return sum(len(v) for v in self.subjects.values())
            return len(self.subjects.get(subject, ()))

    def examples(self) -> list[Example]:
        """Every stored example, in insertion order."""
        with self.lock:
            return sorted((e for items in self.subjects.values() for e in items), key=lambda e: e.seq)

    def find_example(self, image_id: str) -> Example | None:
        with self.lock:
            return next((e for items in self.subjects.values() for e in items if e.image_id == image_id), None)

    def stored_name(self, subject: str) -> str | None:
        """The stored spelling of ``subject``, matched case-insensitively as CompreFace's DAO does (§6.6)."""
        with self.lock:
            return self._lookup(subject)

    def add_example(self, subject: str, image: bytes) -> str:
        """Store an example without HTTP, as POST /faces would: exactly one face above the threshold."""
        faces = self._faces(image, None)
        if len(faces) != 1:
            raise ValueError(f"expected one face, found {len(faces)}")
        with self.lock:
            return self._store(subject, faces[0], image).image_id

    def add_subject_example(self, subject: str, image: bytes) -> str:
        """Seed a subject with the largest face of ``image``, as if enrolled long ago (no threshold)."""
        faces = self._faces(image, 0.0)
        if not faces:
            raise ValueError("no face in the image")
        with self.lock:
            return self._store(subject, faces[0], image).image_id

    def reset(self) -> None:
        """Forget every subject, call, fault and knob setting: lets one server serve a whole test module."""
        with self.lock:
            self.subjects.clear()
            self.unsupported.clear()
            self.calls.clear()
        self.clear_faults()
        with self.lock:
            self.latency_s = self.recognize_latency_s = 0.0
            self.coefficients = COEFFICIENTS
            self.det_prob_threshold = DEFAULT_DET_PROB_THRESHOLD
            self.max_file_size, self.max_body_size = MAX_FILE_SIZE, MAX_BODY_SIZE

    # -- shared logic ---------------------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def _lookup(self, name: str) -> str | None:
        """Like :meth:`stored_name`, for callers that hold the lock."""
        folded = name.casefold()
        return next((s for s in self.subjects if s.casefold() == folded), None)

    def _store(self, subject: str, face: Any, data: bytes) -> Example:
        stored = self._lookup(subject)
        if stored is None:
            stored = subject
            self.subjects[stored] = []
        vector = np.asarray(face.embedding, dtype=np.float64)
        example = Example(
            image_id=str(uuid.uuid4()),
            subject=stored,
            embedding=tuple(float(v) for v in vector / np.linalg.norm(vector)),
            image=data,
            person=getattr(face, "person", None),
            seq=self._next_seq(),
        )
        self.subjects[stored].append(example)
        return example

    def _drop_subject(self, requested: str, stored: str) -> list[Example]:
        examples = self.subjects.pop(stored)
        return examples

    def _faces(self, data: bytes, threshold: float | None, limit: int = 0) -> list[Any]:
        """Run the engine as the core does: threshold (strict >), largest first, ``limit`` largest (§6.3-6.4)."""
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise _no_face()
        try:
            found = list(self.engine.detect(data))
        except (UndecodableImage, ValueError) as exc:
            raise _no_face() from exc  # every core 400 reads as "no face" (§5.5)
        except Exception as exc:  # a crashing engine is a crashing core: 500/41 (§5.5)
            raise ApiError(
                500,
                41,
                "Error during synchronization between servers: [500 INTERNAL SERVER ERROR] during [POST] to "
                f"[http://compreface-core:3000/find_faces] [FacesFeignClient#findFaces]: [{exc}]",
            ) from exc
        cut = self.det_prob_threshold if threshold is None else threshold
        faces = [f for f in found if float(f.probability) > cut]
        faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return faces[:limit] if limit > 0 else faces

    def ranked(self, embedding: Sequence[float], count: int) -> list[dict[str, Any]]:
        """Similarity to every stored example, best first, first ``count`` (examples, not subjects: §6.2)."""
        with self.lock:
            pool = [(name, e) for name, examples in self.subjects.items() for e in examples]
            pool.sort(key=lambda item: item[1].seq)
        if not pool:
            return []
        query = np.asarray(embedding, dtype=np.float64)
        stored = np.asarray([e.embedding for _, e in pool], dtype=np.float64)
        if stored.shape[1] != query.shape[0]:
            raise _undefined()  # ND4J dimension mismatch (§4.6)
        scores = self._similarities(query, stored)
        order = sorted(range(len(pool)), key=lambda i: -scores[i])  # stable: ties keep cache order
        return [{"subject": pool[i][0], "similarity": scores[i]} for i in order[:count]]

    def _similarities(self, query: np.ndarray, stored: np.ndarray) -> list[float]:
        norms = np.linalg.norm(stored, axis=1, keepdims=True)
        units = stored / np.where(norms == 0, 1, norms)
        unit = query / np.linalg.norm(query)
        if isinstance(self.engine, ScoringEngine):
            return [_round5(s) for s in self.engine.similarities(unit, units)]
        distances = np.linalg.norm(units - unit, axis=1)
        c0, c1 = self.coefficients
        return [_round5((math.tanh((c0 - d) * c1) + 1) / 2) for d in distances.tolist()]


class CompreFaceHandler(DoubleHandler):
    """Routes requests, applying CompreFace's checks in its order (§5.4)."""

    double: ClassVar[CompreFaceDouble]  # type: ignore[assignment]

    # Every route of CompreFace 1.2.0; "unmodelled" ones are real but never called by the plugin's client.
    ROUTES: ClassVar[list[tuple[str, re.Pattern[str], str, str]]] = [
        (m, re.compile(p), name, consumes)
        for m, p, name, consumes in (
            ("POST", r"^/api/v1/recognition/subjects$", "create_subject", "json"),
            ("GET", r"^/api/v1/recognition/subjects$", "list_subjects", ""),
            ("DELETE", r"^/api/v1/recognition/subjects$", "unmodelled", ""),
            ("PUT", r"^/api/v1/recognition/subjects/(?P<subject>[^/]*)$", "rename_subject", "json"),
            ("DELETE", r"^/api/v1/recognition/subjects/(?P<subject>[^/]*)$", "delete_subject", ""),
            ("POST", r"^/api/v1/recognition/faces$", "add_example", "faces"),
            ("GET", r"^/api/v1/recognition/faces$", "list_examples", ""),
            ("DELETE", r"^/api/v1/recognition/faces$", "unmodelled", ""),
            ("POST", r"^/api/v1/recognition/faces/delete$", "unmodelled", ""),
            ("DELETE", r"^/api/v1/recognition/faces/(?P<image_id>[^/]+)$", "delete_example", ""),
            ("GET", r"^/api/v1/recognition/faces/(?P<image_id>[^/]+)/img$", "example_image", ""),
            ("POST", r"^/api/v1/recognition/faces/(?P<image_id>[^/]+)/verify$", "verify_example", "image"),
            ("POST", r"^/api/v1/recognition/recognize$", "recognize", "image"),
            ("POST", r"^/api/v1/recognition/embeddings/recognize$", "recognize_embeddings", "json"),
            ("POST", r"^/api/v1/recognition/embeddings/faces/(?P<image_id>[^/]+)/verify$", "unmodelled", ""),
            ("POST", r"^/api/v1/detection/detect$", "detect", "image"),
            ("POST", r"^/api/v1/verification/verify$", "verify_images", "image"),
            ("POST", r"^/api/v1/verification/embeddings/verify$", "unmodelled", ""),
            ("GET", r"^/api/v1/static/(?P<key>[^/]+)/images/(?P<image_id>[^/]+)$", "unmodelled", ""),
            ("GET", r"^/api/v1/config$", "config", ""),
            ("GET", r"^/api/v1/consistence/status$", "unmodelled", ""),
            ("POST", r"^/api/v1/migrate$", "unmodelled", ""),
            ("GET", r"^/core/status$", "unmodelled", ""),
            ("GET", r"^/core/healthcheck$", "unmodelled", ""),
        )
    ]

    # -- plumbing -------------------------------------------------------------------------------------------------

    def handle_request(self, method: str) -> None:
        body, too_large = self._read_limited_body()
        if too_large:  # nginx answers before anything reaches the API (§5.4)
            self.close_connection = True
            self.send(413, NGINX_413, "text/html", {"Connection": "close"})
            return
        path = self.path_only
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]  # Spring 5.3 trailing-slash match
        try:
            self._check_key(path)
            req = self._build_request(method, path, body)
            result = self._route(req)
        except _SpringError as err:
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            self._send_api(err.status, {"timestamp": stamp, "status": err.status, "error": err.error, "path": path})
            return
        except ApiError as err:
            self._send_api(err.status, {"message": err.message, "code": err.code})
            return
        except EmptyError as err:
            self.send(err.status, b"", "application/json")
            return
        except Unmodelled as err:
            with self.double.lock:
                self.double.unsupported.append(str(err))
            self._send_api(501, {"message": str(err), "code": -1})
            return
        status, payload = result
        if isinstance(payload, bytes):  # an example's image (§ route 12)
            self.send(status, payload, "application/octet-stream")
            return
        self._send_api(status, payload)

    def _send_api(self, status: int, payload: Any) -> None:
        self.send(status, jackson(payload).encode("utf-8"), "application/json")

    def _read_limited_body(self) -> tuple[bytes, bool]:
        """Read the body (Content-Length or chunked); past ``max_body_size`` drain it and report it too large."""
        limit = self.double.max_body_size
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                data = self.rfile.read(size)
                self.rfile.readline()
                total += size
                if total <= limit:
                    chunks.append(data)
            return (b"", True) if total > limit else (b"".join(chunks), False)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            remaining = length
            while remaining > 0:
                got = self.rfile.read(min(remaining, 1 << 20))
                if not got:
                    break
                remaining -= len(got)
            return b"", True
        return (self.rfile.read(length) if length else b""), False

    def _check_key(self, path: str) -> None:
        """The servlet filter (§2): header 20, UUID shape 26, service of the URL's type 10."""
        if not path.startswith("/api/v1/") or _EXEMPT_RE.match(path):
            return
        service = next((name for prefix, name in _SERVICE_BY_PREFIX if path.startswith(prefix)), None)
        key = self.headers.get("x-api-key")
        if key is None:
            raise ApiError(400, 20, "Missing header: x-api-key")
        if len(key) != 36 or not _UUID_RE.match(key):
            raise ApiError(400, 26, "Service API key should be UUID")
        if service is None:
            raise _SpringError(500, "Internal Server Error", path)
        if self.double.keys[service] != key:
            raise ApiError(404, 10, f"{service} service with API Key {key} not found")

    def _build_request(self, method: str, path: str, body: bytes) -> _Request:
        content_type = self.headers.get("Content-Type") or ""
        media_type = content_type.split(";", 1)[0].strip().lower()
        req = _Request(method, path, {k: list(v) for k, v in self.query.items()}, media_type, body)
        if req.is_multipart:  # Spring resolves multipart (and its size limits) before choosing a handler
            try:
                req.parts = _parse_multipart(body, content_type)
            except ValueError as exc:
                raise _undefined() from exc
            if any(len(p.content) > self.double.max_file_size for p in req.parts if p.filename is not None):
                raise _undefined()
            for part in req.parts:  # form fields fill @RequestParam too (§3)
                if part.filename is None:
                    req.params.setdefault(part.name, []).append(part.content.decode("utf-8", "replace"))
        return req

    def _route(self, req: _Request) -> Any:
        matched = [(m, rx.match(req.path), name, consumes) for m, rx, name, consumes in self.ROUTES]
        matched = [item for item in matched if item[1]]
        if not matched:
            raise _SpringError(404, "Not Found", req.path)
        for method, match, name, consumes in matched:
            if method != req.method:
                continue
            if consumes == "json" and not req.is_json:
                raise EmptyError(415)
            if consumes == "image" and not (req.is_json or req.is_multipart):
                raise EmptyError(415)
            if consumes == "faces" and not req.is_json and not req.is_multipart:
                raise _undefined()  # no `consumes` on POST /faces: a non-multipart body fails parsing (§4.1)
            assert match is not None
            if name == "unmodelled":
                raise Unmodelled(f"{req.method} {req.path}")
            args = {k: unquote(v) for k, v in match.groupdict().items()}
            return getattr(self, "_ep_" + name)(req, **args)
        raise ApiError(404, 0, f"Request method '{req.method}' not supported")

    # -- parameters -------------------------------------------------------------------------------------------------

    @staticmethod
    def _int(req: _Request, name: str, default: int) -> int:
        raw = req.param(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return int(raw.strip())
        except ValueError as exc:
            raise EmptyError(400) from exc

    @staticmethod
    def _float(req: _Request, name: str) -> float | None:
        raw = req.param(name)
        if raw is None or raw.strip() == "":
            return None
        try:
            value = float(raw.strip())
        except ValueError as exc:
            raise EmptyError(400) from exc
        if not math.isfinite(value):
            raise EmptyError(400)
        return value

    @staticmethod
    def _bool(req: _Request, name: str, default: bool) -> bool:
        raw = req.param(name)
        if raw is None or raw.strip() == "":
            return default
        value = raw.strip().lower()
        if value in ("true", "on", "yes", "1"):
            return True
        if value in ("false", "off", "no", "0"):
            return False
        raise EmptyError(400)

    @staticmethod
    def _uuid(value: str) -> str:
        if not _UUID_RE.match(value):
            raise EmptyError(400)
        return value.lower()

    def _image_params(self, req: _Request, upload: _Upload, *, prediction_count: bool = False) -> dict[str, Any]:
        """Bind the common image-endpoint parameters (400 empty), then the JSON body (5), then validate (26)."""
        params: dict[str, Any] = {
            "limit": self._int(req, "limit", 0),
            "prediction_count": self._int(req, "prediction_count", 1) if prediction_count else 1,
            "threshold": self._float(req, "det_prob_threshold"),
            "face_plugins": req.param("face_plugins") or "",
        }
        for name in ("status", "detect_faces"):
            if req.param(name) is not None:
                raise Unmodelled(f"the {name} parameter")
        upload.present()
        problems = []
        if params["limit"] < 0:
            problems.append("Limit should be equal or greater than 0; ")
        if params["prediction_count"] < 1:
            problems.append("prediction_count should be equal or greater than 1; ")
        if problems:
            raise ApiError(400, 26, "".join(problems))
        names = [n for n in re.split(r"[,\s]+", params["face_plugins"]) if n in KNOWN_PLUGINS]
        params["plugins"] = list(dict.fromkeys(names))
        params["with_embedding"] = "calculator" in params["face_plugins"]
        return params

    # -- face JSON ------------------------------------------------------------------------------------------------

    def _face_json(
        self, face: Any, params: dict[str, Any], *, rounded: bool
    ) -> dict[str, Any]:
        """One face object with the requested plugins, keys omitted rather than null (§4.10)."""
        plugins = params["plugins"]
        x_min, y_min, x_max, y_max = (int(v) for v in face.box)
        out: dict[str, Any] = {}
        if "age" in plugins:
            out["age"] = {
                "probability": 0.93,
                "high": int(getattr(face, "age_high", 32)),
                "low": int(getattr(face, "age_low", 25)),
            }
        if "gender" in plugins:
            out["gender"] = {"probability": 0.99, "value": str(getattr(face, "gender", "male"))}
        if "pose" in plugins:
            out["pose"] = {
                "pitch": float(getattr(face, "pitch", 0.0)),
                "roll": float(getattr(face, "roll", 0.0)),
                "yaw": float(getattr(face, "yaw", 0.0)),
            }
        if params["with_embedding"]:
            out["embedding"] = [float(v) for v in face.embedding]
        probability = float(face.probability)
        out["box"] = {
            "probability": _round5(probability) if rounded else probability,
            "x_max": x_max,
            "y_max": y_max,
            "x_min": x_min,
            "y_min": y_min,
        }
        if "mask" in plugins:
            out["mask"] = {"probability": 0.99, "value": "without_mask"}
        if "landmarks" in plugins:
            seen = getattr(face, "landmarks", None)  # a real engine's five points, else where they would be
            if seen:
                out["landmarks"] = [[round(x), round(y)] for x, y in seen]
            else:
                w, h = x_max - x_min, y_max - y_min
                points = ((0.33, 0.4), (0.67, 0.4), (0.5, 0.6), (0.36, 0.78), (0.64, 0.78))
                out["landmarks"] = [[x_min + round(px * w), y_min + round(py * h)] for px, py in points]
        return out

    @staticmethod
    def _validate_subject_body(req: _Request) -> str:
        body = req.json()
        name = body.get("subject") if isinstance(body, dict) else None
        if name is not None and not isinstance(name, str):
            raise EmptyError(400)
        if name is None or not name.strip():
            raise ApiError(400, 26, "Subject name cannot be empty")
        if len(name) > 50:
            raise ApiError(400, 26, "Subject name size must be between 1 and 50")
        if _SUBJECT_FORBIDDEN.search(name):
            raise ApiError(400, 36, "The name cannot contain the following special characters: ';', '/', '\\'")
        return name

    def _ep_create_subject(self, req: _Request) -> Any:
        name = self._validate_subject_body(req)
        double = self.double
        with double.lock:
            if double._lookup(name) is not None:
                raise ApiError(400, 43, "Subject already exists")
            double.subjects[name] = []
        return 201, {"subject": name}

    def _ep_list_subjects(self, req: _Request) -> Any:
        return 200, {"subjects": self.double.subject_names()}

    def _ep_rename_subject(self, req: _Request, subject: str) -> Any:
        if not subject.strip():
            raise ApiError(400, 26, "Subject name is empty; ")
        body = req.json()
        new = body.get("subject") if isinstance(body, dict) else None
        if new is None or new == "" or new == subject:
            return 200, {"updated": False}
        new = self._validate_subject_body(req)
        double = self.double
        with double.lock:
            old = double._lookup(subject)
            if old is None:
                raise ApiError(404, 42, f"Subject {subject} not found")
            target = double._lookup(new)
            if target is not None and target != old:  # merge into the other subject
                moved = double.subjects.pop(old)
                double.subjects[target].extend(moved)
            else:  # plain rename or re-casing; keep the subject's place in the listing
                target = new
                moved = double.subjects[old]
                items = [((new if k == old else k), v) for k, v in double.subjects.items()]
                double.subjects.clear()  # in place: tests may hold a reference to the dict
                double.subjects.update(items)
            for example in moved:
                example.subject = target
        return 200, {"updated": True}

    def _ep_delete_subject(self, req: _Request, subject: str) -> Any:
        if not subject.strip():
            raise ApiError(400, 26, "Subject name is empty; ")
        double = self.double
        with double.lock:
            stored = double._lookup(subject)
            if stored is None:
                raise ApiError(404, 42, f"Subject {subject} not found")
            double._drop_subject(subject, stored)
        return 200, {"subject": stored}

    # -- examples (§4.3) ------------------------------------------------------------------------------------------

    def _ep_add_example(self, req: _Request) -> Any:
        upload = _Upload(req, "file", "file", "content", strict=True)
        subject = req.param("subject")
        if subject is None:
            raise ApiError(400, 33, "Required parameter subject is missing")
        threshold = self._float(req, "det_prob_threshold")
        upload.present()
        if not subject.strip():
            raise ApiError(400, 26, "Subject name is empty; ")
        data = upload.data()
        faces = self.double._faces(data, threshold, limit=2)
        if not faces:
            raise _no_face()
        if len(faces) > 1:
            raise ApiError(400, 31, "More than one face in the source image")
        if len(subject) > 255:
            raise _undefined()  # varchar(255)
        double = self.double
        with double.lock:
            example = double._store(subject, faces[0], data)
        return 201, {"image_id": example.image_id, "subject": subject}

    def _ep_list_examples(self, req: _Request) -> Any:
        def coerce(name: str, default: int) -> int:
            try:
                return int(req.param(name) or "")
            except ValueError:
                return default

        page = max(0, coerce("page", 0))
        size = coerce("size", 20)
        size = 20 if size < 1 else min(size, MAX_PAGE_SIZE)
        subject = req.param("subject")
        double = self.double
        with double.lock:
            rows = [
                (e.seq, e.image_id, name)
                for name, examples in double.subjects.items()
                if subject is None or subject == "" or name == subject
                for e in examples
            ]
        rows.sort()
        chunk = rows[page * size : (page + 1) * size]
        return 200, {
            "faces": [{"image_id": image_id, "subject": name} for _, image_id, name in chunk],
            "total_pages": math.ceil(len(rows) / size),
            "total_elements": len(rows),
            "page_number": page,
            "page_size": size,
        }

    def _remove_example(self, image_id: str) -> str | None:
        double = self.double
        for name, examples in double.subjects.items():
            for index, example in enumerate(examples):
                if example.image_id == image_id:
                    del examples[index]  # the subject stays, even when empty (§4.3)
                    return name
        return None

    def _ep_example_image(self, req: _Request, image_id: str) -> Any:
        image_id = self._uuid(image_id)
        with self.double.lock:
            found = [e.image for examples in self.double.subjects.values() for e in examples if e.image_id == image_id]
        if not found:
            raise ApiError(404, 44, f"Image {image_id} not found")
        return 200, found[0]

    def _ep_delete_example(self, req: _Request, image_id: str) -> Any:
        image_id = self._uuid(image_id)
        with self.double.lock:
            subject = self._remove_example(image_id)
        if subject is None:
            raise ApiError(404, 44, f"Image {image_id} not found")
        return 200, {"image_id": image_id, "subject": subject}

    def _ep_recognize(self, req: _Request) -> Any:
        if self.double.recognize_latency_s:
            time.sleep(self.double.recognize_latency_s)
        upload = _Upload(req, "file", "file", "content", strict=False)
        params = self._image_params(req, upload, prediction_count=True)
        faces = self.double._faces(upload.data(), params["threshold"], params["limit"])
        if not faces:
            raise _no_face()
        result = []
        for face in faces:
            item = self._face_json(face, params, rounded=True)
            item["subjects"] = self.double.ranked(face.embedding, params["prediction_count"])
            if "landmarks" in item:  # keep the documented key order: ..., subjects, landmarks
                item["landmarks"] = item.pop("landmarks")
            result.append(item)
        payload: dict[str, Any] = {"result": result}
        return 200, payload

    def _ep_recognize_embeddings(self, req: _Request) -> Any:
        count = self._int(req, "prediction_count", 1)
        embeddings = self._embeddings(req.json(), "embeddings")
        if count < 1:
            raise ApiError(400, 26, "prediction_count should be equal or greater than 1; ")
        result = [{"embedding": e, "similarities": self.double.ranked(e, count)} for e in embeddings]
        return 200, {"result": result}

    @staticmethod
    def _embeddings(body: Any, name: str) -> list[list[float]]:
        value = body.get(name) if isinstance(body, dict) else None
        if not value:
            raise ApiError(400, 5, f"Field {name} cannot be empty")
        if not isinstance(value, list) or not all(
            isinstance(row, list) and row and all(isinstance(x, int | float) for x in row) for row in value
        ):
            raise EmptyError(400)
        return value

    def _example_or_44(self, image_id: str) -> Example:
        found = self.double.find_example(image_id)
        if found is None:
            raise ApiError(404, 44, "Image Id is incorrect")
        return found

    def _sim(self, a: Sequence[float], b: Sequence[float]) -> float:
        if len(a) != len(b):
            raise _undefined()
        if isinstance(self.double.engine, ScoringEngine):
            return self.double._similarities(np.asarray(a, dtype=np.float64), np.asarray([b], dtype=np.float64))[0]
        return similarity(a, b, self.double.coefficients)

    def _ep_verify_example(self, req: _Request, image_id: str) -> Any:
        image_id = self._uuid(image_id)
        upload = _Upload(req, "file", "file", "content", strict=False)
        params = self._image_params(req, upload)
        faces = self.double._faces(upload.data(), params["threshold"], params["limit"])
        if not faces:
            raise _no_face()
        example = self._example_or_44(image_id)  # after the core call (§5.4)
        result = []
        for face in faces:
            item = self._face_json(face, params, rounded=True)
            item["subject"] = example.subject
            item["similarity"] = self._sim(face.embedding, example.embedding)
            result.append(item)
        payload: dict[str, Any] = {"result": result}
        return 200, payload

    # -- detection and verification services (§4.7-4.8) ----------------------------------------------------------

    def _ep_detect(self, req: _Request) -> Any:
        if self.double.recognize_latency_s:
            time.sleep(self.double.recognize_latency_s)
        upload = _Upload(req, "file", "file", "content", strict=False)
        params = self._image_params(req, upload)
        faces = self.double._faces(upload.data(), params["threshold"], params["limit"])
        if not faces:
            raise _no_face()
        payload: dict[str, Any] = {"result": [self._face_json(f, params, rounded=False) for f in faces]}
        return 200, payload

    def _ep_verify_images(self, req: _Request) -> Any:
        source = _Upload(req, "source_image", "source_image", "sourceImageBase64", strict=False)
        target = _Upload(req, "target_image", "target_image", "targetImageBase64", strict=False)
        params = self._image_params(req, source)
        target.present()
        source_data, target_data = source.data(), target.data()
        source_faces = self.double._faces(source_data, params["threshold"], params["limit"])
        if not source_faces:
            raise _no_face()
        if len(source_faces) > 1:
            raise ApiError(400, 31, "More than one face in the source image")
        target_faces = self.double._faces(target_data, params["threshold"], params["limit"])
        if not target_faces:
            raise _no_face()
        reference = source_faces[0]
        matches = []
        for face in target_faces:  # largest first, not by similarity (§4.8)
            item = self._face_json(face, params, rounded=True)
            item["similarity"] = self._sim(face.embedding, reference.embedding)
            matches.append(item)
        element: dict[str, Any] = {
            "source_image_face": self._face_json(reference, params, rounded=True),
            "face_matches": matches,
        }
        return 200, {"result": [element]}

    def _ep_config(self, req: _Request) -> Any:
        return 200, {"clientMaxFileSize": self.double.max_file_size, "clientMaxBodySize": self.double.max_body_size}



class _SpringError(ApiError):
    """Spring Boot's error JSON for unknown paths (404) and exceptions thrown in the filter (500) (§5.3)."""

    def __init__(self, status: int, error: str, path: str) -> None:
        super().__init__(status, 0, error)
        self.error, self.path = error, path


CompreFaceDouble.handler_class = CompreFaceHandler
