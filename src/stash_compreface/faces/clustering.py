"""Whether a candidate's group of faces is a known person's, before a performer is made of it (issue 18).

One face against one example is how a face matches (``matching.best_match`` at ``minSimilarity``). A
candidate about to become a performer is judged as a group instead: several of its faces (its examples and
the face that promotes it), each with the similarity of its best example of every subject. A degraded or
unusual look of a known person may miss that person one face at a time, just under ``minSimilarity``, while
all its faces sit close to them; the group's *mean* over its faces (a subject a face did not list counts as
0) is steadier than any single one, so it may sit ``GROUP_MARGIN`` under ``minSimilarity``. Two different
people stay far below that (real engines: different people <= 0.49 against a clean face, SFace on the
calibrated scale; the synthetic engine <= 0.3 cosine). Ties break by subject name, so the answer does not
depend on the order the faces came in. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .models import SubjectMatch

GROUP_MARGIN = 0.06
MIN_GROUP_FACES = 2  # one face is the ordinary one-to-one rule, already applied when it was matched
MAX_GROUP_FACES = 6  # the candidate's examples looked at (each costs one recognition)


@dataclass(frozen=True)
class GroupMatch:
    subject: str
    similarity: float  # the group's mean similarity to the subject
    faces: int


def group_owner(faces: Sequence[Sequence[SubjectMatch]], *, own: str, min_similarity: float,
                eligible: Callable[[str], bool], margin: float = GROUP_MARGIN) -> GroupMatch | None:
    """The subject other than ``own`` whose mean similarity over the group's ``faces`` (each face's matches)
    is highest and at least ``min_similarity - margin``, among the ``eligible`` ones; None when there is none
    or the group has fewer than ``MIN_GROUP_FACES`` faces."""
    if len(faces) < MIN_GROUP_FACES:
        return None
    totals: dict[str, float] = defaultdict(float)
    for matches in faces:
        best: dict[str, float] = {}
        for match in matches:
            if match.subject.casefold() != own.casefold():
                best[match.subject] = max(best.get(match.subject, 0.0), match.similarity)
        for subject, similarity in best.items():
            totals[subject] += similarity
    ranked = sorted(((total / len(faces), subject) for subject, total in totals.items()),
                    key=lambda scored: (-scored[0], scored[1]))
    for mean, subject in ranked:
        if mean < min_similarity - margin:
            return None
        if eligible(subject):
            return GroupMatch(subject, mean, len(faces))
    return None
