"""What a look at a scene found: one :class:`Finding` per person, and the :class:`SceneReport` of the scene.

These are the scene path's output records. Batch runs link the performers of the MATCHED findings and tag
the scene from the report; identifyScene shows every finding: :meth:`Finding.as_dict` is the shape of one
entry of its ``people`` list, which the scene page (plugin/ui/compreface.js) reads, so its keys and
status strings are a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ...errors import MediaError
from ...faces.grouping import MIN_FRAMES
from ..enrolment import face_thumbnail

SHOWN_TIMES = 10  # timestamps listed per person in identifyScene's output


class FindingStatus(StrEnum):
    """What became of one person seen in a scene; the values are identifyScene's ``status`` strings."""

    MATCHED = "matched"  # a performer with consistent evidence: what a recognition run links
    REJECTED = "rejected"  # the user said this performer is not in the scene (rejectMatch)
    NO_PERFORMER = "no performer"  # a subject with consistent evidence but no performer (yet)
    WEAK = "weak"  # a known subject, in too few of the frames to be evidence
    CANDIDATE = "candidate"  # an unknown person, now a candidate subject to name
    UNKNOWN = "unknown"  # nobody the face service knows, not (yet) a candidate


@dataclass(frozen=True)
class Finding:
    """One person in a scene and the evidence: frames seen in (with their times) and best similarity."""

    status: FindingStatus
    frames: int
    times: tuple[float, ...] = ()
    subject: str | None = None
    similarity: float | None = None
    performer_id: str | None = None
    performer_name: str | None = None
    note: str = ""
    crop: bytes | None = None  # the person's best face (JPEG), when the source kept one

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "subject": self.subject,
            "similarity": None if self.similarity is None else round(self.similarity, 5),
            "performer": None if self.performer_id is None else {"id": self.performer_id,
                                                                 "name": self.performer_name},
            "frames": self.frames,
            "times": [round(t, 2) for t in self.times[:SHOWN_TIMES]],
            "note": self.note,
            "face": _thumbnail(self.crop) if self.crop else None,
        }


def _thumbnail(jpeg: bytes) -> str | None:
    try:
        return face_thumbnail(jpeg)
    except MediaError:
        return None


@dataclass(frozen=True)
class SceneReport:
    """Everyone found in one scene, most seen first; ``what`` says what was looked at (frames, thumbnails,
    clusters)."""

    what: str
    findings: tuple[Finding, ...] = ()

    @property
    def performers(self) -> set[str]:
        """The performers a recognition run links: matched with consistent evidence, not rejected."""
        return {f.performer_id for f in self.findings if f.status is FindingStatus.MATCHED and f.performer_id}

    @property
    def unidentified(self) -> bool:
        """Someone was seen in several frames and no performer was found for the scene (Unidentified)."""
        unnamed = (FindingStatus.NO_PERFORMER, FindingStatus.CANDIDATE, FindingStatus.UNKNOWN)
        return any(f.status in unnamed and f.frames >= MIN_FRAMES for f in self.findings)

    def describe(self) -> str:
        notes = [f.note for f in self.findings if f.note]
        return self.what + (f"; {'; '.join(notes)}" if notes else "")
