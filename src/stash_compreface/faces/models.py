"""Plain values that flow between the face service and the decision logic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    x_min: int
    y_min: int
    x_max: int
    y_max: int

    @property
    def width(self) -> int:
        return max(0, self.x_max - self.x_min)

    @property
    def height(self) -> int:
        return max(0, self.y_max - self.y_min)

    @property
    def min_side(self) -> int:
        return min(self.width, self.height)

    @property
    def area(self) -> int:
        return self.width * self.height

    def clamped(self, width: int, height: int) -> Box:
        """Detectors may return boxes past the image edge (RetinaFace does); clip them."""
        return Box(
            max(0, min(self.x_min, width)),
            max(0, min(self.y_min, height)),
            max(0, min(self.x_max, width)),
            max(0, min(self.y_max, height)),
        )

    def scaled(self, factor: float) -> Box:
        return Box(
            round(self.x_min * factor), round(self.y_min * factor),
            round(self.x_max * factor), round(self.y_max * factor),
        )

    def padded(self, fraction: float, width: int, height: int) -> Box:
        pad_x = round(self.width * fraction)
        pad_y = round(self.height * fraction)
        return Box(self.x_min - pad_x, self.y_min - pad_y, self.x_max + pad_x, self.y_max + pad_y).clamped(
            width, height
        )

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x_max, other.x_max) - max(self.x_min, other.x_min))
        iy = max(0, min(self.y_max, other.y_max) - max(self.y_min, other.y_min))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def as_dict(self) -> dict[str, int]:
        return {"x_min": self.x_min, "y_min": self.y_min, "x_max": self.x_max, "y_max": self.y_max}


@dataclass(frozen=True)
class Pose:
    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class SubjectMatch:
    subject: str
    similarity: float


Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """One detected face in the coordinates of the image that was sent.

    ``landmarks``: five points when the engine gives them (left eye, right eye, nose tip, left and right
    mouth corner, as seen in the image), else empty. ``embedding``: the face's identity vector when the
    engine gave it (the built-in engine always, CompreFace when asked for its ``calculator`` plugin), so the
    faces of one person can be grouped across the frames of a scene.
    """

    box: Box
    probability: float
    matches: tuple[SubjectMatch, ...] = ()
    pose: Pose | None = None
    age: tuple[int, int] | None = None
    gender: str | None = None
    landmarks: tuple[Point, ...] = ()
    embedding: tuple[float, ...] | None = None

    @property
    def best(self) -> SubjectMatch | None:
        return self.matches[0] if self.matches else None
