"""Faces from frames sampled here from the video, when no ``visionServiceUrl`` is set.

``ctx.frames`` (``video.sample_frames`` in a real session) yields a frame every ``frameInterval`` seconds,
from the scene's file or Stash's stream; faces are detected with their vectors as frames come and only the
faces are kept. These frames are the scene itself, not thumbnails, so unknown people seen in enough of
them may become candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from ...faces.models import Face
from ...faces.scene_decision import Observation
from ...stash.models import Scene
from .frame_faces import grouped, observe, picture_bytes
from .source import SceneFaces, SourceBase


def _all_in(frame: int) -> Callable[[Face], int | None]:
    """Every face of a sampled frame belongs to that frame."""
    return lambda _face: frame


class LocalFrameSource(SourceBase):
    makes_candidates: ClassVar[bool] = True

    def faces(self, scene: Scene) -> SceneFaces:
        ctx, gate = self.ctx, self.options.gate
        observations: list[Observation] = []
        times: dict[int, float] = {}
        for index, frame in enumerate(ctx.frames(scene, self.options.frame_interval_s, ctx.stop)):
            ctx.check_stop()
            times[index] = frame.timestamp_s
            image = frame.image
            faces = ctx.face_service.detect(picture_bytes(ctx.face_service, image), embeddings=True,
                                            min_probability=gate.min_confidence_score)
            faces = [replace(f, box=f.box.clamped(image.width, image.height)) for f in faces]
            observations += observe(image, faces, _all_in(index), gate, keep_crops=True)
        ctx.check_stop()
        return grouped(ctx.face_service, observations, times, f"{len(times)} frames", gate.min_confidence_score)
