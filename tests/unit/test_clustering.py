"""faces.clustering: a candidate's faces judged as a group against every subject."""

from __future__ import annotations

from stash_compreface.faces.clustering import group_owner
from stash_compreface.faces.models import SubjectMatch as M


def owner(faces: list[list[M]], eligible: set[str] | None = None) -> str | None:
    found = group_owner(faces, own="C", min_similarity=0.81,
                        eligible=lambda s: eligible is None or s in eligible)
    return found.subject if found else None


def test_faces_each_just_under_min_similarity_are_the_subject_as_a_group() -> None:
    assert owner([[M("C", 0.99), M("A", 0.78)], [M("C", 0.98), M("A", 0.77)], [M("A", 0.79)]]) == "A"


def test_one_face_is_never_a_group_and_a_subject_a_face_did_not_list_counts_as_nothing() -> None:
    assert owner([[M("A", 0.80)]]) is None
    assert owner([[M("A", 0.80)], [M("B", 0.80)]]) is None  # 0.40 each on average


def test_the_best_eligible_subject_wins_and_ties_break_by_name() -> None:
    faces = [[M("B", 0.79), M("A", 0.79)], [M("A", 0.79), M("B", 0.79)]]
    assert owner(faces) == "A"
    assert owner(faces, eligible={"B"}) == "B"
    assert owner(faces, eligible=set()) is None
    assert owner([list(reversed(f)) for f in reversed(faces)]) == "A"


def test_different_people_stay_apart() -> None:
    assert owner([[M("A", 0.70)], [M("A", 0.74)], [M("A", 0.72)]]) is None
