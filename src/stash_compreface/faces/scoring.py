"""The composite face-quality score, 0..1, from the measures of ``quality.assess``.

A weighted sum, like the Vision Service's score, so one bad measure lowers the score without zeroing it:
the gates check each measure against its own threshold as well.
"""

from __future__ import annotations

from .models import Pose

SIZE_FOR_FULL_SCORE = 112  # px, shortest box side: the recognizer sees 112 px, a bigger face adds nothing
# Laplacian std on the 112 px aligned crop (quality.assess). Measured with YuNet's landmarks: sharp portraits
# 28-44, the same blurred by a 2 px Gaussian 14-21, by 4 px 6-9; a 70 px face upscaled to 112 px ~15.
SHARPNESS_FOR_FULL_SCORE = 25.0
BRIGHTNESS_GOOD = (0.25, 0.75)  # mean luminance range that loses no score
WEIGHTS = {"size": 0.25, "pose": 0.25, "sharpness": 0.25, "brightness": 0.10, "detection": 0.15}


def brightness_score(brightness: float) -> float:
    low, high = BRIGHTNESS_GOOD
    if brightness < low:
        return max(0.0, brightness / low)
    if brightness > high:
        return max(0.0, (1.0 - brightness) / (1.0 - high))
    return 1.0


def pose_score(pose: Pose | None) -> float:
    """1 for a frontal face, 0 at 90 degrees of yaw or pitch; an unknown pose is not held against a face."""
    if pose is None:
        return 1.0
    return max(0.0, 1.0 - abs(pose.yaw) / 90.0) * max(0.0, 1.0 - abs(pose.pitch) / 90.0)


def composite_score(*, face_side: float, detection: float, sharpness: float, brightness: float,
                    pose: Pose | None) -> float:
    parts = {
        "size": min(1.0, max(0.0, face_side / SIZE_FOR_FULL_SCORE)),
        "pose": pose_score(pose),
        "sharpness": min(1.0, max(0.0, sharpness / SHARPNESS_FOR_FULL_SCORE)),
        "brightness": brightness_score(brightness),
        "detection": min(1.0, max(0.0, detection)),
    }
    return round(sum(WEIGHTS[name] * value for name, value in parts.items()), 4)
