"""Where a face's five points should go, and the similarity transform that takes them there.

Pure math, no pixels: the pixel work (warping, measuring) is in ``quality/``. Face recognizers of the
ArcFace family (SFace included) are trained on faces warped so that the eyes, nose tip and mouth corners
land on one fixed 112x112 template; measuring sharpness and brightness on that same crop makes faces of
any size and tilt comparable.

Coordinates here are *pixel-index* coordinates (the centre of the top-left pixel is (0, 0)), as detectors
and the template use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .models import Box, Point

# The ArcFace/SFace template: left eye, right eye, nose tip, left and right mouth corner, as seen in the image.
TEMPLATE_SIDE = 112
ARCFACE_112: tuple[Point, ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)

# Where the five points sit in a detector's box, as fractions of its width and height; used when the face
# service gave no landmarks (CompreFace without its landmarks plugin). Measured on YuNet's boxes of six
# frontal portraits (forehead to chin, like RetinaFace's: both learnt WIDER FACE boxes) and made symmetric.
BOX_LANDMARKS: tuple[Point, ...] = ((0.27, 0.37), (0.73, 0.37), (0.5, 0.57), (0.29, 0.71), (0.71, 0.71))


@dataclass(frozen=True)
class Similarity:
    """``(x, y) -> (a*x - b*y + tx, b*x + a*y + ty)``: a rotation, a uniform scale and a shift."""

    a: float
    b: float
    tx: float
    ty: float

    @property
    def scale(self) -> float:
        """Output units per input unit."""
        return math.hypot(self.a, self.b)

    @property
    def angle(self) -> float:
        """Rotation in degrees (positive: clockwise as seen in an image, whose y axis points down)."""
        return math.degrees(math.atan2(self.b, self.a))

    def apply(self, point: Point) -> Point:
        x, y = point
        return (self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty)

    def inverse(self) -> Similarity:
        norm = self.a * self.a + self.b * self.b
        if norm == 0:
            raise ValueError("a similarity of scale 0 has no inverse")
        a, b = self.a / norm, -self.b / norm
        return Similarity(a, b, -(a * self.tx - b * self.ty), -(b * self.tx + a * self.ty))

    def then(self, other: Similarity) -> Similarity:
        """This transform followed by ``other``."""
        return Similarity(
            other.a * self.a - other.b * self.b,
            other.a * self.b + other.b * self.a,
            other.a * self.tx - other.b * self.ty + other.tx,
            other.b * self.tx + other.a * self.ty + other.ty,
        )

    def matrix(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """As the 2x3 matrix OpenCV's ``warpAffine`` takes."""
        return ((self.a, -self.b, self.tx), (self.b, self.a, self.ty))


def fit_similarity(source: Sequence[Point], target: Sequence[Point]) -> Similarity:
    """The least-squares similarity taking ``source`` onto ``target`` (Umeyama without reflection).

    In complex numbers a similarity is ``z -> c*z + t``, so the fit is one division: no SVD needed.
    """
    if len(source) != len(target) or len(source) < 2:
        raise ValueError("a similarity needs at least two pairs of points")
    n = len(source)
    sx = sum(p[0] for p in source) / n
    sy = sum(p[1] for p in source) / n
    tx = sum(p[0] for p in target) / n
    ty = sum(p[1] for p in target) / n
    num_re = num_im = den = 0.0
    for (px, py), (qx, qy) in zip(source, target, strict=True):
        ux, uy, vx, vy = px - sx, py - sy, qx - tx, qy - ty
        num_re += vx * ux + vy * uy  # Re(v * conj(u))
        num_im += vy * ux - vx * uy  # Im(v * conj(u))
        den += ux * ux + uy * uy
    if den == 0:
        raise ValueError("the source points all coincide")
    a, b = num_re / den, num_im / den
    return Similarity(a, b, tx - (a * sx - b * sy), ty - (b * sx + a * sy))


def usable_landmarks(points: Sequence[Point]) -> bool:
    """Five finite points with the eyes apart: what alignment and pose need."""
    if len(points) != 5 or not all(math.isfinite(c) for p in points for c in p):
        return False
    (lx, ly), (rx, ry) = points[0], points[1]
    return math.hypot(rx - lx, ry - ly) >= 1.0


def landmarks_from_box(box: Box) -> tuple[Point, ...]:
    """The five points a typical upright, frontal face in ``box`` would have."""
    return tuple((box.x_min + fx * box.width, box.y_min + fy * box.height) for fx, fy in BOX_LANDMARKS)


def template(size: int = TEMPLATE_SIDE, padding: float = 0.0) -> tuple[Point, ...]:
    """The template for a ``size`` px face with ``padding * size`` px of margin on every side.

    The output image is ``crop_side(size, padding)`` px square; the face keeps the same place within it.
    """
    factor = size / TEMPLATE_SIDE
    offset = padding * size
    # Scale about pixel edges, not centres, so a 224 px face is the 112 px face at twice the resolution.
    return tuple(((x + 0.5) * factor - 0.5 + offset, (y + 0.5) * factor - 0.5 + offset) for x, y in ARCFACE_112)


def crop_side(size: int = TEMPLATE_SIDE, padding: float = 0.0) -> int:
    return max(1, round(size * (1 + 2 * padding)))


def alignment(landmarks: Sequence[Point], *, size: int = TEMPLATE_SIDE, padding: float = 0.0) -> Similarity:
    """Image pixels -> aligned-crop pixels for a face with these five landmarks."""
    if not usable_landmarks(landmarks):
        raise ValueError("alignment needs five landmarks with the eyes apart")
    return fit_similarity(landmarks, template(size, padding))
