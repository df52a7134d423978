"""Who is in a scene, from Stash's sprite sheet or from video frames (Vision Service).

Sprites: Stash's sheet holds up to 81 evenly spaced thumbnails, described by a VTT. The cells are
enlarged and laid out nine to a sheet, so a scene costs nine recognitions.
Video: the Vision Service samples the video and clusters the faces per person; one frame of each
cluster is fetched back from its frame server and recognised through the face service.
Either way a performer is linked only when their subject holds across several frames
(faces/grouping.py): one stray frame is not evidence. Scenes only link known people.
"""

from __future__ import annotations

from typing import Protocol

from .. import imaging
from ..errors import MediaError
from ..faces import quality
from ..faces.grouping import MIN_FRAMES, Sighting, consistent_subjects
from ..faces.matching import best_match
from ..faces.models import Box
from ..faces.vtt import parse_vtt
from ..quality import measure_for_gates
from ..settings import Settings
from ..stash.models import Scene
from ..vision.client import Detection, parse_clusters
from .context import TaskContext
from .performers import PerformerDirectory


def scene_gate(s: Settings) -> quality.Gate:
    """Scene frames are small: every scene mode matches with the low-quality gate."""
    return quality.match_gate(s.min_face_size_px, s.min_confidence_score, s.min_processing_quality_score,
                              relaxed=True)


class SceneRecognizer(Protocol):
    def performers(self, scene: Scene) -> tuple[set[str], str]:
        """The performers with consistent evidence in the scene, and a line saying why."""
        ...


CELLS_PER_SIDE = 3
CELL_WIDTH = 320


def _cell_of(face: Box, cells: list[Box]) -> int | None:
    """The cell holding the face's centre (a detection in the grey gap belongs to none)."""
    cx, cy = (face.x_min + face.x_max) / 2, (face.y_min + face.y_max) / 2
    return next((i for i, c in enumerate(cells) if c.x_min <= cx <= c.x_max and c.y_min <= cy <= c.y_max), None)


class SpriteRecognizer:
    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.gate = scene_gate(ctx.settings)
        self.directory = PerformerDirectory(ctx)

    def sightings(self, scene: Scene) -> tuple[list[Sighting], int, int]:
        """Matches per frame, the number of frames with a usable face, and the number of frames."""
        if not scene.vtt_url or not scene.sprite_url:
            raise MediaError("Stash lists no sprite for this scene")
        try:
            vtt = self.ctx.stash.download(scene.vtt_url, what="sprite VTT").decode("utf-8", "replace")
            sheet = imaging.decode_rgb(self.ctx.stash.download(scene.sprite_url, what="sprite image"))
        except MediaError as exc:
            raise MediaError(f"{exc}: generate sprites in Stash (Tasks > Generate > Sprites)") from None
        cues = [c for c in parse_vtt(vtt) if c.x + c.width <= sheet.width and c.y + c.height <= sheet.height]
        if not cues:
            raise MediaError("the sprite VTT lists no thumbnail inside the sprite image")
        cells = [sheet.crop((c.x, c.y, c.x + c.width, c.y + c.height)) for c in cues]
        per_request = CELLS_PER_SIDE * CELLS_PER_SIDE
        sightings: list[Sighting] = []
        with_faces: set[int] = set()
        for start in range(0, len(cells), per_request):
            self.ctx.check_stop()
            tiled, boxes = imaging.tile(cells[start:start + per_request], columns=CELLS_PER_SIDE,
                                        cell_width=CELL_WIDTH)
            faces = self.ctx.face_service.recognize(imaging.encode_jpeg(tiled),
                                                    min_probability=self.gate.min_confidence_score)
            for face in faces:
                cell = _cell_of(face.box, boxes)
                if cell is None:
                    continue
                frame = start + cell
                ok, _ = quality.check(face, measure_for_gates(tiled, face), self.gate)
                if not ok:
                    continue
                with_faces.add(frame)
                match = best_match(face, self.ctx.settings.min_similarity)
                if match is not None:
                    sightings.append(Sighting(frame, match.subject, match.similarity))
        return sightings, len(with_faces), len(cells)

    def performers(self, scene: Scene) -> tuple[set[str], str]:
        sightings, frames_with_faces, frames = self.sightings(scene)
        return _link(self.directory, sightings, frames_with_faces, f"{frames} thumbnails")


class VideoRecognizer:
    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.vision = ctx.vision
        self.gate = scene_gate(ctx.settings)
        self.directory = PerformerDirectory(ctx)
        self.vision.health()

    def performers(self, scene: Scene) -> tuple[set[str], str]:
        if not scene.path:
            raise MediaError("the scene has no video file")
        ctx = self.ctx
        job = self.vision.analyze(scene.path, scene.id, min_confidence=ctx.settings.min_confidence_score)
        clusters, source = parse_clusters(self.vision.wait(job, ctx.stop))
        timestamps = {d.timestamp_s for c in clusters for d in c.detections}
        sightings: list[Sighting] = []
        for cluster in clusters:
            if len({d.timestamp_s for d in cluster.detections}) < MIN_FRAMES:
                continue  # seen in one frame only: not worth a frame download, never enough evidence
            subject = self._recognise(source or scene.path, cluster.representative)
            if subject is not None:
                sightings += [Sighting(round(d.timestamp_s * 1000), subject[0], subject[1])
                              for d in cluster.detections]
        return _link(self.directory, sightings, len(timestamps), f"{len(clusters)} face clusters")

    def _recognise(self, video: str, detection: Detection) -> tuple[str, float] | None:
        """The subject of one cluster, from its representative frame (boxes are in that frame's pixels)."""
        frame = imaging.prepare(self.vision.extract_frame(video, detection.timestamp_s))
        scale = frame.width / max(1, frame.original_size[0])
        box = detection.box.scaled(scale).clamped(frame.width, frame.height)
        if box.min_side < 2:
            return None
        crop = imaging.encode_jpeg(imaging.crop(frame.image, box))
        faces = self.ctx.face_service.recognize(crop, min_probability=self.gate.min_confidence_score)
        if not faces:
            return None
        face = max(faces, key=lambda f: f.box.area)
        match = best_match(face, self.ctx.settings.min_similarity)
        return (match.subject, match.similarity) if match is not None else None


def _link(directory: PerformerDirectory, sightings: list[Sighting], frames_with_faces: int,
          what: str) -> tuple[set[str], str]:
    """Performers of the subjects with consistent evidence, and a line saying why."""
    found: set[str] = set()
    notes = []
    for evidence in consistent_subjects(sightings, frames_with_faces):
        performer = directory.for_subject(evidence.subject)
        if performer is None:
            notes.append(f"{evidence.subject} has no performer")
            continue
        found.add(performer)
        notes.append(f"performer {performer} ({directory.name_of(performer)}) in {evidence.frames} "
                     f"of {frames_with_faces} frames with faces")
    return found, f"{what}, {frames_with_faces} frames with faces" + (f"; {'; '.join(notes)}" if notes else "")
