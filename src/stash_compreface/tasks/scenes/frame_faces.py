"""Faces detected picture by picture, grouped by person here: shared by the sprite and local-frame sources.

Both detect faces with their vectors, keep the usable ones (the scene gate), group them by person across
frames (their embeddings, ``faces.grouping``) and recognize only each group's best faces: every vector in
one ``recognize_embeddings`` call, so a scene costs one recognition however many frames it has. Only the
faces are kept, never the frames, so memory stays bounded however long the scene.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence

from PIL import Image

from ... import imaging
from ...engine import NAME as BUILTIN_NAME  # the package alone: no numpy, no model runtime
from ...faces import quality
from ...faces.models import Face
from ...faces.scene_decision import FaceGroup, Observation, group_observations
from ...faceservice import FaceService
from ...quality import measure_for_gates
from .source import SceneFaces

BEST_FACES = 3  # a group is named by its best faces (quality score), not by its worst


def picture_bytes(service: FaceService, image: Image.Image) -> bytes:
    """A picture as the face service gets it: the built-in engine decodes it in this process, so it gets
    the pixels as they are (PPM: no encoding, nothing lost; a 1080p frame as JPEG costs ~9 CPU-ms to
    encode and ~9 to decode again, a tenth of what detecting its faces costs); a service across the
    network gets a JPEG (a twentieth of the bytes)."""
    if service.name != BUILTIN_NAME:
        return imaging.encode_jpeg(image)
    buffer = io.BytesIO()
    image.save(buffer, "PPM")
    return buffer.getvalue()


def observe(image: Image.Image, faces: Iterable[Face], frame_of: Callable[[Face], int | None], gate: quality.Gate,
            *, keep_crops: bool) -> list[Observation]:
    """The faces of one picture that pass ``gate``, as observations of their frames (``frame_of``: None for
    a face in no frame). A face keeps its crop when ``keep_crops`` (to show it, or make a candidate of it)
    or when it came without a vector (it is then recognized through its crop)."""
    out = []
    for face in faces:
        frame = frame_of(face)
        if frame is None or face.box.min_side < 2:
            continue
        measured = measure_for_gates(image, face)
        ok, _ = quality.check(face, measured, gate)
        if not ok:
            continue
        keep = keep_crops or not face.embedding
        crop = imaging.encode_jpeg(imaging.crop(image, face.box)) if keep else None
        out.append(Observation(frame, face, measured, crop))
    return out


def grouped(service: FaceService, observations: Sequence[Observation], times: Mapping[int, float], what: str,
            min_probability: float) -> SceneFaces:
    """The observations of a scene grouped by person, each group with its recognized best faces."""
    groups = group_observations(observations)
    recognized = _recognize_best(service, groups, min_probability)
    frames_with_faces = len({o.frame for o in observations})
    return SceneFaces(
        f"{what}, {frames_with_faces} frames with faces, {len(groups)} face groups",
        tuple(FaceGroup(frozenset(o.frame for o in group), tuple(faces), group[0])
              for group, faces in zip(groups, recognized, strict=True)),
        frames_with_faces, times)


def _recognize_best(service: FaceService, groups: Sequence[Sequence[Observation]], min_probability: float
                    ) -> list[list[Face]]:
    """The recognized best faces of each group: every vector in one ``recognize_embeddings`` call, a face
    without a vector through its crop. A face that already has subjects (CompreFace without a detection key
    detects through recognition) is used as is."""
    chosen = [group[:BEST_FACES] for group in groups]
    vectors = [list(o.face.embedding) for obs in chosen for o in obs if o.face.embedding and not o.face.matches]
    answers = iter(service.recognize_embeddings(vectors) if vectors else [])
    out: list[list[Face]] = []
    for observations in chosen:
        faces = []
        for o in observations:
            if o.face.matches:
                faces.append(o.face)
            elif o.face.embedding:
                answer = next(answers, None)  # no subject at all: CompreFace may answer no result
                if answer is not None:
                    faces.append(answer)
            elif o.crop is not None:
                found = service.recognize(o.crop, min_probability=min_probability)
                if found:
                    faces.append(max(found, key=lambda f: f.box.area))
        out.append(faces)
    return out
