"""Faces from Stash's sprite sheet: the scene's thumbnails, described by its VTT.

The sheet holds up to 81 evenly spaced thumbnails. They are small, so they are enlarged and laid out nine
to a picture: a scene costs nine detections. Thumbnails are too small to start new people from, so this
source matches known people only (``makes_candidates`` is False).
"""

from __future__ import annotations

from typing import ClassVar

from ... import imaging
from ...errors import MediaError
from ...faces.models import Box, Face
from ...faces.scene_decision import Observation
from ...faces.vtt import parse_vtt
from ...stash.models import Scene
from .frame_faces import grouped, observe, picture_bytes
from .source import SceneFaces, SourceBase

CELLS_PER_SIDE = 3
CELL_WIDTH = 320


def _cell_of(face: Box, cells: list[Box]) -> int | None:
    """The cell holding the face's centre (a detection in the grey gap belongs to none)."""
    cx, cy = (face.x_min + face.x_max) / 2, (face.y_min + face.y_max) / 2
    return next((i for i, c in enumerate(cells) if c.x_min <= cx <= c.x_max and c.y_min <= cy <= c.y_max), None)


class SpriteSource(SourceBase):
    makes_candidates: ClassVar[bool] = False

    def faces(self, scene: Scene) -> SceneFaces:
        """Usable faces per thumbnail, each thumbnail at its time in the scene (its VTT cue's start)."""
        ctx, gate = self.ctx, self.options.gate
        if not scene.vtt_url or not scene.sprite_url:
            raise MediaError("Stash lists no sprite for this scene")
        try:
            with ctx.stash.download(scene.vtt_url, what="sprite VTT") as media:
                vtt = media.read().decode("utf-8", "replace")
            with ctx.stash.download(scene.sprite_url, what="sprite image") as media:
                sheet = imaging.decode_rgb(media)
        except MediaError as exc:
            raise MediaError(f"{exc}: generate sprites in Stash (Tasks > Generate > Sprites)") from None
        cues = [c for c in parse_vtt(vtt) if c.x + c.width <= sheet.width and c.y + c.height <= sheet.height]
        if not cues:
            raise MediaError("the sprite VTT lists no thumbnail inside the sprite image")
        cells = [sheet.crop((c.x, c.y, c.x + c.width, c.y + c.height)) for c in cues]
        per_request = CELLS_PER_SIDE * CELLS_PER_SIDE
        observations: list[Observation] = []
        for start in range(0, len(cells), per_request):
            ctx.check_stop()
            tiled, boxes = imaging.tile(cells[start:start + per_request], columns=CELLS_PER_SIDE,
                                        cell_width=CELL_WIDTH)
            faces = ctx.face_service.detect(picture_bytes(ctx.face_service, tiled), embeddings=True,
                                            min_probability=gate.min_confidence_score)

            def frame_of(face: Face, start: int = start, boxes: list[Box] = boxes) -> int | None:
                cell = _cell_of(face.box, boxes)
                return None if cell is None else start + cell

            observations += observe(tiled, faces, frame_of, gate, keep_crops=False)
        times = {i: c.start_s for i, c in enumerate(cues)}
        return grouped(ctx.face_service, observations, times, f"{len(times)} thumbnails", gate.min_confidence_score)
