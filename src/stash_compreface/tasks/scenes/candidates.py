"""New people in scenes: an unknown person seen in enough frames becomes a candidate subject.

Strangers in the background must not become performers (PRODUCT.md §3, no junk performers). So a person
nobody matched becomes a candidate only when seen in ``CANDIDATE_MIN_FRAMES`` frames and their best face
passes the founding gate (a bad first example poisons every later match, and a degraded face would
found a second person of someone known: faces.quality); and a candidate becomes a
performer only once seen in ``minFacesForNewPerformer`` items, a scene counting as one item with images
(the performer directory records the sightings and promotes). The subject itself is made as every mode
makes one (``tasks/enrolment.py``: the search for the person just before, which skips what the user
refused for the scene, and the tight crop when the margin holds another face). Shared by every source
that ``makes_candidates`` (local frames, the Vision Service); sprite thumbnails are too small.
"""

from __future__ import annotations

from dataclasses import replace

from ...faces import matching, quality
from ...faces.scene_decision import Observation, Refused
from ...stash.models import Scene
from ..enrolment import Enrolment, FaceCrop, Outcome
from ..performers import PerformerDirectory
from ..runner import Tally
from .findings import Finding, FindingStatus
from .options import SceneOptions

CANDIDATE_MIN_FRAMES = 3  # an unknown person becomes a candidate only when seen in this many frames


class Candidates:
    def __init__(self, enrolment: Enrolment, directory: PerformerDirectory, tally: Tally,
                 options: SceneOptions) -> None:
        self.enrolment = enrolment
        self.directory = directory
        self.tally = tally
        self.options = options

    def sighting(self, subject: str, scene: Scene, best: Observation | None) -> str | None:
        """A performer-less subject seen consistently in the scene, with its best face: one more sighting
        (maybe a promotion, unless only looking); its performer, if it has one now. Without a face to make
        a performer image of, nothing is recorded."""
        if best is None or best.crop is None:
            return None
        promotion = self.directory.sighting(subject, scene.ref, best.crop,
                                            matching.stash_gender(best.face.gender), promote=not self.options.look_only)
        if promotion.created:
            self.tally.add(created_performers=1)
        return promotion.performer_id

    def consider(self, scene: Scene, finding: Finding, best: Observation | None, refused: Refused) -> Finding:
        """An unknown person (``finding``, UNKNOWN) with their best face: a candidate once seen in enough
        frames with a good enough face (unless the enrolment finds them a subject already, or one the user
        refused for this scene); else the finding as it is, with the reason when it came close."""
        if finding.frames < CANDIDATE_MIN_FRAMES or best is None or best.crop is None:
            return finding
        ok, why = quality.check(best.face, best.measured, quality.founding_gate(self.options.candidate_gate))
        if not ok:
            return replace(finding, note=f"an unknown person in {finding.frames} frames, not a candidate: {why}")
        face = FaceCrop(f"a face of {scene.label}", best.crop, item=scene.ref)
        enrolled = self.enrolment.new_subject(face, named_after=scene.id, why=f"{face.what} as its first example",
                                              refused=refused)
        subject = enrolled.subject
        if enrolled.outcome is Outcome.FAILED:
            return replace(finding, note=f"an unknown person in {finding.frames} frames: {enrolled.reason}")
        if enrolled.outcome is Outcome.REFUSED:
            return replace(finding, subject=subject, similarity=enrolled.similarity, status=FindingStatus.REJECTED,
                           note=f"{subject} was rejected for this scene")
        performer = self.directory.for_subject(subject)
        if performer is None:
            performer = self.sighting(subject, scene, best)
        status = FindingStatus.MATCHED if performer else FindingStatus.CANDIDATE
        return replace(finding, subject=subject, status=status, performer_id=performer,
                       performer_name=self.directory.name_of(performer),
                       note=f"{subject} in {finding.frames} frames" + (f": performer {performer}" if performer
                                                                        else ": candidate"))
