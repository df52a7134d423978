"""Who is in a scene: a source's face groups, decided by one rule, resolved to performers and candidates.

:class:`SceneRecognizer` is the same for every source: the source groups the faces (:mod:`.source`),
``faces.scene_decision.decide`` names the groups and weighs the evidence, and here each decided subject
comes to what the user sees: its performer (MATCHED, linked by a run), REJECTED (the user's "not this
person" for the scene, asked in one place: the ``refused`` predicate built once per scene), WEAK (too few
frames), or a subject without a performer (a candidate, maybe promoted now). Unknown people go to
:class:`.candidates.Candidates` when the source may make candidates.

Building a recognizer does no I/O; :func:`sprite_recognizer` and :func:`video_recognizer` choose the
source for a mode and do the checks a run needs before its first scene.
"""

from __future__ import annotations

from dataclasses import replace

from ...faces.scene_decision import FaceGroup, Named, Refused, decide
from ...stash.models import Scene
from ..context import TaskContext
from ..enrolment import Enrolment
from ..performers import AmbiguousSubject, PerformerDirectory, refusals
from ..runner import Tally
from .candidates import Candidates
from .findings import Finding, FindingStatus, SceneReport
from .local_frames import LocalFrameSource
from .options import SceneOptions
from .source import FaceSource, SceneFaces
from .sprites import SpriteSource
from .vision_clusters import VisionSource


class SceneRecognizer:
    def __init__(self, ctx: TaskContext, source: FaceSource, options: SceneOptions, tally: Tally) -> None:
        self.ctx = ctx
        self.source = source
        self.options = options
        self.directory = PerformerDirectory(ctx)
        self.candidates = (Candidates(Enrolment(ctx, tally), self.directory, tally, options)
                           if source.makes_candidates else None)

    def recognize(self, scene: Scene) -> SceneReport:
        """Everyone seen in the scene, each with its evidence and what became of it, most seen first."""
        seen = self.source.faces(scene)
        # The user's refusals for this scene: whether a subject, or the performer holding it, was refused.
        refused = refusals(self.ctx, self.directory, scene.ref)
        decision = decide(seen.groups, seen.frames_with_faces, min_similarity=self.options.min_similarity,
                          refused=refused)
        findings = [self._subject(scene, seen, named, refused) for named in decision.named]
        findings += [self._unknown(scene, seen, group, refused) for group in decision.unknown]
        findings.sort(key=lambda f: (-f.frames, f.subject or ""))
        return SceneReport(seen.what, tuple(findings))

    def _subject(self, scene: Scene, seen: SceneFaces, named: Named, refused: Refused) -> Finding:
        """What a recognized subject comes to in the scene: its performer when the evidence holds across
        frames and the user has not rejected it there; a candidate's sighting may promote it."""
        subject, directory = named.subject, self.directory
        finding = Finding(FindingStatus.WEAK, len(named.frames), seen.times_of(named.frames), subject,
                          named.similarity, crop=named.best.crop if named.best else None)
        if named.evidence is None:
            try:  # WEAK: seen, but not enough to link anyone; named for the page, where the user may confirm it
                performer = directory.for_subject(subject)
            except AmbiguousSubject:
                return finding
        else:
            performer = directory.for_subject(subject)
        finding = replace(finding, performer_id=performer, performer_name=directory.name_of(performer))
        if refused(subject):
            return replace(finding, status=FindingStatus.REJECTED, note=f"{subject} was rejected for this scene")
        if named.evidence is None:
            return finding
        if performer is not None and not self.options.look_only:
            directory.finish_pending(subject, performer)
        elif performer is None and self.candidates is not None:
            performer = self.candidates.sighting(subject, scene, named.best)
        if performer is None:
            # A candidate (an unknown person the plugin made a subject of) waits for sightings or a name.
            waiting = self.ctx.state.candidates.exists(subject)
            status = FindingStatus.CANDIDATE if waiting else FindingStatus.NO_PERFORMER
            return replace(finding, status=status, note=f"{subject} has no performer")
        name = directory.name_of(performer)
        return replace(finding, status=FindingStatus.MATCHED, performer_id=performer, performer_name=name,
                       note=f"performer {performer} ({name}) in {named.evidence.frames} of "
                            f"{seen.frames_with_faces} frames with faces")

    def _unknown(self, scene: Scene, seen: SceneFaces, group: FaceGroup, refused: Refused) -> Finding:
        """A person nobody matched: maybe a new candidate, else shown as unknown."""
        best = group.best
        finding = Finding(FindingStatus.UNKNOWN, len(group.frames), seen.times_of(group.frames),
                          crop=best.crop if best else None)
        if self.candidates is None:
            return finding
        return self.candidates.consider(scene, finding, best, refused)


def sprite_recognizer(ctx: TaskContext, tally: Tally) -> SceneRecognizer:
    """The sprite modes' recognizer: Stash's thumbnails, known people only."""
    options = SceneOptions.from_settings(ctx.settings)
    return SceneRecognizer(ctx, SpriteSource(ctx, options), options, tally)


def video_recognizer(ctx: TaskContext, tally: Tally, *, look_only: bool = False) -> SceneRecognizer:
    """The video modes' recognizer, ready for a run: the Vision Service when configured (checked now, so an
    unreachable one stops the run before its first scene), else frames sampled here. Unless ``look_only``
    (identifyScene without associateExisting: nothing is linked, promoted or completed in Stash), the
    promotions an earlier run could not finish are completed first."""
    options = SceneOptions.from_settings(ctx.settings, look_only=look_only)
    source: FaceSource
    if ctx.settings.vision_service_url:
        ctx.vision.health()
        source = VisionSource(ctx, options)
    else:
        source = LocalFrameSource(ctx, options)
    recognizer = SceneRecognizer(ctx, source, options, tally)
    if not look_only:
        recognizer.directory.complete_pending()
    return recognizer

