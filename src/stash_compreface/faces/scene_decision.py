"""Who is in a scene, decided from groups of faces: one rule, whatever the frames came from.

Every scene source (Stash's sprite thumbnails, frames sampled locally, the Vision Service's clusters) hands
over the same thing: a :class:`FaceGroup` per person, with the frames that person was seen in and their
recognized best faces. :func:`decide` names each group by the subject most of those faces match, then
applies the evidence rule of :mod:`.grouping` (``consistent_subjects``: matched in at least ``MIN_FRAMES``
frames and ``MIN_SHARE`` of the frames with faces), because in a video one stray frame is not evidence.
Groups that match nobody come back as unknown, for the caller to make candidates of.

Pure: no I/O, no settings. The one question it asks of the outside is ``refused``: whether the user said a
subject is not in this scene (rejectMatch), which only the caller's state can answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import matching, quality
from .grouping import Evidence, Sighting, consistent_subjects, group_faces
from .models import Face

Refused = Callable[[str], bool]  # subject -> whether the user refused it for this scene


def never(_subject: str) -> bool:
    return False


@dataclass(frozen=True)
class Observation:
    """One usable face in one frame; ``crop`` (JPEG, the face with a margin) where it is shown, made a
    candidate of, or recognized without a vector."""

    frame: int
    face: Face
    measured: quality.Measured
    crop: bytes | None = None


@dataclass(frozen=True)
class FaceGroup:
    """One person in a scene as a source saw them: the frames they are in, the recognized faces that name
    them (with their subject matches), and the face to show and to make a candidate of (None: the source
    found no usable face for them)."""

    frames: frozenset[int]
    faces: tuple[Face, ...]
    best: Observation | None


def group_observations(observations: Sequence[Observation]) -> list[tuple[Observation, ...]]:
    """Observations grouped by person (embedding), each group's faces best first (quality score, then size):
    a group is named by its best faces, not by its worst."""
    groups = group_faces([(o.frame, o.face.embedding) for o in observations])
    return [tuple(sorted((observations[i] for i in g), key=lambda o: (-o.measured.score, -o.face.box.area, o.frame)))
            for g in groups]


def group_subject(faces: Iterable[Face], min_similarity: float, *,
                  refused: Refused = never) -> tuple[str, float] | None:
    """The subject most of a group's recognized faces match (ties: the higher similarity), or None.

    Subjects the user ``refused`` for the scene give way to the next ones (a face given to someone else is
    theirs); a group that matches refused subjects only is named by them, so it shows as rejected rather
    than as a stranger to make a candidate of."""
    faces = tuple(faces)
    for allowed in (refused, never):
        votes: Counter[str] = Counter()
        best: dict[str, float] = {}
        for face in faces:
            match = matching.best_match(face, min_similarity, refused=allowed)
            if match is not None:
                votes[match.subject] += 1
                best[match.subject] = max(best.get(match.subject, 0.0), match.similarity)
        if votes:
            subject = max(votes, key=lambda name: (votes[name], best[name], name))
            return subject, best[subject]
    return None


@dataclass(frozen=True)
class Named:
    """A subject seen in the scene: every frame its groups were seen in, its best similarity, its best face
    (quality score) and the evidence, None when the frames are too few to link anyone."""

    subject: str
    frames: frozenset[int]
    similarity: float
    best: Observation | None
    evidence: Evidence | None


@dataclass(frozen=True)
class Decision:
    """The subjects of a scene in the order first seen, and the groups nobody matched."""

    named: tuple[Named, ...]
    unknown: tuple[FaceGroup, ...]


def decide(groups: Iterable[FaceGroup], frames_with_faces: int, *, min_similarity: float,
           refused: Refused = never) -> Decision:
    """Name each group by its faces; a subject's groups together are its evidence across frames.

    Two groups may be named by one subject (a person the source split, by lighting or pose): their frames
    count together, the best similarity and the best face (quality score) speak for them."""
    named: dict[str, list[tuple[FaceGroup, float]]] = {}
    unknown: list[FaceGroup] = []
    sightings: list[Sighting] = []
    for group in groups:
        found = group_subject(group.faces, min_similarity, refused=refused)
        if found is None:
            unknown.append(group)
            continue
        subject, similarity = found
        named.setdefault(subject, []).append((group, similarity))
        sightings += [Sighting(frame, subject, similarity) for frame in group.frames]
    evidence = {e.subject: e for e in consistent_subjects(sightings, frames_with_faces)}
    return Decision(tuple(_named(subject, entries, evidence.get(subject)) for subject, entries in named.items()),
                    tuple(unknown))


def _named(subject: str, entries: list[tuple[FaceGroup, float]], evidence: Evidence | None) -> Named:
    frames = frozenset[int]().union(*(group.frames for group, _ in entries))
    faces = [group.best for group, _ in entries if group.best is not None]
    best = max(faces, key=lambda o: o.measured.score, default=None)
    return Named(subject, frames, max(similarity for _, similarity in entries), best, evidence)
