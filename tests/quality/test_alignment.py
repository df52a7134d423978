"""Alignment: the similarity fit, and the aligned crop putting a face's points on the template."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stash_compreface.faces.alignment import (
    ARCFACE_112,
    Similarity,
    alignment,
    crop_side,
    fit_similarity,
    landmarks_from_box,
    template,
)
from stash_compreface.faces.models import Box, Face, Pose
from stash_compreface.quality.align import FaceOutsideImage, aligned_crop, face_points, warp


def test_the_fit_recovers_a_similarity_exactly():
    truth = Similarity(1.7 * math.cos(0.4), 1.7 * math.sin(0.4), 31.0, -12.5)
    source = [(0.0, 0.0), (10.0, 3.0), (-4.0, 8.0), (6.0, -7.0), (2.0, 2.0)]
    fitted = fit_similarity(source, [truth.apply(p) for p in source])
    assert (fitted.a, fitted.b, fitted.tx, fitted.ty) == pytest.approx((truth.a, truth.b, truth.tx, truth.ty))
    assert fitted.scale == pytest.approx(1.7)
    assert fitted.angle == pytest.approx(math.degrees(0.4))


def test_inverse_and_composition_undo_each_other():
    s = Similarity(0.3, -1.1, 5.0, 7.0)
    back = s.then(s.inverse())
    assert (back.a, back.b, back.tx, back.ty) == pytest.approx((1.0, 0.0, 0.0, 0.0))
    assert s.inverse().apply(s.apply((3.0, -2.0))) == pytest.approx((3.0, -2.0))


def test_the_fit_refuses_points_that_coincide():
    with pytest.raises(ValueError, match="coincide"):
        fit_similarity([(1.0, 1.0)] * 5, list(ARCFACE_112))


def test_a_bigger_or_padded_template_keeps_the_face_in_place():
    assert [c for p in template(112, 0.0) for c in p] == pytest.approx([c for p in ARCFACE_112 for c in p])
    doubled = template(224, 0.0)
    assert doubled[0] == pytest.approx(((ARCFACE_112[0][0] + 0.5) * 2 - 0.5, (ARCFACE_112[0][1] + 0.5) * 2 - 0.5))
    padded = template(112, 0.25)
    assert padded[2] == pytest.approx((ARCFACE_112[2][0] + 28, ARCFACE_112[2][1] + 28))
    assert crop_side(112, 0.25) == 168


def _card() -> Image.Image:
    """A 112 px 'face': textured grey with a black dot on each template point."""
    rng = np.random.default_rng(7)
    pixels = (140 + rng.integers(-30, 30, (112, 112, 1))).repeat(3, axis=2).astype(np.uint8)
    card = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(card)
    for x, y in ARCFACE_112:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(0, 0, 0))
    return card


def _place(card: Image.Image, placement: Similarity, size: tuple[int, int]) -> Image.Image:
    """Draw ``card`` into a bigger picture, card pixel p going to ``placement(p)`` (index coordinates)."""
    edge = Similarity(1, 0, -0.5, -0.5).then(placement).then(Similarity(1, 0, 0.5, 0.5))
    inv = edge.inverse()
    return card.transform(size, Image.Transform.AFFINE, (inv.a, -inv.b, inv.tx, inv.b, inv.a, inv.ty),
                          resample=Image.Resampling.BICUBIC, fillcolor=(90, 120, 60))


def _dots(crop: Image.Image, expected) -> list[tuple[float, float]]:
    """The centroid of the dark pixels near each expected point."""
    grey = np.asarray(crop.convert("L"), dtype=np.float64)
    found = []
    for x, y in expected:
        x0, y0 = max(0, round(x) - 8), max(0, round(y) - 8)
        window = grey[y0:round(y) + 9, x0:round(x) + 9]
        weight = np.clip(100.0 - window, 0, None)
        ys, xs = np.mgrid[0:window.shape[0], 0:window.shape[1]]
        found.append((float((xs * weight).sum() / weight.sum()) + x0, float((ys * weight).sum() / weight.sum()) + y0))
    return found


@pytest.mark.parametrize(("scale", "degrees"), [(2.5, 20.0), (0.9, -30.0), (6.0, 5.0), (1.0, 0.0)])
def test_the_aligned_crop_puts_the_points_back_on_the_template(scale, degrees):
    angle = math.radians(degrees)
    placement = Similarity(scale * math.cos(angle), scale * math.sin(angle), 150.0, 90.0)
    picture = _place(_card(), placement, (round(150 + 170 * scale), round(90 + 170 * scale)))
    landmarks = tuple(placement.apply(p) for p in ARCFACE_112)
    face = Face(box=Box(0, 0, 10, 10), probability=0.9, landmarks=landmarks)

    crop = aligned_crop(picture, face)

    assert crop.size == (112, 112)
    card_dots = _dots(_card(), ARCFACE_112)  # drawn on whole pixels, so within 0.5 px of the template
    for got, want in zip(_dots(crop, ARCFACE_112), card_dots, strict=True):
        assert math.dist(got, want) < 0.25  # a half-pixel slip would show
    if scale >= 1:  # no detail was lost on the way: the texture comes back too
        difference = np.abs(np.asarray(crop, dtype=np.int16) - np.asarray(_card(), dtype=np.int16))
        assert difference[4:-4, 4:-4].mean() < 12


def test_padding_and_size_frame_the_same_face():
    placement = Similarity(2.0, 0.0, 40.0, 40.0)
    picture = _place(_card(), placement, (400, 400))
    face = Face(box=Box(0, 0, 10, 10), probability=0.9, landmarks=tuple(placement.apply(p) for p in ARCFACE_112))

    crop = aligned_crop(picture, face, size=224, padding=0.25)

    assert crop.size == (336, 336)
    expected = [((x + 0.5) * 2 - 0.5 + 56, (y + 0.5) * 2 - 0.5 + 56) for x, y in _dots(_card(), ARCFACE_112)]
    for got, want in zip(_dots(crop, template(224, 0.25)), expected, strict=True):
        assert math.dist(got, want) < 0.25


def test_without_landmarks_the_points_come_from_the_box_turned_by_the_engines_roll():
    box = Box(100, 50, 200, 170)
    plain, estimated = face_points(Face(box=box, probability=0.9))
    assert estimated and plain == landmarks_from_box(box)
    turned, _ = face_points(Face(box=box, probability=0.9, pose=Pose(yaw=0.0, pitch=0.0, roll=30.0)))
    (lx, ly), (rx, ry) = turned[0], turned[1]
    assert math.degrees(math.atan2(ry - ly, rx - lx)) == pytest.approx(30.0)
    given = ((1.0, 2.0), (30.0, 2.0), (15.0, 15.0), (5.0, 25.0), (25.0, 25.0))
    assert face_points(Face(box=box, probability=0.9, landmarks=given)) == (given, False)


def test_the_mask_marks_what_lies_beyond_the_image():
    picture = Image.new("RGB", (100, 100), (200, 200, 200))
    face = Face(box=Box(60, 20, 140, 120), probability=0.9)  # reaches 40 px past the right edge
    points, _ = face_points(face)
    crop, mask = warp(picture, alignment(points), 112)
    inside = np.asarray(mask) == 255
    assert 0.3 < inside.mean() < 0.8
    assert (np.asarray(crop)[inside] == 200).all()
    assert (np.asarray(crop)[~inside] < 200).all()


def test_a_face_wholly_outside_the_image_has_no_crop():
    picture = Image.new("RGB", (100, 100))
    face = Face(box=Box(500, 500, 600, 620), probability=0.9)
    with pytest.raises(FaceOutsideImage):
        aligned_crop(picture, face)


@pytest.mark.parametrize(("size", "padding"), [(4, 0.0), (112, -0.1), (112, 3.0)])
def test_absurd_crop_requests_are_refused(size, padding):
    face = Face(box=Box(10, 10, 60, 70), probability=0.9)
    with pytest.raises(ValueError):
        aligned_crop(Image.new("RGB", (100, 100)), face, size=size, padding=padding)
