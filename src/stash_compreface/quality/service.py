"""The quality service: face measures over HTTP, for tools outside the plugin (the seed's ``/quality/*``).

Started from the plugin's own environment with ``python -m stash_compreface quality-service --host H --port P``.
Faces come from the built-in engine's detector; every measure comes from ``quality.assess``, the same code
the plugin's gates use, so the service and the plugin never disagree about a face.

Endpoints (the image as the multipart field ``file``, or as the raw request body with the fields in the query):

* ``POST /quality/assess``: every face, largest first; or, with the field ``faces`` (a JSON list of
  ``{"box": {...}, "landmarks": [[x, y], ...], "probability": p}``), the caller's faces in the caller's order;
* ``POST /quality/detect``: the faces whose composite ``score`` is at least ``min_score`` (default 0.5);
* ``POST /quality/preprocess``: ``image/jpeg``, the aligned crop of face ``face_index`` (default 0, the
  largest) with ``padding`` (fraction of the face size on every side, default 0) at ``size`` px (default 112);
* ``GET /health``.

Coordinates are those of the upright image (EXIF orientation applied) at the size it was sent. Errors are
``{"error": "..."}`` with 400 (a missing file or a bad field), 411/413 (a chunked or too large upload), 422 (not
an image, no such face) or 500.

Why Starlette + uvicorn + python-multipart: pure-Python wheels (so they install on Alpine's musl as
everywhere else) from actively maintained projects, with HTTP parsing by h11 (already installed for httpx)
and streaming multipart parsing with limits, where the stdlib ``http.server`` warns it is not for
production use.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import imaging
from ..errors import MediaError
from ..faces.models import Box, Face, Point, Pose
from .align import FaceOutsideImage, aligned_crop
from .assess import FaceQuality, assess_face

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from ..engine.backend import FaceModel

SERVICE = "stash-compreface quality"
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
DECODE_MAX_SIDE = 2048  # faces are measured at 112 px: a bigger picture only costs memory
DEFAULT_MIN_SCORE = 0.5
MAX_CROP_SIZE = 1024
MAX_FACES_FIELD = 200

T = TypeVar("T")
_SEND_IT = "send it as the multipart field `file`, or as the request body"


class RequestError(Exception):
    """A request the service cannot serve: one readable message and its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- reading requests -------------------------------------------------------------------------------------


async def _read_image(request: Request) -> tuple[bytes, dict[str, str]]:
    """The image bytes and the text fields (query parameters, then form fields over them)."""
    fields = dict(request.query_params)
    length = request.headers.get("content-length")
    if length is None and "chunked" in request.headers.get("transfer-encoding", "").lower():
        raise RequestError(411, "send the image with a Content-Length (chunked uploads are not accepted)")
    if length is not None and (not length.isdigit() or int(length) > MAX_UPLOAD_BYTES):
        raise RequestError(413, f"the upload is larger than the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB accepted")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            async with request.form(max_files=1, max_fields=20) as form:
                upload = form.get("file")
                fields.update({key: value for key, value in form.items() if isinstance(value, str) and key != "file"})
                if upload is None or isinstance(upload, str):
                    raise RequestError(400, f"no image: {_SEND_IT}")
                data = await upload.read()
        except MultiPartException as exc:
            raise RequestError(400, f"the multipart form cannot be read: {exc.message}") from None
    else:  # a raw body, whatever its type says (curl --data-binary calls it a urlencoded form)
        data = b"" if length is None else await request.body()
        if not data:
            raise RequestError(400, f"no image: {_SEND_IT}")
    return data, fields


