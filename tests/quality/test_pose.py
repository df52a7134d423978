"""Pose from five landmarks: frontal is ~0, and each angle has the sign the docstring promises."""

from __future__ import annotations

import math

import pytest

from stash_compreface.faces.alignment import ARCFACE_112, Similarity
from stash_compreface.faces.pose import _DEPTHS, _MODEL_XY, estimate_pose

# A frontal face as detectors place its points (the template, nose where YuNet puts it), 3x and moved.
FRONTAL = tuple((x * 3 + 200, y * 3 + 100) for x, y in _MODEL_XY)


def _rotate_in_image(points, degrees):
    """Turn the points clockwise (as seen: y points down) about their centroid."""
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    angle = math.radians(degrees)
    turn = Similarity(1, 0, -cx, -cy).then(Similarity(math.cos(angle), math.sin(angle), 0, 0))
    return tuple(turn.then(Similarity(1, 0, cx, cy)).apply(p) for p in points)


def _head(yaw: float, pitch: float, roll: float, scale: float = 4.0):
    """Five points of the 3D model turned by the given angles (signs as documented), seen from the camera.

    Built from rotation matrices written out here, not from the estimator's code.
    """
    def rx(a):
        c, s = math.cos(a), math.sin(a)
        return ((1, 0, 0), (0, c, -s), (0, s, c))

    def ry(a):
        c, s = math.cos(a), math.sin(a)
        return ((c, 0, s), (0, 1, 0), (-s, 0, c))

    def rz(a):
        c, s = math.cos(a), math.sin(a)
        return ((c, -s, 0), (s, c, 0), (0, 0, 1))

    def mul(a, b):
        return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))

    # A nose that moves right (yaw > 0) or up (pitch > 0) is a rotation by minus those angles about y and x.
    rotation = mul(rz(math.radians(roll)), mul(rx(math.radians(-pitch)), ry(math.radians(-yaw))))
    out = []
    for (x, y), z in zip(_MODEL_XY, _DEPTHS, strict=True):
        p = (x - 56, y - 72, z)
        cam = [sum(rotation[i][k] * p[k] for k in range(3)) for i in range(3)]
        out.append((cam[0] * scale + 320, cam[1] * scale + 240))
    return tuple(out)


def test_a_frontal_face_has_no_pose():
    pose = estimate_pose(FRONTAL)
    assert pose is not None
    assert abs(pose.yaw) < 0.5 and abs(pose.pitch) < 0.5 and abs(pose.roll) < 0.5


def test_the_recognizer_template_reads_as_a_face_raised_a_little():
    pose = estimate_pose(ARCFACE_112)
    assert pose is not None
    assert abs(pose.yaw) < 2 and abs(pose.roll) < 1
    assert 5 < pose.pitch < 20  # its nose sits higher than detectors put it: chin up


def test_a_nose_moved_to_the_image_right_is_positive_yaw_and_left_negative():
    moved = [list(p) for p in FRONTAL]
    moved[2][0] += 8  # the nose tip, 8 px right on a face whose eyes are ~106 px apart
    right = estimate_pose([tuple(p) for p in moved])
    moved[2][0] -= 16
    left = estimate_pose([tuple(p) for p in moved])
    assert right is not None and left is not None
    assert right.yaw > 10 and left.yaw < -10
    assert abs(right.yaw + left.yaw) < 1  # symmetric
    assert abs(right.roll) < 3 and abs(right.pitch) < 3


def test_a_nose_moved_up_is_positive_pitch():
    moved = [list(p) for p in FRONTAL]
    moved[2][1] -= 8
    up = estimate_pose([tuple(p) for p in moved])
    moved[2][1] += 16
    down = estimate_pose([tuple(p) for p in moved])
    assert up is not None and down is not None
    assert up.pitch > 10 and down.pitch < -10
    assert abs(up.yaw) < 3


@pytest.mark.parametrize("degrees", [-35.0, -10.0, 15.0, 40.0])
def test_a_face_turned_in_the_image_plane_is_pure_roll(degrees):
    pose = estimate_pose(_rotate_in_image(FRONTAL, degrees))
    assert pose is not None
    assert pose.roll == pytest.approx(degrees, abs=0.5)
    assert abs(pose.yaw) < 0.5 and abs(pose.pitch) < 0.5


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(20, 0, 0), (-30, 0, 0), (0, 15, 0), (0, -20, 0),
                                                    (25, -10, 15), (-45, 20, -30), (60, 5, 5)])
def test_a_turned_head_gives_its_angles_back(yaw, pitch, roll):
    pose = estimate_pose(_head(yaw, pitch, roll))
    assert pose is not None
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=0.5)


def test_pose_does_not_depend_on_where_or_how_big_the_face_is():
    small = estimate_pose(_head(20, -10, 5, scale=1.0))
    large = estimate_pose(tuple((x * 7 + 900, y * 7 + 13) for x, y in _head(20, -10, 5, scale=1.0)))
    assert small == large


@pytest.mark.parametrize("points", [
    (),
    FRONTAL[:4],
    ((10.0, 10.0),) * 5,  # everything on one spot
    (FRONTAL[1], FRONTAL[0], FRONTAL[2], FRONTAL[4], FRONTAL[3]),  # mirrored: left and right swapped
    (*FRONTAL[:4], (float("nan"), 3.0)),
])
def test_unusable_points_give_no_pose(points):
    assert estimate_pose(points) is None
