"""Faces from the Vision Service (``visionServiceUrl``): it samples the video and clusters the faces per person.

Each cluster is a group already; one face of it, from its representative frame (fetched back from the
service's frame server), is recognized through the face service and names it. The service's timestamps are
the frames, keyed in milliseconds. A cluster seen in fewer than ``MIN_FRAMES`` frames could never be
evidence, so it is not worth a frame download and is left out (it still counts among the frames with faces).
"""

from __future__ import annotations

from typing import ClassVar

from ... import imaging
from ...errors import MediaError
from ...faces.grouping import MIN_FRAMES
from ...faces.scene_decision import FaceGroup, Observation
from ...quality import measure_for_gates
from ...stash.models import Scene
from ...vision.client import Detection, Enhancement, parse_faces
from .source import SceneFaces, SourceBase


def _frame(detection: Detection) -> int:
    return round(detection.timestamp_s * 1000)


class VisionSource(SourceBase):
    makes_candidates: ClassVar[bool] = True

    def faces(self, scene: Scene) -> SceneFaces:
        if not scene.path:
            raise MediaError("the scene has no video file")
        ctx, o = self.ctx, self.options
        job = ctx.vision.analyze(scene.path, scene.id, min_confidence=o.min_confidence_score,
                                 min_quality=o.min_processing_quality_score, enhancement=Enhancement())
        result = parse_faces(ctx.vision.wait(job, ctx.stop))
        times = {_frame(d): d.timestamp_s for c in result.clusters for d in c.detections}
        groups = []
        for cluster in result.clusters:
            frames = frozenset(_frame(d) for d in cluster.detections)
            if len(frames) < MIN_FRAMES:
                continue
            seen = self._representative(result.source or scene.path, cluster.representative, result.enhancement)
            groups.append(FaceGroup(frames, (seen.face,) if seen else (), seen))
        return SceneFaces(f"{len(result.clusters)} face clusters, {len(times)} frames with faces", tuple(groups),
                          len(times), times)

    def _representative(self, video: str, detection: Detection, enhancement: Enhancement | None
                        ) -> Observation | None:
        """A cluster's face, from its representative frame (boxes are in that frame's pixels), recognized and
        measured; None when the face service finds no face there. ``enhancement`` is the job's: the frame of
        an enhanced detection is fetched restored alike, since its box is in the restored frame."""
        picture = imaging.prepare(self.ctx.vision.extract_frame(video, detection.timestamp_s,
                                                                enhancement=enhancement if detection.enhanced
                                                                else None))
        scale = picture.width / max(1, picture.original_size[0])
        box = detection.box.scaled(scale).clamped(picture.width, picture.height)
        if box.min_side < 2:
            return None
        face_picture = imaging.crop(picture.image, box)
        crop = imaging.encode_jpeg(face_picture)
        faces = self.ctx.face_service.recognize(crop, min_probability=self.options.gate.min_confidence_score)
        if not faces:
            return None
        face = max(faces, key=lambda f: f.box.area)
        return Observation(0, face, measure_for_gates(face_picture, face), crop)
