"""The measures: sharpness and brightness order faces as a person would, and the composite score follows."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from stash_compreface.faces.alignment import landmarks_from_box
from stash_compreface.faces.models import Box, Face, Pose
from stash_compreface.faces.scoring import brightness_score, composite_score, pose_score
from stash_compreface.quality.assess import assess_face
from testdoubles.synthetic import SyntheticFace, render


def _synthetic(size: int = 160, blur: float = 0.0) -> tuple[Image.Image, Face]:
    face = SyntheticFace(person=77, x=40, y=30, size=size, blur=blur)
    box = Box(*face.box)
    return render(size + 100, size + 80, [face]), Face(box=box, probability=0.99, landmarks=landmarks_from_box(box))


@pytest.mark.parametrize("blur", [0.02, 0.05])
def test_a_blurred_face_is_less_sharp_and_scores_lower(blur):
    sharp = assess_face(*_synthetic())
    blurred = assess_face(*_synthetic(blur=blur))
    assert blurred.sharpness < sharp.sharpness / 3
    assert blurred.score < sharp.score


def test_a_darkened_face_is_darker_and_a_black_one_scores_lower():
    image, face = _synthetic()
    normal = assess_face(image, face)
    darker = assess_face(ImageEnhance.Brightness(image).enhance(0.4), face)
    black = assess_face(ImageEnhance.Brightness(image).enhance(0.05), face)
    assert 0.25 < normal.brightness < 0.75
    assert darker.brightness < normal.brightness * 0.6
    assert black.brightness < 0.05 and black.score < normal.score


def test_sharpness_compares_across_face_sizes():
    """Measured on the 112 px aligned crop: the same face drawn 3x and 6x bigger is about as sharp."""
    small, large, huge = (assess_face(*_synthetic(size)).sharpness for size in (120, 360, 720))
    assert 0.75 < large / small < 1.33 and 0.75 < huge / small < 1.33


def test_measures_skip_the_part_of_the_crop_beyond_the_image():
    """A face cut by the edge of a plain picture has no sharpness, though its crop has a black edge."""
    plain = Image.new("RGB", (200, 200), (180, 160, 150))
    cut = assess_face(plain, Face(box=Box(120, 40, 260, 200), probability=0.9))
    assert cut.sharpness < 0.5
    assert cut.brightness == pytest.approx(np.asarray(plain.convert("L")).mean() / 255, abs=0.01)


def test_a_face_outside_the_image_measures_nothing():
    quality = assess_face(Image.new("RGB", (100, 100), (255, 255, 255)), Face(box=Box(300, 300, 400, 420),
                                                                                probability=0.9))
    assert quality.sharpness == 0.0 and quality.brightness == 0.0


def test_without_landmarks_the_box_stands_in_and_the_pose_is_the_engines_or_unknown():
    image, face = _synthetic()
    bare = Face(box=face.box, probability=0.95)
    measured = assess_face(image, bare)
    assert measured.landmarks_estimated and measured.pose is None
    assert measured.landmarks == landmarks_from_box(face.box)
    compreface = Face(box=face.box, probability=0.95, pose=Pose(yaw=40.0, pitch=-5.0, roll=2.0))
    with_pose = assess_face(image, compreface)
    assert with_pose.pose == compreface.pose
    assert with_pose.score < measured.score  # turned away counts against it


def test_real_landmarks_give_a_pose_and_the_engines_pose_wins():
    image, face = _synthetic()
    assert assess_face(image, face).pose is not None
    told = Pose(yaw=10.0, pitch=0.0, roll=0.0)
    assert assess_face(image, Face(box=face.box, probability=0.9, pose=told, landmarks=face.landmarks)).pose == told


def test_the_service_shape_of_one_face():
    image, face = _synthetic()
    shape = assess_face(image, face).as_dict()
    assert set(shape) >= {"box", "landmarks", "pose", "sharpness", "brightness", "score"}
    assert set(shape["box"]) == {"x_min", "y_min", "x_max", "y_max"}
    assert len(shape["landmarks"]) == 5 and all(len(p) == 2 for p in shape["landmarks"])
    assert set(shape["pose"]) == {"yaw", "pitch", "roll"}
    assert 0.0 <= shape["score"] <= 1.0


# -- the composite score ----------------------------------------------------------------------------------


def test_a_perfect_face_scores_one_and_each_flaw_costs():
    perfect = {"face_side": 200, "detection": 1.0, "sharpness": 40.0, "brightness": 0.5, "pose": Pose(0, 0, 0)}
    assert composite_score(**perfect) == 1.0
    for flaw in ({"face_side": 40}, {"detection": 0.6}, {"sharpness": 5.0}, {"brightness": 0.05},
                 {"pose": Pose(60.0, 0.0, 0.0)}):
        score = composite_score(**{**perfect, **flaw})
        assert 0.0 < score < 1.0, flaw


def test_score_parts():
    assert pose_score(None) == 1.0
    assert pose_score(Pose(0.0, 0.0, 45.0)) == 1.0  # roll is undone by alignment
    assert pose_score(Pose(45.0, 0.0, 0.0)) == pytest.approx(0.5)
    assert brightness_score(0.5) == 1.0
    assert brightness_score(0.0) == 0.0 and brightness_score(1.0) == 0.0
    assert 0.0 < brightness_score(0.1) < brightness_score(0.2) < 1.0


# -- real portraits, with the real detector ---------------------------------------------------------------


def _largest(face_model, image: Image.Image) -> Face:
    found = face_model.detect(np.asarray(image))
    assert found, "the detector found no face"
    return found[0]


def test_real_portraits_blurred_darkened(portraits, face_model):
    for name, data in portraits.items():
        image = Image.open(io.BytesIO(data)).convert("RGB")
        original = assess_face(image, _largest(face_model, image))
        blurred_image = image.filter(ImageFilter.GaussianBlur(3))
        blurred = assess_face(blurred_image, _largest(face_model, blurred_image))
        dark_image = ImageEnhance.Brightness(image).enhance(0.4)
        dark = assess_face(dark_image, _largest(face_model, dark_image))
        assert blurred.sharpness < original.sharpness * 0.7, name
        assert blurred.score < original.score, name
        assert dark.brightness < original.brightness * 0.6, name


def test_real_portraits_pose(portraits, face_model):
    poses = {}
    for name, data in portraits.items():
        image = Image.open(io.BytesIO(data)).convert("RGB")
        poses[name] = assess_face(image, _largest(face_model, image)).pose
        assert poses[name] is not None
    for name in ("person_a_1", "person_b_1", "person_b_2", "impostor_1", "impostor_2"):
        assert abs(poses[name].yaw) < 10 and abs(poses[name].pitch) < 10, (name, poses[name])
    # Macron 2025 looks past the camera to the image's left; his mirror image to the right.
    assert poses["person_a_2"].yaw < -8
    mirrored = Image.open(io.BytesIO(portraits["person_a_2"])).convert("RGB").transpose(
        Image.Transpose.FLIP_LEFT_RIGHT)
    assert assess_face(mirrored, _largest(face_model, mirrored)).pose.yaw > 8
