"""Recognizing the faces of one image, shared by every image mode.

The modes differ only in policy (which gate matches, whether unmatched faces become candidates or
performers at once, whether matched faces are learned), so the policy is data and the flow is one.
The image's own outcome (tags, performers) is written once per image by :func:`recognize_and_record`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .. import imaging
from ..errors import FaceIndexOutOfRange, MediaError
from ..faces import matching, quality
from ..faces.models import Face
from ..quality import measure_for_gates
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind
from ..stash.queries import Selection
from . import unknown_faces
from .context import TaskContext
from .enrolment import Enrolment, FaceCrop, Outcome
from .performers import PerformerDirectory, Promotion, refusals
from .runner import Tally, item_pages, run_items, run_one
from .unknown_faces import FaceCrops

Create = Literal["never", "candidate", "immediate"]


class FaceStatus(StrEnum):
    """What became of one face; the values are the ``status`` strings of identifyImage's output."""

    SKIPPED = "skipped"  # below the matching gate
    NOT_SELECTED = "not selected"  # createPerformerFromImage: another face was chosen
    MATCHED = "matched"  # a subject with a performer
    SUBJECT_WITHOUT_PERFORMER = "subject without performer"
    CANDIDATE = "candidate"  # a known candidate, not yet seen often enough
    NEW_CANDIDATE = "new candidate"  # a new subject from this face
    PERFORMER_CREATED = "performer created"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Policy:
    match_gate: quality.Gate
    subject_gate: quality.Gate
    create: Create
    learn: bool
    track_sightings: bool
    performer_name: str = ""  # createPerformerFromImage: the name the user typed for the new performer
    # A face nobody matched founds a candidate only through this gate (faces.quality.founding_gate); None:
    # the subject gate is enough (createPerformerFromImage: the user chose the face).
    found_gate: quality.Gate | None = None
    # A batch run that decides its unknown faces and promotions once every image is seen (tasks/unknown_faces.py)
    defer: bool = False
    # A batch run does not search for faces under its match gate's minimum (the engine may spare its small-face
    # pass). Off, every face is searched for: a look shows them all, and an action on face N of an item must
    # number the faces as the look did.
    spare_small_faces: bool = False


def policy_for(ctx: TaskContext, *, relaxed: bool, create: Create, learn: bool, track_sightings: bool) -> Policy:
    s = ctx.settings
    subject_gate = quality.subject_gate(s.min_face_size_px, s.min_confidence_score, s.min_quality_score)
    return Policy(
        match_gate=quality.match_gate(s.min_face_size_px, s.min_confidence_score, s.min_processing_quality_score,
                                      relaxed=relaxed),
        subject_gate=subject_gate,
        create=create,
        learn=learn,
        track_sightings=track_sightings,
        found_gate=quality.founding_gate(subject_gate),
    )


@dataclass
class FaceReport:
    index: int
    face: Face
    status: FaceStatus
    reason: str = ""
    subject: str | None = None
    similarity: float | None = None
    performer_id: str | None = None
    performer_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "box": {**self.face.box.as_dict(), "probability": round(self.face.probability, 5)},
            "subject": self.subject,
            "similarity": None if self.similarity is None else round(self.similarity, 5),
            "performer": None if self.performer_id is None else {"id": self.performer_id,
                                                                 "name": self.performer_name},
            "status": str(self.status),
            "reason": self.reason,
        }


@dataclass
class ImageReport:
    image: Image
    faces: list[FaceReport] = field(default_factory=list)
    frame: tuple[int, int] | None = None  # width, height of the picture the boxes refer to (downscaled copy)

    @property
    def performer_ids(self) -> set[str]:
        return {f.performer_id for f in self.faces if f.performer_id}

    @property
    def unidentified(self) -> bool:
        """A face passed the matching gate and no performer came of it (the Unidentified tag)."""
        return any(f.performer_id is None and f.status not in (FaceStatus.SKIPPED, FaceStatus.NOT_SELECTED)
                   for f in self.faces)


