"""New people in scenes: an unknown person seen in enough frames becomes a candidate subject.

Strangers in the background must not become performers (PRODUCT.md §3, no junk performers). So a person
nobody matched becomes a candidate only when seen in ``CANDIDATE_MIN_FRAMES`` frames and their best face
passes the high-quality gate (a bad first example poisons every later match); and a candidate becomes a
performer only once seen in ``minFacesForNewPerformer`` items, a scene counting as one item with images
(the performer directory records the sightings and promotes). Shared by every source that
``makes_candidates`` (local frames, the Vision Service); sprite thumbnails are too small.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from ...faces import matching, quality
from ...faces.naming import subject_name
from ...faces.scene_decision import Observation, Refused
from ...faceservice import FaceServiceError
from ...stash.models import Scene
from ..context import TaskContext
from ..performers import PerformerDirectory, scene_item
from ..runner import Tally
from .findings import Finding, FindingStatus
from .options import SceneOptions

CANDIDATE_MIN_FRAMES = 3  # an unknown person becomes a candidate only when seen in this many frames


class Candidates:
    def __init__(self, ctx: TaskContext, directory: PerformerDirectory, tally: Tally, options: SceneOptions) -> None:
        self.ctx = ctx
        self.directory = directory
        self.tally = tally
        self.options = options
        self._lock = threading.Lock()  # scenes run concurrently: one new subject per person, not one per scene

    def sighting(self, subject: str, scene: Scene, best: Observation | None) -> str | None:
        """A performer-less subject seen consistently in the scene, with its best face: one more sighting
        (maybe a promotion, unless only looking); its performer, if it has one now. Without a face to make
        a performer image of, nothing is recorded."""
        if best is None or best.crop is None:
            return None
        promotion = self.directory.sighting(subject, scene_item(scene.id), best.crop,
                                            matching.stash_gender(best.face.gender), promote=not self.options.look_only)
        if promotion.created:
            self.tally.add(created_performers=1)
        return promotion.performer_id

    def consider(self, scene: Scene, finding: Finding, best: Observation | None, refused: Refused) -> Finding:
        """An unknown person (``finding``, UNKNOWN) with their best face: a candidate once seen in enough
        frames with a good enough face; else the finding as it is, with the reason when it came close."""
        if finding.frames < CANDIDATE_MIN_FRAMES or best is None or best.crop is None:
            return finding
        ok, why = quality.check(best.face, best.measured, self.options.candidate_gate)
        if not ok:
            return replace(finding, note=f"an unknown person in {finding.frames} frames, not a candidate: {why}")
        ctx = self.ctx
        with self._lock:
            # Another scene of this run (or an image) may have made this person a subject meanwhile.
            again = matching.order_faces(ctx.face_service.recognize(best.crop, min_probability=0.5))
            match = matching.best_match(again[0], self.options.min_similarity) if again else None
            if match is not None:
                subject = match.subject
            else:
                subject = subject_name(scene.id, ctx.suffix())
                ctx.state.add_candidate(subject)
                try:
                    if ctx.writes.add_example(subject, best.crop, why=f"a face of {scene.label} as its first "
                                              "example", item=scene_item(scene.id), new_subject=True) is not None:
                        self.tally.add(created_subjects=1)
                except FaceServiceError as exc:
                    return replace(finding, note=f"an unknown person in {finding.frames} frames: the face service "
                                                 f"would not take the face: {exc}")
        performer = self.directory.for_subject(subject)
        if performer is None:
            performer = self.sighting(subject, scene, best)
        if performer is not None and refused(subject):
            return replace(finding, subject=subject, status=FindingStatus.REJECTED,
                           note=f"{subject} was rejected for this scene")
        status = FindingStatus.MATCHED if performer else FindingStatus.CANDIDATE
        return replace(finding, subject=subject, status=status, performer_id=performer,
                       performer_name=self.directory.name_of(performer),
                       note=f"{subject} in {finding.frames} frames" + (f": performer {performer}" if performer
                                                                        else ": candidate"))
