"""The one interface between where a scene's faces come from and what is decided about them.

A source looks at a scene and returns its faces grouped by person (:class:`SceneFaces`); the recognizer
does the rest (decide, link, make candidates) the same way for every source. The three sources:

- :mod:`.sprites`: Stash's sprite sheet (thumbnails; matches known people only),
- :mod:`.local_frames`: frames sampled here from the video (no ``visionServiceUrl``),
- :mod:`.vision_clusters`: the Vision Service's clusters of one person, each recognized from one frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ...faces.scene_decision import FaceGroup
from ...stash.models import Scene
from ..context import TaskContext
from .options import SceneOptions


@dataclass(frozen=True)
class SceneFaces:
    """Everyone a source saw in one scene. Frames are the source's own keys (a thumbnail's or a sample's
    index, a Vision timestamp in ms); ``times`` gives their seconds into the scene; ``frames_with_faces``
    is what a subject's share of frames is counted against; ``what`` says what was looked at, for logs and
    identifyScene's output."""

    what: str
    groups: tuple[FaceGroup, ...]
    frames_with_faces: int
    times: Mapping[int, float]

    def times_of(self, frames: frozenset[int]) -> tuple[float, ...]:
        """The seconds into the scene of ``frames``, in order (a frame without a known time is left out)."""
        return tuple(sorted(self.times[f] for f in frames if f in self.times))


@dataclass(frozen=True)
class SourceBase:
    """What a source is built from, and all it keeps: the task's clients and stop flag, and the options."""

    ctx: TaskContext
    options: SceneOptions


class FaceSource(Protocol):
    # Whether an unknown person it sees may become a candidate subject (sprite thumbnails are too small).
    makes_candidates: ClassVar[bool]

    def faces(self, scene: Scene) -> SceneFaces:
        """The scene's faces grouped by person, each group recognized; raises MediaError (the scene gets
        the Error tag) when there is nothing to look at, Stopped when the run is stopped."""
        ...