class _Work:
    """Per-image scratch: the decoded picture and lazily encoded face crops."""

    def __init__(self, image: Image, prepared: imaging.Prepared) -> None:
        self.image = image
        self.prepared = prepared
        self._crops: dict[tuple[int, float], bytes] = {}

    def crop(self, face: Face, pad: float = 0.15) -> bytes:
        key = (id(face), pad)
        if key not in self._crops:
            self._crops[key] = imaging.encode_jpeg(imaging.crop(self.prepared.image, face.box, pad=pad))
        return self._crops[key]

    def face(self, face: Face, index: int) -> FaceCrop:
        """Face ``index`` to enrol: its crop with a margin, and the tight one cut from this picture if needed."""
        return FaceCrop(f"face {index} of {self.image.label}", self.crop(face), item=self.image.ref,
                        tight=lambda: self.crop(face, pad=0.0))


class ImageRecognizer:
    def __init__(self, ctx: TaskContext, policy: Policy, tally: Tally,
                 directory: PerformerDirectory | None = None, crops: FaceCrops | None = None) -> None:
        self.ctx = ctx
        self.policy = policy
        self.tally = tally
        self.directory = directory or PerformerDirectory(ctx)
        self.enrolment = Enrolment(ctx, tally)
        self.crops = crops  # a deferring run's founding faces (policy.defer)

    # -- the flow --------------------------------------------------------------------------------

    def load(self, image: Image) -> imaging.Prepared:
        if image.is_video:
            raise MediaError("the file is a video clip, not a still image")
        with self.ctx.stash.download(image.url, what="image file") as media:
            return imaging.prepare(media)

    def detect(self, prepared: imaging.Prepared) -> list[Face]:
        gate = self.policy.match_gate
        smallest = gate.min_face_size_px if self.policy.spare_small_faces else 0
        faces = self.ctx.face_service.recognize(prepared.jpeg, min_probability=min(gate.min_confidence_score, 0.99),
                                                embeddings=self.policy.defer, min_face_px=smallest)
        clamped = [dataclasses.replace(f, box=f.box.clamped(prepared.width, prepared.height)) for f in faces]
        return matching.order_faces(f for f in clamped if f.box.min_side >= 2)

    def analyse(self, image: Image, *, only_index: int | None = None) -> ImageReport:
        prepared = self.load(image)
        faces = self.detect(prepared)
        work = _Work(image, prepared)
        report = ImageReport(image, frame=(prepared.width, prepared.height))
        if self.policy.defer:
            self.ctx.state.unknown.forget_item(image.ref)  # recognised afresh: its unknown faces are recorded again
        if only_index is not None and not 0 <= only_index < len(faces):
            count = len(faces)
            raise FaceIndexOutOfRange(f"faceIndex {only_index} is out of range: {image.label} has {count} face(s)"
                                      + (f" (0..{count - 1})" if count else ""), faces=count)
        for index, face in enumerate(faces):
            if only_index is not None and index != only_index:
                report.faces.append(FaceReport(index, face, FaceStatus.NOT_SELECTED))
                continue
            report.faces.append(self._face(work, index, face))
        return report

    def _face(self, work: _Work, index: int, face: Face) -> FaceReport:
        measured = measure_for_gates(work.prepared.image, face)
        ok, why = quality.check(face, measured, self.policy.match_gate)
        if not ok:
            return FaceReport(index, face, FaceStatus.SKIPPED, why)
        high_quality, hq_why = quality.check(face, measured, self.policy.subject_gate)
        min_similarity = self.ctx.settings.min_similarity
        match = matching.best_match(face, min_similarity, refused=lambda subject: self._refused(work, subject))
        first = matching.best_match(face, min_similarity) if match is None else None
        if first is not None and self.policy.create != "immediate":
            # (createPerformerFromImage: the user says this rejected face is someone new, so it goes on.)
            return self._rejected(index, face, first.subject, first.similarity)
        if match is not None:
            return self._known(work, index, face, match.subject, match.similarity, high_quality=high_quality,
                               score=measured.score)
        best = face.best
        similarity = best.similarity if best else None
        if self.policy.create == "never":
            return FaceReport(index, face, FaceStatus.UNMATCHED, "no subject above minSimilarity",
                              similarity=similarity)
        founds, found_why = high_quality, f"not used for a new subject: {hq_why}"
        if founds and self.policy.found_gate is not None and self.policy.create == "candidate":
            founds, found_why = quality.check(face, measured, self.policy.found_gate)
            found_why = f"may join a known person, not found a new one: {found_why}"
        if self.policy.defer and face.embedding:
            return self._deferred(work, index, face, founds=founds, score=measured.score)
        if not founds:
            return FaceReport(index, face, FaceStatus.UNMATCHED, found_why, similarity=similarity)
        return self._new_subject(work, index, face)

    def _deferred(self, work: _Work, index: int, face: Face, *, founds: bool, score: float) -> FaceReport:
        """A face nobody matched, in a deferring run: kept to be decided once every image is seen
        (tasks/unknown_faces.py); the image is Unidentified until then."""
        assert face.embedding is not None
        if founds and self.crops is not None:
            self.crops.put(work.image.ref, index, work.crop(face))
        self.ctx.state.unknown.add(work.image.ref, index, founding=founds, embedding=face.embedding, score=score)
        best = face.best
        return FaceReport(index, face, FaceStatus.UNMATCHED,
                          "nobody known yet: " + ("may found a new person" if founds else "may join a person")
                          + ", decided once every image of the run is seen",
                          similarity=best.similarity if best else None)

    def _refused(self, work: _Work, subject: str) -> bool:
        return refusals(self.ctx, self.directory, work.image.ref)(subject)

    @staticmethod
    def _rejected(index: int, face: Face, subject: str, similarity: float | None) -> FaceReport:
        return FaceReport(index, face, FaceStatus.UNMATCHED, f"{subject} was rejected for this image",
                          similarity=similarity)

    def _known(self, work: _Work, index: int, face: Face, subject: str, similarity: float | None, *,
               high_quality: bool, score: float = 0.0) -> FaceReport:
        """A face of a known subject: its performer, and the face learned when the policy learns (a deferring
        run keeps it as a lesson, learned once every image is seen: tasks/unknown_faces.py)."""
        report = self._matched(work, index, face, subject, similarity)
        if self.policy.learn and self.policy.defer and self.crops is not None:
            if high_quality:
                self.crops.offer(subject, work.face(face, index), index, score=score)
        elif self.policy.learn:
            learned = self.enrolment.learn(subject, work.face(face, index), why=f"the face in image {work.image.id}",
                                           high_quality=high_quality)
            if learned.reason:
                self.ctx.debug(f"did not add an example to {subject}: {learned.reason}")
        return report

    def _matched(self, work: _Work, index: int, face: Face, subject: str, similarity: float | None) -> FaceReport:
        directory = self.directory
        performer_id = directory.for_subject(subject)
        status = FaceStatus.MATCHED
        if performer_id is not None:
            directory.finish_pending(subject, performer_id)
        elif self.policy.create == "immediate":
            performer_id, status = self._counted(directory.promote(subject, work.crop(face),
                                                                   matching.stash_gender(face.gender),
                                                                   name=self.policy.performer_name),
                                                 FaceStatus.SUBJECT_WITHOUT_PERFORMER)
        elif self.policy.track_sightings:
            performer_id, status = self._counted(self._sighting(work, face, subject), FaceStatus.CANDIDATE)
        else:
            status = FaceStatus.SUBJECT_WITHOUT_PERFORMER
        return FaceReport(index, face, status, subject=subject, similarity=similarity,
                          performer_id=performer_id, performer_name=directory.name_of(performer_id))

    def _counted(self, promotion: Promotion, waiting: FaceStatus) -> tuple[str | None, FaceStatus]:
        """The performer of a promotion and the face's status (``waiting`` while it has none yet); counts a
        performer this call created."""
        if promotion.created:
            self.tally.add(created_performers=1)
            return promotion.performer_id, FaceStatus.PERFORMER_CREATED
        return promotion.performer_id, waiting if promotion.performer_id is None else FaceStatus.MATCHED

    def _sighting(self, work: _Work, face: Face, subject: str) -> Promotion:
        """A candidate seen in this image: promoted once seen enough, or (a deferring run) at the run's end."""
        if self.policy.defer:
            self.directory.sight(subject, work.image.ref)
            return Promotion(None, created=False)
        return self.directory.sighting(subject, work.image.ref, work.crop(face), matching.stash_gender(face.gender))

    def face_crop(self, image: Image, index: int) -> FaceCrop:
        """Face ``index`` of the image (numbered as :meth:`analyse` numbers them), to enrol."""
        prepared = self.load(image)
        faces = self.detect(prepared)
        if not 0 <= index < len(faces):
            raise FaceIndexOutOfRange(f"faceIndex {index} is out of range: {image.label} has {len(faces)} face(s)",
                                      faces=len(faces))
        return _Work(image, prepared).face(faces[index], index)

    def _new_subject(self, work: _Work, index: int, face: Face) -> FaceReport:
        """A high-quality face nobody matched becomes a subject (maybe found made meanwhile), then a
        candidate's sighting or, when the policy creates at once, a performer."""
        immediate = self.policy.create == "immediate"
        enrolled = self.enrolment.new_subject(work.face(face, index), named_after=work.image.id,
                                              why=f"face {index} of {work.image.label} as its first example",
                                              refused=lambda subject: self._refused(work, subject),
                                              someone_new=immediate)
        name = enrolled.subject
        if enrolled.outcome is Outcome.KNOWN:
            return self._known(work, index, face, name, enrolled.similarity, high_quality=True)
        if enrolled.outcome is Outcome.REFUSED:
            return self._rejected(index, face, name, enrolled.similarity)
        if enrolled.outcome is Outcome.FAILED:
            return FaceReport(index, face, FaceStatus.UNMATCHED, enrolled.reason)
        crop, gender = work.crop(face), matching.stash_gender(face.gender)
        if immediate:
            promotion = self.directory.promote(name, crop, gender, name=self.policy.performer_name)
        else:
            promotion = self._sighting(work, face, name)
        performer_id, status = self._counted(promotion, FaceStatus.NEW_CANDIDATE)
        return FaceReport(index, face, status, subject=name, similarity=None, performer_id=performer_id,
                          performer_name=self.directory.name_of(performer_id))


