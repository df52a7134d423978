"""The ncnn backend (the musl path) on real photos: faces, landmarks, identities, and OpenCV's vectors."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

from stash_compreface import imaging
from stash_compreface.engine import ncnn_params, ncnn_weights
from stash_compreface.engine.backend import (
    SFACE_FILE,
    SFACE_SHA256,
    YUNET_FILE,
    YUNET_SHA256,
    load_backend,
    packaged_model,
)
from stash_compreface.faces.models import Face
from tests.engine.conftest import PHOTOS


def rgb(data: bytes) -> np.ndarray:
    return np.asarray(imaging.decode_rgb(data), dtype=np.uint8)


def largest(found: list[Face]) -> Face:
    assert found, "no face found"
    return max(found, key=lambda d: d.box.area)


@pytest.mark.parametrize(("name", "filename", "sha256"), [("yunet", YUNET_FILE, YUNET_SHA256),
                                                           ("sface", SFACE_FILE, SFACE_SHA256)])
def test_weights_rebuilt_from_the_wheel_are_the_converted_ones(name, filename, sha256):
    """The conversion step recorded these digests; a changed rebuild would load wrong weights silently."""
    source = packaged_model(filename, sha256).read_bytes()
    assert hashlib.sha256(ncnn_weights.ncnn_weights(source)).hexdigest() == ncnn_params.WEIGHTS_SHA256[name]


def test_block_dequantization_follows_onnx():
    x = np.array([[-128, 0, 127, 10], [1, 2, 3, 4]], dtype=np.int8)
    scale = np.array([[0.5, 2.0], [1.0, 4.0]], dtype=np.float32)  # blocks of 2 along axis 1
    zero = np.array([[0, 1], [0, 0]], dtype=np.int8)
    got = ncnn_weights.dequantize(x, scale, zero, axis=1, block=2)
    assert got.tolist() == [[-64.0, 0.0, 252.0, 18.0], [1.0, 2.0, 12.0, 16.0]]


@pytest.mark.parametrize("name", [p.name for p in PHOTOS])
def test_each_portrait_has_one_face_with_its_landmarks_on_it(photos, ncnn_model, name):
    image = rgb(photos[name])
    found = ncnn_model.detect(image)
    assert len(found) == 1, f"{name}: {found}"
    face = found[0]
    assert 0.7 <= face.probability <= 1.0
    assert 0 <= face.box.x_min < face.box.x_max <= image.shape[1]
    assert 0 <= face.box.y_min < face.box.y_max <= image.shape[0]
    margin = face.box.width * 0.05
    for x, y in face.landmarks:
        assert face.box.x_min - margin <= x <= face.box.x_max + margin
        assert face.box.y_min - margin <= y <= face.box.y_max + margin
    (lex, ley), (rex, rey), (_, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    assert lex < rex and lmx < rmx
    assert max(ley, rey) < ny < min(lmy, rmy)


def test_a_blank_image_has_no_face(ncnn_model):
    assert ncnn_model.detect(np.full((480, 640, 3), 127, dtype=np.uint8)) == []


def test_same_person_is_closer_than_any_other_person(photos, ncnn_model):
    vectors = {}
    for photo in PHOTOS:
        image = rgb(photos[photo.name])
        vector = ncnn_model.embed(image, largest(ncnn_model.detect(image)))
        assert vector.dtype == np.float32 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
        vectors[photo.name] = vector
    same, different = [], []
    for a, b in itertools.combinations(PHOTOS, 2):
        (same if a.person == b.person else different).append(float(vectors[a.name] @ vectors[b.name]))
    assert min(same) > max(different), (min(same), max(different))
    assert min(same) > 0.5 and max(different) < 0.45


def test_vectors_agree_with_the_opencv_backend(photos, ncnn_model):
    """Same model id, so one subject store serves both: the vectors must be the same up to resampling."""
    pytest.importorskip("cv2", reason="OpenCV is not installed (the musl case): nothing to compare with")
    opencv = load_backend("opencv")
    assert opencv.model_id == ncnn_model.model_id
    for photo in PHOTOS:
        image = rgb(photos[photo.name])
        ours, theirs = ncnn_model.detect(image), opencv.detect(image)
        assert len(ours) == len(theirs) == 1
        assert ours[0].box.iou(theirs[0].box) > 0.9, photo.name
        # the same detection in both: what differs is only the network runtime and the resampling
        cosine = float(ncnn_model.embed(image, theirs[0]) @ opencv.embed(image, theirs[0]))
        assert cosine > 0.98, (photo.name, cosine)


def test_pictures_analysed_in_several_threads_at_once_get_the_vectors_they_get_alone(photos, ncnn_model):
    """ncnn nets are shared lock-free between the item runner's threads (one extractor per call)."""
    from concurrent.futures import ThreadPoolExecutor

    images = [rgb(photos[p.name]) for p in PHOTOS[:6]]

    def analysed(image: np.ndarray) -> np.ndarray:
        return ncnn_model.embed_many(image, ncnn_model.detect(image))

    alone = [analysed(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(analysed, images * 2))
    for vectors, theirs in zip(alone * 2, together, strict=True):
        assert np.allclose(theirs, vectors, atol=1e-5)