def _number(fields: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = fields.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RequestError(400, f"field `{name}` must be a number, got {raw[:40]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise RequestError(400, f"field `{name}` must be within {low:g}..{high:g}, got {raw[:40]!r}")
    return value


def _integer(fields: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = fields.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestError(400, f"field `{name}` must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise RequestError(400, f"field `{name}` must be within {low}..{high}, got {value}")
    return value


def _real(value: Any) -> float:
    """A finite number: JSON's Infinity, NaN and 1e999 are refused like any other wrong value."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _parse_faces(raw: str, factor: float) -> list[Face]:
    """The caller's faces (in the pixels of the image as sent), in the pixels of the decoded image."""
    try:
        items = json.loads(raw)
    except ValueError as exc:
        raise RequestError(400, f"field `faces` is not JSON: {exc}") from None
    if not isinstance(items, list) or len(items) > MAX_FACES_FIELD:
        raise RequestError(400, f"field `faces` must be a JSON list of at most {MAX_FACES_FIELD} faces")
    faces = []
    for index, item in enumerate(items):
        where = f"field `faces` item {index}"
        try:
            box_raw = item["box"]
            box = Box(*(round(_real(box_raw[k]) / factor) for k in ("x_min", "y_min", "x_max", "y_max")))
            points: tuple[Point, ...] = tuple((_real(x) / factor, _real(y) / factor)
                                              for x, y in item.get("landmarks") or ())
            probability = _real(item.get("probability", 1.0))
            pose_raw = item.get("pose")
            pose = None if pose_raw is None else Pose(_real(pose_raw["yaw"]), _real(pose_raw["pitch"]),
                                                      _real(pose_raw["roll"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise RequestError(400, f"{where} must look like {{\"box\": {{\"x_min\", \"y_min\", \"x_max\", "
                               f"\"y_max\"}}, \"landmarks\": [[x, y] x5]}} ({type(exc).__name__}: {exc})") from None
        if box.width < 1 or box.height < 1:
            raise RequestError(400, f"{where}: the box is empty")
        if points and len(points) != 5:
            raise RequestError(400, f"{where}: landmarks must be five [x, y] points, got {len(points)}")
        faces.append(Face(box=box, probability=min(1.0, max(0.0, probability)), pose=pose, landmarks=points))
    return faces


# -- the work (in worker threads) -------------------------------------------------------------------------


class _Decoded:
    """An upload decoded upright within the memory budget, and the factor back to the size it was sent at."""

    def __init__(self, data: bytes) -> None:
        try:
            self.image = imaging.decode_rgb(data, max_side=DECODE_MAX_SIDE)
            with Image.open(io.BytesIO(data)) as header:  # the size as sent (the long side survives EXIF turns)
                sent_long_side = max(header.size)
        except MediaError as exc:
            raise RequestError(422, f"the file is not a usable image: {exc}") from None
        self.factor = sent_long_side / max(self.image.size)

    def to_sent(self, quality: FaceQuality) -> FaceQuality:
        if abs(self.factor - 1.0) < 1e-9:
            return quality
        return replace(quality, box=quality.box.scaled(self.factor),
                       landmarks=tuple((x * self.factor, y * self.factor) for x, y in quality.landmarks))


def _detect(model: FaceModel, image: Image.Image) -> list[Face]:
    import numpy as np

    return sorted(model.detect(np.asarray(image)), key=lambda f: -f.box.area)


def _assess(model: FaceModel, data: bytes, fields: Mapping[str, str]) -> list[dict[str, Any]]:
    decoded = _Decoded(data)
    given = fields.get("faces", "").strip()
    faces = _parse_faces(given, decoded.factor) if given else _detect(model, decoded.image)
    return [decoded.to_sent(assess_face(decoded.image, face)).as_dict() for face in faces]


def _preprocess(model: FaceModel, data: bytes, face_index: int, padding: float, size: int) -> bytes:
    decoded = _Decoded(data)
    faces = _detect(model, decoded.image)
    if not faces:
        raise RequestError(422, "no face found in the image")
    if face_index >= len(faces):
        raise RequestError(422, f"field `face_index` is {face_index} but the image has {len(faces)} "
                           f"face{'s' if len(faces) != 1 else ''} (0 is the largest)")
    try:
        crop = aligned_crop(decoded.image, faces[face_index], size=size, padding=padding)
    except FaceOutsideImage as exc:
        raise RequestError(422, str(exc)) from None
    return imaging.encode_jpeg(crop)


# -- the application --------------------------------------------------------------------------------------


def create_app(model: FaceModel, *, workers: int | None = None) -> Starlette:
    """The ASGI app over ``model`` (a ``FaceModel``; only ``detect`` and ``model_id`` are used).

    ``workers``: images measured at once (CPU-bound; default: the number of cores).
    """
    limiter = anyio.CapacityLimiter(workers or os.cpu_count() or 2)

    async def work(func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=limiter)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": SERVICE, "model": model.model_id})

    async def assess(request: Request) -> JSONResponse:
        data, fields = await _read_image(request)
        return JSONResponse({"faces": await work(_assess, model, data, fields)})

    async def detect(request: Request) -> JSONResponse:
        data, fields = await _read_image(request)
        min_score = _number(fields, "min_score", DEFAULT_MIN_SCORE, 0.0, 1.0)
        faces = await work(_assess, model, data, {})
        return JSONResponse({"faces": [face for face in faces if face["score"] >= min_score]})

    async def preprocess(request: Request) -> Response:
        data, fields = await _read_image(request)
        face_index = _integer(fields, "face_index", 0, 0, 10_000)
        padding = _number(fields, "padding", 0.0, 0.0, 2.0)
        size = _integer(fields, "size", 112, 16, MAX_CROP_SIZE)
        jpeg = await work(_preprocess, model, data, face_index, padding, size)
        return Response(jpeg, media_type="image/jpeg")

    async def request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestError)
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"the service failed: {type(exc).__name__}: {exc}"}, status_code=500)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/quality/assess", assess, methods=["POST"]),
        Route("/quality/detect", detect, methods=["POST"]),
        Route("/quality/preprocess", preprocess, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={RequestError: request_error, HTTPException: http_error,
                                                        Exception: server_error})


def serve(host: str, port: int, model: FaceModel, *, log_level: str = "info") -> None:
    """Run the service until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    app: ASGIApp = create_app(model)
    uvicorn.run(app, host=host, port=port, log_level=log_level, limit_concurrency=64, timeout_keep_alive=5)
