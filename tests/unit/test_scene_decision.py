"""The scene decision on its own: groups of recognized faces in, subjects with their evidence out.

Every scene source (sprites, local frames, Vision clusters) ends in this one function, so these cases hold
for all of them without a video, a face service or a state folder.
"""

from __future__ import annotations

from stash_compreface.faces.models import Box, Face, SubjectMatch
from stash_compreface.faces.quality import Measured
from stash_compreface.faces.scene_decision import FaceGroup, Observation, decide, group_subject

MIN_SIMILARITY = 0.81


def face(*matches: tuple[str, float]) -> Face:
    return Face(Box(0, 0, 80, 80), 0.99, tuple(SubjectMatch(s, sim) for s, sim in matches))


def group(frames: range | list[int], *matches: tuple[str, float], score: float = 0.5) -> FaceGroup:
    best = face(*matches)
    return FaceGroup(frozenset(frames), (best,), Observation(min(frames), best, Measured(20.0, None, score)))


def test_a_subject_in_one_frame_of_ten_is_named_but_not_evidence() -> None:
    decision = decide([group(range(10), ("Alice", 0.9)), group([3], ("Bob", 0.95)), group(range(4), ("Nobody", 0.5))],
                      frames_with_faces=10, min_similarity=MIN_SIMILARITY)
    assert [(n.subject, len(n.frames), n.evidence is not None) for n in decision.named] == [
        ("Alice", 10, True), ("Bob", 1, False)]
    (unknown,) = decision.unknown  # under minSimilarity: nobody, a stranger to make a candidate of
    assert unknown.frames == frozenset(range(4))


def test_two_groups_of_one_subject_are_one_person_across_their_frames() -> None:
    split = [group([0], ("Alice", 0.85), score=0.9), group([5], ("Alice", 0.95), score=0.2)]
    (alice,) = decide(split, frames_with_faces=6, min_similarity=MIN_SIMILARITY).named
    assert alice.frames == frozenset({0, 5}) and alice.evidence is not None  # together: two frames
    assert alice.similarity == 0.95
    assert alice.best is split[0].best  # the better face (quality score) speaks for the person


def test_a_refused_subject_gives_way_to_the_next_match() -> None:
    groups = [group(range(3), ("Alice", 0.95), ("Carol", 0.9))]
    (named,) = decide(groups, 3, min_similarity=MIN_SIMILARITY, refused=lambda s: s == "Alice").named
    assert named.subject == "Carol"


def test_a_group_matching_refused_subjects_only_stays_named_by_them() -> None:
    """So the page shows it as rejected, not as a stranger that would become a candidate."""
    groups = [group(range(3), ("Alice", 0.95))]
    decision = decide(groups, 3, min_similarity=MIN_SIMILARITY, refused=lambda s: s == "Alice")
    assert [n.subject for n in decision.named] == ["Alice"] and decision.unknown == ()


def test_a_group_is_named_by_most_of_its_best_faces() -> None:
    faces = [face(("Alice", 0.85)), face(("Alice", 0.83)), face(("Bob", 0.99))]
    assert group_subject(faces, MIN_SIMILARITY) == ("Alice", 0.85)
    assert group_subject([face(("Alice", 0.9)), face(("Bob", 0.9))], MIN_SIMILARITY) == ("Bob", 0.9)  # tie: name
    assert group_subject([], MIN_SIMILARITY) is None


def test_a_group_without_a_usable_face_is_unknown() -> None:
    """The Vision Service may cluster a face the face service then does not find in its frame."""
    empty = FaceGroup(frozenset({0, 1, 2}), (), None)
    decision = decide([empty], 3, min_similarity=MIN_SIMILARITY)
    assert decision.named == () and decision.unknown == (empty,)