def describe_faces(report: ImageReport) -> str:
    parts = []
    for face in report.faces:
        who = face.subject or "unknown"
        if face.performer_id:
            who = f"{face.performer_name or face.subject} (performer {face.performer_id})"
        parts.append(f"#{face.index} {face.status}: {who}" + (f" [{face.reason}]" if face.reason else ""))
    return "; ".join(parts) if parts else "no faces"


def recognize_and_record(ctx: TaskContext, recognizer: ImageRecognizer, image: Image, *,
                         only_index: int | None = None) -> ImageReport:
    """Recognize the image, then write its outcome in one go; failures are the item runner's business."""
    report = recognizer.analyse(image, only_index=only_index)
    linked = ctx.writes.record_outcome(ItemKind.IMAGE, image, failed=False, performers=report.performer_ids,
                                       unidentified=report.unidentified)
    if not recognizer.policy.defer:  # a deferring run promotes only at its end, linking every sighting then
        _join_promotions(ctx, image, report)
    recognizer.tally.add(processed=1, matched=int(bool(report.performer_ids)), linked=linked)
    ctx.debug(f"{image.label}: {describe_faces(report)}")
    return report


def _join_promotions(ctx: TaskContext, image: Image, report: ImageReport) -> None:
    """A candidate of this image that another worker promoted while it was analysed: that worker's link of
    the candidate's items may have come before this image's own outcome (which, seeing only a candidate,
    said Unidentified), so link it again now. Either way round the image ends linked and not Unidentified."""
    for face in report.faces:
        if face.performer_id is None and face.subject and face.status in (FaceStatus.CANDIDATE,
                                                                           FaceStatus.NEW_CANDIDATE):
            performer_id = ctx.state.promotions.promoted_to(face.subject)
            if performer_id is not None and performer_id not in report.performer_ids:
                ctx.writes.link_performer([image.id], performer_id, face.subject)


