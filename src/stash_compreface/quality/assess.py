"""Measure one face: landmarks, pose, sharpness and brightness on the aligned crop, and a composite score.

This is what the HQ/LQ gates of both engines call, for the built-in engine's faces (which come with five
landmarks) and for CompreFace's (box, and landmarks or pose when its plugins are on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter, ImageStat

from ..faces.alignment import TEMPLATE_SIDE, alignment
from ..faces.models import Box, Face, Point, Pose
from ..faces.pose import estimate_pose
from ..faces.quality import Measured
from ..faces.scoring import composite_score
from .align import face_points, warp

# A 3x3 Laplacian on the grey crop (offset 128: Pillow's filters write unsigned bytes).
_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


@dataclass(frozen=True)
class FaceQuality:
    """The measures of one face, in the coordinates of the image that was measured."""

    box: Box
    probability: float  # the detector's confidence
    landmarks: tuple[Point, ...]  # five points: left eye, right eye, nose tip, left and right mouth corner
    landmarks_estimated: bool  # True: placed from the box (the engine gave none), so no pose was estimated
    pose: Pose | None  # the engine's, else estimated from real landmarks; None when unknown
    sharpness: float  # Laplacian standard deviation of the grey 112 px aligned crop
    brightness: float  # mean luminance of the aligned crop, 0 (black) .. 1 (white)
    score: float  # composite 0..1 (faces.scoring.composite_score)

    def as_dict(self) -> dict[str, Any]:
        """The quality service's JSON for one face."""
        pose = None if self.pose is None else {"yaw": self.pose.yaw, "pitch": self.pose.pitch,
                                               "roll": self.pose.roll}
        return {
            "box": self.box.as_dict(),
            "probability": round(self.probability, 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "landmarks_estimated": self.landmarks_estimated,
            "pose": pose,
            "sharpness": round(self.sharpness, 2),
            "brightness": round(self.brightness, 4),
            "score": round(self.score, 4),
        }


def measure_crop(crop: Image.Image, mask: Image.Image | None = None) -> tuple[float, float]:
    """(sharpness, brightness) of an aligned crop, over the pixels ``mask`` marks as inside the image.

    The outermost pixel ring is skipped: Pillow copies it unfiltered.
    """
    grey = crop.convert("L")
    inner = (1, 1, grey.width - 1, grey.height - 1)
    edges = grey.filter(_LAPLACIAN).crop(inner)
    if mask is None:
        valid: Image.Image | None = None
    else:
        # A Laplacian sample is clean only if its four neighbours are inside the image too.
        valid = mask.filter(ImageFilter.MinFilter(3)).crop(inner)
        if valid.getbbox() is None:
            return 0.0, 0.0
    sharpness = float(ImageStat.Stat(edges, valid).stddev[0])
    brightness = float(ImageStat.Stat(grey.crop(inner), valid).mean[0]) / 255.0
    return sharpness, brightness


def assess_face(image: Image.Image, face: Face) -> FaceQuality:
    """Every measure of ``face`` (box, optional landmarks, optional pose) in ``image`` (decoded, upright).

    Without landmarks the points are placed from the box and the pose is the engine's, or unknown.
    A face whose crop lies wholly outside the image measures 0 sharpness and 0 brightness.
    """
    points, estimated = face_points(face)
    pose = face.pose if face.pose is not None or estimated else estimate_pose(points)
    try:
        crop, mask = warp(image, alignment(points), TEMPLATE_SIDE)
    except ValueError:  # FaceOutsideImage, or points that coincide
        sharpness = brightness = 0.0
    else:
        sharpness, brightness = measure_crop(crop, mask)
    score = composite_score(face_side=face.box.min_side, detection=face.probability, sharpness=sharpness,
                            brightness=brightness, pose=pose)
    return FaceQuality(box=face.box, probability=face.probability, landmarks=points, landmarks_estimated=estimated,
                       pose=pose, sharpness=sharpness, brightness=brightness, score=score)


def measure_for_gates(image: Image.Image, face: Face) -> Measured:
    """What the HQ/LQ gates check (faces.quality.check), for a face of either engine."""
    measured = assess_face(image, face)
    return Measured(sharpness=measured.sharpness, pose=measured.pose, score=measured.score)
