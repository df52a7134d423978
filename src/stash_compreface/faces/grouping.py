"""Deciding who is in a scene from many small frames: one stray match must not link a performer.

The faces of a scene are first grouped by person (their embeddings), so that a group's best faces speak
for every frame it was seen in; a subject is then linked only when it holds across frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_FRAMES = 2
MIN_SHARE = 0.15


@dataclass(frozen=True)
class Sighting:
    frame: int
    subject: str
    similarity: float


@dataclass(frozen=True)
class Evidence:
    subject: str
    frames: int
    share: float
    best_similarity: float


def consistent_subjects(sightings: Iterable[Sighting], frames_with_faces: int, *,
                        min_frames: int = MIN_FRAMES, min_share: float = MIN_SHARE) -> list[Evidence]:
    """Subjects matched in at least ``min_frames`` distinct frames and in at least ``min_share`` of the
    frames where any face was found; best evidence first."""
    frames: dict[str, set[int]] = defaultdict(set)
    best: dict[str, float] = defaultdict(float)
    for sighting in sightings:
        frames[sighting.subject].add(sighting.frame)
        best[sighting.subject] = max(best[sighting.subject], sighting.similarity)
    evidence = []
    for subject, seen in frames.items():
        share = len(seen) / frames_with_faces if frames_with_faces else 0.0
        if len(seen) >= min_frames and share >= min_share:
            evidence.append(Evidence(subject, len(seen), round(share, 3), best[subject]))
    return sorted(evidence, key=lambda e: (-e.frames, -e.best_similarity, e.subject))


# -- grouping faces by person across frames ---------------------------------------------------------------

# Cosine of a face's embedding to a group's mean direction from which it is the same person. Same-person
# frames of one scene score 0.6-0.9 with FaceNet/ArcFace/SFace (lighting and pose vary, the person does
# not); different people stay under ~0.4. The mean direction steadies as a group grows.
GROUP_SIMILARITY = 0.5


def _unit(vector: tuple[float, ...]) -> list[float] | None:
    norm = sum(v * v for v in vector) ** 0.5
    return [v / norm for v in vector] if norm > 0 else None


def group_faces(faces: Sequence[tuple[int, tuple[float, ...] | None]], *,
                threshold: float = GROUP_SIMILARITY) -> list[list[int]]:
    """Indices of ``faces`` (frame, embedding) grouped by person, in order of first appearance.

    Greedy over the frames in order: each face joins the group whose mean direction is nearest (cosine at
    least ``threshold``), best pairs first; two faces of the same frame are never grouped (one person is
    not twice in a frame), and a face without an embedding stays alone (it can still count frame by frame).
    """
    by_frame: dict[int, list[int]] = defaultdict(list)
    for index, (frame, _) in enumerate(faces):
        by_frame[frame].append(index)
    groups: list[list[int]] = []
    sums: list[list[float] | None] = []
    for frame in sorted(by_frame):
        units: dict[int, list[float] | None] = {}
        for i in by_frame[frame]:
            vector = faces[i][1]
            units[i] = _unit(vector) if vector else None
        pairs = []
        for i, u in units.items():
            if u is None:
                continue
            for g, total in enumerate(sums):
                if total is None or len(total) != len(u):
                    continue
                norm = sum(v * v for v in total) ** 0.5
                similarity = sum(a * b for a, b in zip(u, total, strict=True)) / norm if norm else 0.0
                if similarity >= threshold:
                    pairs.append((similarity, i, g))
        taken_faces: set[int] = set()
        taken_groups: set[int] = set()
        for _, i, g in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
            if i in taken_faces or g in taken_groups:
                continue
            taken_faces.add(i)
            taken_groups.add(g)
            groups[g].append(i)
            total = sums[g]
            u = units[i]
            assert total is not None and u is not None
            sums[g] = [a + b for a, b in zip(total, u, strict=True)]
        for i in by_frame[frame]:
            if i not in taken_faces:
                groups.append([i])
                sums.append(units[i])
    return [sorted(g) for g in groups]
