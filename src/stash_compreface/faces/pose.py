"""Head pose (yaw, pitch, roll) from the five landmarks a detector gives.

Why: the high-quality gate keeps turned-away faces out of the subject store, but only CompreFace's pose
plugin measured pose; the built-in engine's detector (and CompreFace's landmarks plugin) give five points.

How: a rigid 3D model of the five points (the ArcFace template in x and y, the nose where detectors put it on
frontal faces, with typical depths: the nose tip
in front of the eyes, the mouth corners slightly behind) is fitted to the image points under a scaled
orthographic camera by least squares (an affine camera, then the nearest rotation). The nose tip is the only
point well out of the eye plane, so the angles come mostly from where the nose sits between the eyes and the
mouth: good to about 5-10 degrees on real faces, which is what a gate needs. Faces are about 20 times
farther from the lens than they are deep, so ignoring perspective costs little.

Signs, as seen in the image (x to the right, y down):

* ``yaw > 0``: the nose points to the image's right (the person turns to *their* left);
* ``pitch > 0``: the nose points up (chin up);
* ``roll > 0``: the head leans clockwise (the eye on the image's right is lower).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .alignment import ARCFACE_112, usable_landmarks
from .models import Point, Pose

# Depth of each point, in template pixels, positive away from the camera (the eyes' plane is 0). The eyes are
# ~35 template px apart (63 mm), so the nose tip stands ~18 mm in front of the pupils and the mouth corners
# ~6 mm behind them: averages of adult anthropometric tables, no better than the faces they describe.
NOSE_DEPTH = -10.5
MOUTH_DEPTH = 3.5
_DEPTHS = (0.0, 0.0, NOSE_DEPTH, MOUTH_DEPTH, MOUTH_DEPTH)
# Detectors put the nose tip ~3 template px lower than the ArcFace template does: on passport-style portraits
# YuNet's nose sits 0.57 of the way from the eyes to the mouth, the template's 0.49, which the model would
# read as a head bowed by 14 degrees. The model's frontal face is the detector's, not the template's.
NOSE_DROP = 3.2
_MODEL_XY: tuple[Point, ...] = tuple((x, y + NOSE_DROP) if i == 2 else (x, y) for i, (x, y) in enumerate(ARCFACE_112))


def _centred(values: Sequence[float]) -> list[float]:
    mean = sum(values) / len(values)
    return [v - mean for v in values]


def _inverse3(m: list[list[float]]) -> list[list[float]]:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    cof = [
        [e * i - f * h, c * h - b * i, b * f - c * e],
        [f * g - d * i, a * i - c * g, c * d - a * f],
        [d * h - e * g, b * g - a * h, a * e - b * d],
    ]
    return [[v / det for v in row] for row in cof]


def _model_pseudo_inverse() -> list[list[float]]:
    """(X^T X)^-1 X^T for the centred 3D model X (5x3): the affine camera is then one matrix product."""
    columns = [_centred([p[0] for p in _MODEL_XY]), _centred([p[1] for p in _MODEL_XY]), _centred(_DEPTHS)]
    gram = [[sum(u * v for u, v in zip(cu, cv, strict=True)) for cv in columns] for cu in columns]
    inv = _inverse3(gram)
    return [[sum(inv[k][j] * columns[j][i] for j in range(3)) for i in range(5)] for k in range(3)]


_PSEUDO_INVERSE = _model_pseudo_inverse()


def _rotation_rows(landmarks: Sequence[Point]) -> tuple[list[float], list[float]] | None:
    """The first two rows of the head's rotation (camera = R @ model), or None when the points are degenerate."""
    xs, ys = _centred([p[0] for p in landmarks]), _centred([p[1] for p in landmarks])
    a1 = [sum(row[i] * xs[i] for i in range(5)) for row in _PSEUDO_INVERSE]
    a2 = [sum(row[i] * ys[i] for i in range(5)) for row in _PSEUDO_INVERSE]
    # Nearest pair of orthonormal rows: (A A^T)^-1/2 A, with the closed-form square root of a 2x2 matrix.
    m11 = sum(v * v for v in a1)
    m22 = sum(v * v for v in a2)
    m12 = sum(u * v for u, v in zip(a1, a2, strict=True))
    det = m11 * m22 - m12 * m12
    if det <= 1e-12 * max(m11, m22, 1e-300) ** 2:
        return None
    delta = math.sqrt(det)
    t = math.sqrt(m11 + m22 + 2 * delta)
    s11, s12, s22 = (m11 + delta) / t, m12 / t, (m22 + delta) / t  # sqrt(M)
    sdet = s11 * s22 - s12 * s12
    i11, i12, i22 = s22 / sdet, -s12 / sdet, s11 / sdet  # sqrt(M)^-1
    r1 = [i11 * u + i12 * v for u, v in zip(a1, a2, strict=True)]
    r2 = [i12 * u + i22 * v for u, v in zip(a1, a2, strict=True)]
    return r1, r2


def estimate_pose(landmarks: Sequence[Point]) -> Pose | None:
    """Yaw, pitch and roll in degrees (signs in the module docstring); None without five usable points.

    Also None when the points are mirrored (left and right swapped): no head shows the back of its face.
    """
    if not usable_landmarks(landmarks):
        return None
    rows = _rotation_rows(landmarks)
    if rows is None:
        return None
    r1, r2 = rows
    r3 = [r1[1] * r2[2] - r1[2] * r2[1], r1[2] * r2[0] - r1[0] * r2[2], r1[0] * r2[1] - r1[1] * r2[0]]
    if r3[2] <= 0:
        return None
    # camera = Rz(roll) @ Rx(pitch') @ Ry(yaw') @ model; the third row of R is untouched by roll.
    yaw = math.degrees(math.atan2(-r3[0], r3[2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, r3[1]))))
    roll = math.degrees(math.atan2(-r1[1], r2[1]))
    # Rotations about the camera's axes move the nose the opposite way to the signs promised above.
    return Pose(yaw=round(-yaw, 2) + 0.0, pitch=round(-pitch, 2) + 0.0, roll=round(roll, 2) + 0.0)
