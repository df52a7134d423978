"""How a scene is looked at, fixed when the recognizer is built: the settings it needs, and ``look_only``.

The gates and thresholds are derived here once, so every source, the decision and the candidates agree on
them, and nothing changes how a recognizer behaves once it exists (there are no flags to set afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...faces import quality
from ...settings import Settings


@dataclass(frozen=True)
class SceneOptions:
    min_similarity: float  # a face matches a subject from this similarity on
    gate: quality.Gate  # scene faces are small: every scene mode matches with the low-quality gate
    candidate_gate: quality.Gate  # an unknown person's best face must pass the high-quality gate
    frame_interval_s: float  # seconds between frames sampled locally
    min_confidence_score: float  # what the Vision Service is asked to detect
    min_processing_quality_score: float  # and to keep
    # identifyScene without associateExisting (the scene page): nothing is linked, promoted or completed in
    # Stash; unknown people still become candidates, so the page can name them.
    look_only: bool = False

    @classmethod
    def from_settings(cls, s: Settings, *, look_only: bool = False) -> SceneOptions:
        return cls(
            min_similarity=s.min_similarity,
            gate=quality.match_gate(s.min_face_size_px, s.min_confidence_score, s.min_processing_quality_score,
                                    relaxed=True),
            candidate_gate=quality.subject_gate(s.min_face_size_px, s.min_confidence_score, s.min_quality_score),
            frame_interval_s=s.frame_interval_s,
            min_confidence_score=s.min_confidence_score,
            min_processing_quality_score=s.min_processing_quality_score,
            look_only=look_only,
        )
