from __future__ import annotations

import subprocess
import sys

import pytest

from stash_compreface.faces import matching, quality
from stash_compreface.faces.models import Box, Face, Pose, SubjectMatch
from stash_compreface.faces.naming import person_alias, subject_name


def face(x: int = 0, y: int = 0, size: int = 100, prob: float = 0.99, yaw: float | None = None,
         matches: tuple[SubjectMatch, ...] = ()) -> Face:
    pose = Pose(yaw, 0.0, 0.0) if yaw is not None else None
    return Face(Box(x, y, x + size, y + size), prob, matches, pose)


def test_subject_name_format() -> None:
    assert subject_name("342", "7K2QX9B1LM0ZPA4C") == "Person 342 7K2QX9B1LM0ZPA4C"
    with pytest.raises(ValueError):
        subject_name("1", "lowercase-letters")


@pytest.mark.parametrize(
    ("name", "aliases", "expected"),
    [
        ("Jane", ["Person 1 ABC"], "Person 1 ABC"),
        ("Person 2 XYZ", [], "Person 2 XYZ"),
        ("Person 2 XYZ", ["Person 9 Q"], "Person 9 Q"),
        ("Person", [], None),
        ("PersonA", [], None),
        ("A Person", [], None),
        ("person 123", ["PERSON 456"], None),
        ("Jane", ["Janey", "Person 3 K", "Person 4 L"], "Person 3 K"),
    ],
)
def test_person_alias_rule(name: str, aliases: list[str], expected: str | None) -> None:
    assert person_alias(name, aliases) == expected


def test_face_order_is_largest_first_then_reading_order() -> None:
    small = face(0, 0, 50)
    big = face(300, 300, 120)
    left = face(10, 200, 80)
    right = face(200, 200, 80)
    assert matching.order_faces([right, small, left, big]) == [big, left, right, small]


def test_match_threshold_is_inclusive() -> None:
    f = face(matches=(SubjectMatch("A", 0.81), SubjectMatch("B", 0.5)))
    assert matching.best_match(f, 0.81) == SubjectMatch("A", 0.81)
    assert matching.best_match(f, 0.82) is None
    assert matching.best_match(face(), 0.5) is None


def test_a_refused_subject_gives_way_to_the_next_one_above_the_threshold() -> None:
    f = face(matches=(SubjectMatch("Alice", 0.95), SubjectMatch("Dana", 0.93), SubjectMatch("Eve", 0.6)))
    assert matching.best_match(f, 0.81, refused={"Alice"}.__contains__) == SubjectMatch("Dana", 0.93)
    assert matching.best_match(f, 0.81, refused={"Alice", "Dana"}.__contains__) is None  # Eve is below


def test_learning_needs_quality_and_room() -> None:
    assert matching.should_learn(3, high_quality=True)
    assert not matching.should_learn(3, high_quality=False)
    assert not matching.should_learn(matching.MAX_EXAMPLES_PER_SUBJECT, high_quality=True)


def test_promotion_counts_sightings() -> None:
    assert not matching.should_promote(1, 2)
    assert matching.should_promote(2, 2)
    assert matching.should_promote(1, 1)
    assert matching.should_promote(1, 0)


def test_gender_mapping() -> None:
    assert matching.stash_gender("female") == "FEMALE"
    assert matching.stash_gender("M") == "MALE"
    assert matching.stash_gender("unknown") is None


def sharp(value: float, *, score: float = 1.0, pose: Pose | None = None) -> quality.Measured:
    return quality.Measured(sharpness=value, pose=pose, score=score)


def test_quality_gates_name_the_failing_measure() -> None:
    hq = quality.subject_gate(64, 0.7, 0.0)
    assert quality.check(face(size=100), sharp(30.0), hq) == (True, "ok")
    ok, why = quality.check(face(size=40), sharp(30.0), hq)
    assert not ok and "40px < 64px" in why
    ok, why = quality.check(face(prob=0.6), sharp(30.0), hq)
    assert not ok and "detection 0.60 < 0.70" in why
    ok, why = quality.check(face(), sharp(3.0), hq)
    assert not ok and "blurry" in why
    ok, why = quality.check(face(yaw=50), sharp(30.0), hq)
    assert not ok and "yaw 50" in why


def test_low_quality_gate_accepts_what_high_quality_refuses() -> None:
    hq = quality.subject_gate(64, 0.7, 0.0)
    lq = quality.match_gate(64, 0.7, 0.0, relaxed=True)
    small_blurry_turned = face(size=30, yaw=50)
    assert not quality.check(small_blurry_turned, sharp(4.0), hq)[0]
    assert quality.check(small_blurry_turned, sharp(4.0), lq)[0]


def test_composite_quality_gate() -> None:
    gate = quality.subject_gate(64, 0.7, 0.9)
    ok, why = quality.check(face(size=70), sharp(30.0, score=0.6), gate)
    assert not ok and "quality 0.60 < 0.90" in why
    assert quality.check(face(size=70), sharp(30.0, score=0.95), gate)[0]
    assert quality.check(face(size=300, yaw=0), sharp(40.0), gate)[0]


def test_a_pose_estimated_from_landmarks_counts_when_the_engine_gives_none() -> None:
    hq = quality.subject_gate(64, 0.7, 0.0)
    ok, why = quality.check(face(size=100), sharp(30.0, pose=Pose(45.0, 0.0, 0.0)), hq)
    assert not ok and "yaw 45" in why


def test_outcome_tags() -> None:
    kw = {"scanned_tag": "S", "matched_tag": "M", "error_tag": "E"}
    change = matching.outcome_tags(frozenset({"X", "E"}), failed=False, matched=True, **kw)
    assert change.add == {"S", "M"} and change.remove == {"E"}
    change = matching.outcome_tags(frozenset({"S", "M", "X"}), failed=True, matched=False, **kw)
    assert change.add == {"E"} and change.remove == {"S", "M"}  # never Error together with Matched
    assert not matching.outcome_tags(frozenset({"S"}), failed=False, matched=False, **kw)


def test_box_helpers() -> None:
    box = Box(-5, 10, 110, 90)
    assert box.clamped(100, 100) == Box(0, 10, 100, 90)
    assert Box(10, 10, 20, 20).padded(0.5, 100, 100) == Box(5, 5, 25, 25)
    assert Box(0, 0, 10, 10).iou(Box(0, 0, 10, 10)) == 1.0


def test_faces_package_does_no_io() -> None:
    code = ("import sys, stash_compreface.faces.matching, stash_compreface.faces.quality, "
            "stash_compreface.faces.naming; bad = {'httpx', 'PIL'} & set(sys.modules); print(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