def mark_image_failed(ctx: TaskContext, image: Image) -> None:
    ctx.writes.record_outcome(ItemKind.IMAGE, image, failed=True)


def run_images(ctx: TaskContext, args: TaskArgs, *, selection: Selection, policy: Policy,
               title: str) -> dict[str, Any]:
    """A batch image mode: every selected image recognized and recorded through the item runner."""
    tally = Tally()
    # who the unknown are: at the end
    policy = dataclasses.replace(policy, defer=policy.track_sightings, spare_small_faces=True)
    with unknown_faces.face_crops() as crops:
        recognizer = ImageRecognizer(ctx, policy, tally, crops=crops)
        recognizer.directory.complete_pending()
        pages = item_pages(ctx, ItemKind.IMAGE, selection, args.limit)
        run_items(ctx, pages, lambda image: recognize_and_record(ctx, recognizer, image), title=title,
                  noun="image", label=lambda image: image.label,
                  mark_failed=lambda image: mark_image_failed(ctx, image), tally=tally)
        if policy.defer:
            unknown_faces.decide(ctx, recognizer, crops)
    return {"mode": args.mode, **tally.as_dict()}


# -- single-image modes (identifyImage, createPerformerFromImage) -----------------------------------


def analyse_one(ctx: TaskContext, image: Image, policy: Policy, *, write: bool,
                only_index: int | None = None) -> ImageReport:
    """One image through the item runner's failure handling; written (and tagged) when ``write``."""
    recognizer = ImageRecognizer(ctx, policy, Tally())

    def work(item: Image) -> ImageReport:
        if write:
            return recognize_and_record(ctx, recognizer, item, only_index=only_index)
        return recognizer.analyse(item, only_index=only_index)

    return run_one(ctx, image, work, label=lambda item: item.label,
                   mark_failed=(lambda item: mark_image_failed(ctx, item)) if write else (lambda item: None))


