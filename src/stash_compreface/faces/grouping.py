"""Deciding who is in a scene from many small frames: one stray match must not link a performer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
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
