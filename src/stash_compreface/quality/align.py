"""Warp a face onto the ArcFace template with Pillow: the aligned crop every measure is taken on.

Pillow, not OpenCV, so the same crop comes out on every platform and engine (CompreFace faces included).
A big face is first reduced with Lanczos, so the bilinear warp never shrinks by more than 2x and does not
alias: a 1000 px face sampled straight down to 112 px would measure as sharp noise.
"""

from __future__ import annotations

import math

from PIL import Image

from ..faces.alignment import TEMPLATE_SIDE, Similarity, alignment, crop_side, landmarks_from_box, usable_landmarks
from ..faces.models import Face, Point

# Detectors and the template count pixels by index (centre of the first pixel = 0); Pillow's transforms by
# edges (centre of the first pixel = 0.5). These convert.
_INDEX_TO_EDGE = Similarity(1.0, 0.0, 0.5, 0.5)
_EDGE_TO_INDEX = Similarity(1.0, 0.0, -0.5, -0.5)


class FaceOutsideImage(ValueError):
    """The face's aligned crop does not overlap the image at all."""


def face_points(face: Face) -> tuple[tuple[Point, ...], bool]:
    """The face's five landmarks, and whether they were estimated from its box (the engine gave none).

    Estimated points sit where a typical upright face has them, turned by the face's roll when the
    engine gave a pose (CompreFace's pose plugin without its landmarks plugin).
    """
    if usable_landmarks(face.landmarks):
        return tuple(face.landmarks), False
    points = landmarks_from_box(face.box)
    if face.pose is not None and face.pose.roll:
        centre = ((face.box.x_min + face.box.x_max) / 2, (face.box.y_min + face.box.y_max) / 2)
        angle = math.radians(face.pose.roll)
        turn = Similarity(math.cos(angle), math.sin(angle), 0.0, 0.0)
        to_origin = Similarity(1.0, 0.0, -centre[0], -centre[1])
        back = Similarity(1.0, 0.0, centre[0], centre[1])
        rotate = to_origin.then(turn).then(back)
        points = tuple(rotate.apply(p) for p in points)
    return points, True


def warp(image: Image.Image, to_crop: Similarity, side: int) -> tuple[Image.Image, Image.Image]:
    """The ``side`` px square that ``to_crop`` (image -> crop, index coordinates) maps the image onto.

    Returns the RGB crop and its mask ("L": 255 where every sample came from inside the image); parts of
    the crop beyond the image are black, and measures must skip them (their edge is not the face's).
    """
    forward = _EDGE_TO_INDEX.then(to_crop).then(_INDEX_TO_EDGE)  # image edges -> crop edges
    inverse = forward.inverse()
    corners = [inverse.apply((u, v)) for u in (0.0, side) for v in (0.0, side)]
    x0 = max(0, math.floor(min(p[0] for p in corners)) - 2)
    y0 = max(0, math.floor(min(p[1] for p in corners)) - 2)
    x1 = min(image.width, math.ceil(max(p[0] for p in corners)) + 2)
    y1 = min(image.height, math.ceil(max(p[1] for p in corners)) + 2)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise FaceOutsideImage("the face lies outside the image")
    region = image.crop((x0, y0, x1, y1))
    if region.mode != "RGB":
        region = region.convert("RGB")
    kx = ky = 1.0
    if forward.scale < 0.5:
        width, height = region.size
        size = (max(1, round(width * forward.scale * 2)), max(1, round(height * forward.scale * 2)))
        region = region.resize(size, Image.Resampling.LANCZOS)
        kx, ky = size[0] / width, size[1] / height
    # crop edges -> region edges: the inverse, shifted to the region's corner and scaled with its reduction
    data = (inverse.a * kx, -inverse.b * kx, (inverse.tx - x0) * kx,
            inverse.b * ky, inverse.a * ky, (inverse.ty - y0) * ky)
    crop = region.transform((side, side), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR,
                            fillcolor=(0, 0, 0))
    coverage = Image.new("L", region.size, 255).transform((side, side), Image.Transform.AFFINE, data,
                                                          resample=Image.Resampling.BILINEAR, fillcolor=0)
    mask = coverage.point(lambda v: 255 if v >= 250 else 0)
    return crop, mask


def aligned(image: Image.Image, face: Face, *, size: int = TEMPLATE_SIDE,
            padding: float = 0.0) -> tuple[Image.Image, Image.Image]:
    """The face warped onto the template at ``size`` px with ``padding * size`` px of margin, and its mask."""
    if size < 8:
        raise ValueError("an aligned crop needs at least 8 px")
    if not 0.0 <= padding <= 2.0:
        raise ValueError("padding must be within 0..2 (a fraction of the face size on every side)")
    points, _ = face_points(face)
    return warp(image, alignment(points, size=size, padding=padding), crop_side(size, padding))


def aligned_crop(image: Image.Image, face: Face, *, size: int = TEMPLATE_SIDE, padding: float = 0.0) -> Image.Image:
    """The face, upright and centred as face recognizers expect it: ``size`` px for the face plus the padding.

    The crop is ``round(size * (1 + 2 * padding))`` px square; where it reaches past the image it is black.
    """
    return aligned(image, face, size=size, padding=padding)[0]
