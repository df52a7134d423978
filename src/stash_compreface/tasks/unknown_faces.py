"""Who a batch run's unknown faces are, decided once every image of the run is seen (issue 18).

Who someone is must not depend on the order items happen to be processed in, nor on thread timing. Matching a
face against the people known when the run starts does not; founding a new person from whichever face comes
first does, and so does a degraded copy of a person seen before that person's first clean face (it matches
nobody yet, and may not found anyone: ``faces.quality``). So a batch image run (``image_recognizer.run_images``
with sightings) works in two phases:

1. every image is recognised as before, concurrently, against the people known when the run started: faces
   of known people are linked at once, and those they may learn are kept as lessons (their pictures in a
   temporary folder: :class:`FaceCrops`), each person's best ones only; a face nobody matched is kept in the
   state (``state.unknown``: its vector and whether it passed the founding gate; the picture of a founding
   face in the same folder), and its image is tagged Unidentified for now; a candidate's sighting is
   recorded and, once seen often enough, the candidate is due;
2. then, one after the other in a fixed order: each person learns their best kept faces (quality score, then
   image id), up to a subject's cap; each founding face (best quality score first, then image id and face
   number) is recognised again
   and joins the person it now matches (a subject founded a moment ago included) or founds a new subject,
   named after its image; every other unknown face is then recognised again (its vector: no download) and
   linked to whoever it now matches; last, every due candidate becomes a performer or joins the known
   performer it is as a group (``PerformerDirectory.promote_due``, in the order of each one's first item).

Nothing in phase 2 depends on which worker came first, so the same library ends with the same performers and
links in any order and at any ``maxConcurrency``, and each person learns the same faces. A run killed or
stopped before phase 2 leaves its unknown faces and due candidates in the state: the next batch run decides
them (a founding face's picture is then cut again from its image); its lessons are lost (the links stand, only
those examples are not added). Each face is forgotten only once its outcome is written.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FatalError, ItemError, MediaError, ServiceError, Stopped
from ..faces import matching
from ..faces.matching import MAX_EXAMPLES_PER_SUBJECT
from ..faces.models import Face
from ..stash.models import ItemKind, ItemRef
from .context import TaskContext
from .enrolment import FaceCrop, Outcome
from .performers import refusals
from .state.unknown import UnknownFace, item_order

if TYPE_CHECKING:
    from .image_recognizer import ImageRecognizer

RECOGNIZE_BATCH = 64  # vectors per recognition call in phase 2


@dataclass(frozen=True, order=True)
class Lesson:
    """A matched face a person may learn in phase 2; lessons sort best first (score, then image and face)."""

    rank: tuple[float, tuple[str, int, str], int]
    subject: str = field(compare=False)
    item: ItemRef = field(compare=False)
    face: int = field(compare=False)
    what: str = field(compare=False)


class FaceCrops:
    """The pictures of a run's founding faces and of the faces its people may learn (lessons), in a temporary
    folder (on disk, not in memory) until phase 2. A subject keeps its MAX_EXAMPLES_PER_SUBJECT best lessons:
    no more could be learned."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lessons: dict[str, list[Lesson]] = {}
        self._lock = threading.Lock()

    def offer(self, subject: str, crop: FaceCrop, face: int, *, score: float) -> None:
        """Face ``face`` of ``crop.item``, a matched high-quality face of ``subject``, kept if it is among the
        subject's best so far."""
        assert crop.item is not None, "a lesson comes from an item"
        lesson = Lesson((-score, item_order(crop.item), face), subject, crop.item, face, crop.what)
        with self._lock:
            kept = sorted([*self._lessons.get(subject, []), lesson])
            dropped, self._lessons[subject] = kept[MAX_EXAMPLES_PER_SUBJECT:], kept[:MAX_EXAMPLES_PER_SUBJECT]
            if lesson not in dropped:
                self.put(crop.item, face, crop.padded)
            for old in dropped:
                if old is not lesson:
                    self._path(old.item, old.face).unlink(missing_ok=True)

    def lessons(self) -> list[Lesson]:
        """Every kept lesson: subject by subject (by name), best first."""
        with self._lock:
            return [lesson for subject in sorted(self._lessons) for lesson in self._lessons[subject]]

    def _path(self, item: ItemRef, face: int) -> Path:
        return self._folder / f"{item.kind.value}-{item.id}-{face}.jpg"

    def put(self, item: ItemRef, face: int, jpeg: bytes) -> None:
        self._path(item, face).write_bytes(jpeg)

    def get(self, item: ItemRef, face: int) -> bytes | None:
        path = self._path(item, face)
        return path.read_bytes() if path.exists() else None


@contextmanager
def face_crops() -> Iterator[FaceCrops]:
    with tempfile.TemporaryDirectory(prefix="stash-compreface-faces-") as folder:
        yield FaceCrops(Path(folder))


