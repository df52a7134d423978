"""Which face is which, whether it matches, whether to learn from it, when a candidate is promoted."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .models import Face, SubjectMatch

MAX_EXAMPLES_PER_SUBJECT = 10
_GENDERS = {"male": "MALE", "female": "FEMALE", "m": "MALE", "f": "FEMALE"}


def order_faces(faces: Iterable[Face]) -> list[Face]:
    """Largest first, then top-to-bottom, left-to-right: the index users see and pass back as faceIndex."""
    return sorted(faces, key=lambda f: (-f.box.area, f.box.y_min, f.box.x_min))


def best_match(face: Face, min_similarity: float, *,
               refused: Callable[[str], bool] = lambda _subject: False) -> SubjectMatch | None:
    """The most similar subject at ``min_similarity`` or above that is not ``refused`` (the user said it is
    not them, here): a face the user gave to someone else is theirs, not the wrong first guess's."""
    for match in sorted(face.matches, key=lambda m: -m.similarity):
        if match.similarity < min_similarity:
            return None
        if not refused(match.subject):
            return match
    return None


def should_learn(examples: int, *, high_quality: bool, cap: int = MAX_EXAMPLES_PER_SUBJECT) -> bool:
    """Good faces grow a subject up to ``cap`` examples (bad ones would blur it)."""
    return high_quality and examples < cap


def should_promote(sightings: int, min_faces: int) -> bool:
    """A candidate becomes a performer once seen in ``minFacesForNewPerformer`` distinct images."""
    return sightings >= max(1, min_faces)


def stash_gender(value: str | None) -> str | None:
    return _GENDERS.get((value or "").strip().lower())


@dataclass(frozen=True)
class TagChange:
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


def outcome_tags(current: frozenset[str], *, failed: bool, matched: bool, scanned_tag: str,
                 matched_tag: str, error_tag: str) -> TagChange:
    """Final tags of a processed item: Error alone on failure (never with Scanned or Matched, so a reset
    retries it); else Scanned (+ Matched)."""
    if failed:
        want, drop = {error_tag}, {scanned_tag, matched_tag}
    else:
        want = {scanned_tag} | ({matched_tag} if matched else set())
        drop = {error_tag}
    return TagChange(add=frozenset(want - current), remove=frozenset(drop & current))