def face_of(ctx: TaskContext, image: Image, index: int) -> FaceCrop:
    """Face ``index`` of the image (numbered as identifyImage numbers them), to enrol."""
    recognizer = ImageRecognizer(ctx, policy_for(ctx, relaxed=True, create="never", learn=False,
                                                 track_sightings=False), Tally())
    return recognizer.face_crop(image, index)


def _legacy_face(image_id: str, face: dict[str, Any]) -> dict[str, Any]:
    """One entry of the original plugin's ``result`` list, which its companion UI reads."""
    performer = face["performer"] or {}
    legacy_performer = {"name": performer.get("name") or face["subject"]}
    if performer.get("id"):
        legacy_performer["id"] = performer["id"]
    return {"image_id": image_id, "bounding_box": face["box"], "performer": legacy_performer,
            "confidence": round((face["similarity"] or 0) * 100, 2)}


def identify_output(report: ImageReport) -> dict[str, Any]:
    """Every face, so a UI can draw boxes; ``result`` keeps the original plugin's shape for its UI."""
    faces = [f.as_dict() for f in report.faces]
    shown = [f for f, r in zip(faces, report.faces, strict=True)
             if r.status not in (FaceStatus.SKIPPED, FaceStatus.NOT_SELECTED)]
    legacy = [_legacy_face(report.image.id, f) for f in shown]
    output: dict[str, Any] = {"imageId": report.image.id, "faces": faces, "result": legacy or None}
    if report.frame is not None:  # boxes are in this picture's pixels: a UI scales them to what it shows
        output["frame"] = {"width": report.frame[0], "height": report.frame[1]}
    return output
