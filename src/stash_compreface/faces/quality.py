"""Face quality gates.

Gates share one check: the high-quality gate decides whether a face may become a new example (it must
be big, sure, sharp and frontal, because a bad example poisons every later match), the low-quality gate
decides whether a face is worth *matching* at all, and the founding gate whether a face nobody matched may
*found* a new person. Founding is stricter than learning: a degraded copy of a known person (mildly
blurred, small, a sprite cell) often misses that person's clean subject yet matches the other degraded
copies well, so if it could found a subject they would grow into a second performer of the same person.
Such faces may still match and join a subject or a candidate; they never start one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .models import Face, Pose

# Sharpness is the Laplacian standard deviation of the aligned 112 px crop (quality.assess_face): sharp
# portraits measure 28-44, a 2 px blur 14-21, a 4 px blur 6-9.
SHARP_FOR_SUBJECT = 12.0
SHARP_FOR_FOUNDING = 20.0  # clean portraits measure 23-44; motion blur, dark, tiny and sprite copies 4-20
FOUNDING_SIZE_FACTOR = 1.5  # a founding face is at least 1.5x minFaceSize (96 px by default)
MAX_YAW_FOR_FOUNDING = 25.0
SHARP_FOR_MATCH = 5.0
MAX_YAW_FOR_SUBJECT = 30.0
MAX_PITCH_FOR_SUBJECT = 25.0
MAX_YAW_FOR_MATCH = 60.0


@dataclass(frozen=True)
class Gate:
    name: str
    min_face_size_px: int
    min_confidence_score: float
    min_sharpness: float
    max_yaw: float
    max_pitch: float
    min_quality_score: float = 0.0


def subject_gate(min_face_size_px: int, min_confidence_score: float, min_quality_score: float) -> Gate:
    """For creating subjects and adding examples."""
    return Gate("high-quality", min_face_size_px, min_confidence_score, SHARP_FOR_SUBJECT, MAX_YAW_FOR_SUBJECT,
                MAX_PITCH_FOR_SUBJECT, min_quality_score)


def founding_gate(subject: Gate) -> Gate:
    """For a face that nobody matched to become a new subject (module docstring): the subject gate, sharper,
    larger and more frontal."""
    return replace(subject, name="founding", min_face_size_px=round(subject.min_face_size_px * FOUNDING_SIZE_FACTOR),
                   min_sharpness=max(subject.min_sharpness, SHARP_FOR_FOUNDING),
                   max_yaw=min(subject.max_yaw, MAX_YAW_FOR_FOUNDING))


def match_gate(min_face_size_px: int, min_confidence_score: float, min_quality_score: float, *, relaxed: bool) -> Gate:
    """For matching: the HQ run matches what it could also learn from; LQ accepts smaller, blurrier faces."""
    if not relaxed:
        return Gate("matching", max(24, min_face_size_px // 2), min_confidence_score, SHARP_FOR_MATCH,
                    MAX_YAW_FOR_MATCH, 45.0, min_quality_score)
    return Gate("low-quality", max(16, min_face_size_px // 3), max(0.5, min_confidence_score - 0.2),
                SHARP_FOR_MATCH / 2, 75.0, 60.0, min_quality_score)


@dataclass(frozen=True)
class Measured:
    """What the quality library measured of one face (``quality.assess_face``): on its aligned crop."""

    sharpness: float
    pose: Pose | None
    score: float


def check(face: Face, measured: Measured, gate: Gate) -> tuple[bool, str]:
    """Whether ``face`` passes ``gate``; the reason names the first failing measure.

    The pose is the engine's when it gave one, else the one estimated from the landmarks.
    """
    sharpness = measured.sharpness
    side = face.box.min_side
    if side < gate.min_face_size_px:
        return False, f"face {side}px < {gate.min_face_size_px}px ({gate.name} gate)"
    if face.probability < gate.min_confidence_score:
        return False, f"detection {face.probability:.2f} < {gate.min_confidence_score:.2f} ({gate.name} gate)"
    if sharpness < gate.min_sharpness:
        return False, f"blurry: sharpness {sharpness:.1f} < {gate.min_sharpness:.1f} ({gate.name} gate)"
    pose = face.pose or measured.pose
    if pose is not None:
        if abs(pose.yaw) > gate.max_yaw:
            return False, f"turned away: yaw {pose.yaw:.0f}° > {gate.max_yaw:.0f}° ({gate.name} gate)"
        if abs(pose.pitch) > gate.max_pitch:
            return False, f"tilted: pitch {pose.pitch:.0f}° > {gate.max_pitch:.0f}° ({gate.name} gate)"
    if gate.min_quality_score > 0 and measured.score < gate.min_quality_score:
        return False, f"quality {measured.score:.2f} < {gate.min_quality_score:.2f} ({gate.name} gate)"
    return True, "ok"