def decide(ctx: TaskContext, recognizer: ImageRecognizer, crops: FaceCrops) -> None:
    """Phase 2 (module docstring): the lessons, the unknown faces left in the state, then the due candidates."""
    _teach(ctx, recognizer, crops)
    faces = ctx.state.unknown.faces()
    if faces:
        ctx.info(f"{len(faces)} face(s) nobody was known for: deciding who they are now that every image is seen")
    # The best face founds a person first (then image and face number): who founds whom does not depend on the
    # ids the library gave its images, and a person's first example is their sharpest, most frontal face.
    for face in sorted((f for f in faces if f.founding), key=lambda f: -f.score):
        ctx.check_stop()
        _settle(ctx, face, partial(_found, ctx, recognizer, crops, face))
    others = [f for f in faces if not f.founding]
    for start in range(0, len(others), RECOGNIZE_BATCH):
        ctx.check_stop()
        batch = others[start:start + RECOGNIZE_BATCH]
        found = ctx.face_service.recognize_embeddings([list(f.embedding) for f in batch])
        for face, recognised in zip(batch, found, strict=True):
            _settle(ctx, face, partial(_match, ctx, recognizer, face, recognised))
    created = recognizer.directory.promote_due()
    if created:
        recognizer.tally.add(created_performers=created)
    if recognizer.policy.create == "candidate":
        recognizer.directory.merge_split()


def _teach(ctx: TaskContext, recognizer: ImageRecognizer, crops: FaceCrops) -> None:
    """Each person learns their best kept faces, up to the subject's cap (``Enrolment.learn``'s gate)."""
    for lesson in crops.lessons():
        ctx.check_stop()
        jpeg = crops.get(lesson.item, lesson.face)
        if jpeg is None:
            continue
        learned = recognizer.enrolment.learn(lesson.subject, FaceCrop(lesson.what, jpeg, item=lesson.item),
                                             why=f"the face in image {lesson.item.id}", high_quality=True)
        if learned.reason:
            ctx.debug(f"did not add an example to {lesson.subject}: {learned.reason}")


def _settle(ctx: TaskContext, face: UnknownFace, decide_one: Callable[[], object]) -> None:
    """One face decided and forgotten; a service's passing fault leaves it for the next run; a face whose image
    is gone or unreadable is given up with a line naming it."""
    try:
        decide_one()
    except (FatalError, Stopped):
        raise
    except ServiceError as exc:
        if exc.retryable:
            ctx.warning(f"face {face.face} of {face.item}: {exc}; decided by the next run")
            return
        ctx.warning(f"face {face.face} of {face.item}: {exc}; it stays Unidentified")
    except ItemError as exc:
        ctx.warning(f"face {face.face} of {face.item}: {exc}; it stays Unidentified")
    ctx.state.unknown.done(face)


def _match(ctx: TaskContext, recognizer: ImageRecognizer, face: UnknownFace, recognised: Face) -> str | None:
    """Link the face's image to whoever the face matches now (a candidate: a sighting); the subject, if any."""
    refused = refusals(ctx, recognizer.directory, face.item)
    match = matching.best_match(recognised, ctx.settings.min_similarity, refused=refused)
    if match is None:
        return None
    _seen(ctx, recognizer, face.item, match.subject)
    return match.subject


def _seen(ctx: TaskContext, recognizer: ImageRecognizer, item: ItemRef, subject: str) -> None:
    directory = recognizer.directory
    performer_id = directory.for_subject(subject)
    if performer_id is None:
        directory.sight(subject, item)
    elif item.kind is ItemKind.IMAGE:
        ctx.writes.link_performer([item.id], performer_id, subject)


def _found(ctx: TaskContext, recognizer: ImageRecognizer, crops: FaceCrops, face: UnknownFace) -> None:
    """A founding face: the person it matches now (learned as one more example), else a new subject."""
    (recognised,) = ctx.face_service.recognize_embeddings([list(face.embedding)])
    if matching.best_match(recognised, ctx.settings.min_similarity) is not None:
        subject = _match(ctx, recognizer, face, recognised)
        if subject is not None and recognizer.policy.learn:
            learned = recognizer.enrolment.learn(subject, _crop(ctx, recognizer, crops, face),
                                                 why=f"the face in image {face.item.id}", high_quality=True)
            if learned.reason:
                ctx.debug(f"did not add an example to {subject}: {learned.reason}")
        return  # a face that resembles only subjects the user refused for this image founds nobody either
    enrolled = recognizer.enrolment.found(_crop(ctx, recognizer, crops, face), named_after=face.item.id,
                                          why=f"face {face.face} of image {face.item.id} as its first example")
    if enrolled.outcome is Outcome.FAILED:
        ctx.debug(f"face {face.face} of image {face.item.id}: not a new subject: {enrolled.reason}")
        return
    _seen(ctx, recognizer, face.item, enrolled.subject)


def _crop(ctx: TaskContext, recognizer: ImageRecognizer, crops: FaceCrops, face: UnknownFace) -> FaceCrop:
    """The founding face's picture: kept by this run, else (a killed run's face) cut again from its image."""
    jpeg = crops.get(face.item, face.face)
    what = f"face {face.face} of image {face.item.id}"
    if jpeg is not None:
        return FaceCrop(what, jpeg, item=face.item)
    image = ctx.stash.find_image(face.item.id)
    if image is None:
        raise MediaError(f"image {face.item.id} is no longer in Stash")
    return recognizer.face_crop(image, face.face)
