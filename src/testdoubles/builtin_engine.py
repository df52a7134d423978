"""Real faces behind the CompreFace double: the plugin's built-in engine (YuNet + SFace) as its core.

Why: the synthetic engine proves the plugin's logic on faces whose truth is known, but not that it works on
photos of people. With ``CompreFaceDouble(engine="builtin")`` the double finds and embeds real faces with
``stash_compreface.engine.backend.load_backend()`` and still answers CompreFace's wire format, so the
plugin's CompreFace path (client, quality gates, matching) runs on real photos, in tests and benchmarks.

What it keeps of CompreFace's core: no EXIF rotation (the core reads the stored pixels), boxes in the
pixels of the bytes sent, the five landmarks and a pose from them (``faces.pose``), and similarities on
CompreFace's 0..1 scale: SFace's cosine through ``faces.calibration.calibrated_similarity`` (0.50 -> 0.81),
the same map the built-in engine uses, so ``minSimilarity`` means the same as against a real CompreFace.
Age and gender are not estimated (the double answers its fixed defaults).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from stash_compreface.engine.backend import FaceModel, load_backend
from stash_compreface.faces.calibration import calibrated_similarity
from stash_compreface.faces.pose import estimate_pose

from .synthetic import UndecodableImage

__all__ = ["BuiltinEngine", "EngineFace"]

MAX_PIXELS = 40_000_000  # a decompression bomb is "no face", as the core's 400 would be


@dataclass(frozen=True)
class EngineFace:
    """One real face as the double needs it (the shape of :class:`testdoubles.synthetic.DetectedFace`)."""

    box: tuple[int, int, int, int]  # x_min, y_min, x_max, y_max in the pixels of the bytes sent
    probability: float
    embedding: tuple[float, ...]  # L2-normalised
    landmarks: tuple[tuple[float, float], ...]  # left eye, right eye, nose tip, left mouth, right mouth
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    person: None = None  # only synthetic faces carry their identity

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class BuiltinEngine:
    """Detects and embeds real faces with a ``FaceModel`` (default: ``load_backend(backend)`` on first use).

    Thread-safe (backends are). Every face found is embedded, as CompreFace's core does for recognition.
    """

    def __init__(self, model: FaceModel | None = None, *, backend: str = "auto") -> None:
        self._model = model
        self._backend = backend

    @property
    def model(self) -> FaceModel:
        if self._model is None:
            self._model = load_backend(self._backend)
        return self._model

    def detect(self, data: bytes) -> list[EngineFace]:
        rgb = _decode(data)
        model = self.model
        faces = []
        for found in model.detect(rgb):
            vector = np.asarray(model.embed(rgb, found), dtype=np.float64)
            norm = float(np.linalg.norm(vector))
            pose = estimate_pose(found.landmarks)
            box = found.box
            faces.append(EngineFace(
                box=(box.x_min, box.y_min, box.x_max, box.y_max),
                probability=float(found.probability),
                embedding=tuple(float(v) for v in (vector / norm if norm else vector)),
                landmarks=tuple((float(x), float(y)) for x, y in found.landmarks),
                yaw=pose.yaw if pose else 0.0, pitch=pose.pitch if pose else 0.0, roll=pose.roll if pose else 0.0,
            ))
        faces.sort(key=lambda f: -f.area)
        return faces

    def similarities(self, query: np.ndarray, stored: np.ndarray) -> Sequence[float]:
        """CompreFace-scale similarity of the unit vector ``query`` to each unit row of ``stored``."""
        return [calibrated_similarity(c) for c in (stored @ query).tolist()]


def _decode(data: bytes) -> np.ndarray:
    """The stored pixels as RGB, EXIF orientation ignored as CompreFace's core ignores it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise UndecodableImage(f"{image.width}x{image.height} is too many pixels")
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except UndecodableImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UndecodableImage(str(exc)) from exc
