"""Enrolment: a face becomes an example of a subject, or a new subject. One place for every mode.

synchronizePerformers (a profile image), the image modes (a matched face learned, an unmatched one made a
new subject; createPerformerFromImage among them), the scene modes (an unknown person made a candidate)
and confirmMatch (a face the user gave to a performer) all enrol through one :class:`Enrolment`, built
once per run from the context, so these rules hold everywhere:

- **Crop fallbacks.** A face is sent with a margin (:class:`FaceCrop`), since detectors need one to find
  it again. When the engine finds a second face in it (``TooManyFaces``: a neighbour in the margin), the
  face is sent again cropped tight; when that fails too, it is given up with a reason that says so.
- **One learning gate.** A matched face is learned when it is of high quality and its subject has fewer
  than ``MAX_EXAMPLES_PER_SUBJECT`` examples (``faces.matching.should_learn``). High quality is the
  subject gate, the one a face must pass to start a subject, since a later example weighs as much as a
  first one; a face the user confirmed counts as passing it (the user chose it). The count is read from
  the face service once per run and subject, then kept here.
- **One face per item per subject.** An example taken from an item (an image or a scene) is claimed in
  the state before it is sent (``state.learned.claim``), a new
  subject's first example included, so a subject never holds two faces of one image or scene, however
  often it is looked at again (a kill between the claim and the upload costs an example, never adds two).
- **No duplicates, and the user's word is final.** A new subject is made under one lock per run, just
  after the face is recognized once more: another worker, or another run, may have made this person a
  subject a moment ago. That search skips the subjects the user refused for the item (rejectMatch); a
  face that resembles refused subjects only makes no new subject either, unless the user asked for one
  (createPerformerFromImage), so a refusal never turns into a second subject of the same person. A
  retired subject (its performer deleted by the user) found there is that person: no second subject is
  made of them, and the performer directory never makes the retired one a performer again.

Also here: the small face a page shows for a person or a candidate (:func:`face_thumbnail`).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image

from .. import imaging
from ..faces.matching import best_match, order_faces, should_learn
from ..faces.models import Box
from ..faces.naming import subject_name
from ..faceservice import FaceServiceError, TooManyFaces
from ..stash.models import ItemRef
from .context import TaskContext
from .runner import Tally

# The face was found once already: any detection of it will do to recognize it again or crop it tight.
RECHECK_MIN_PROBABILITY = 0.5
THUMBNAIL_SIDE = 96  # pixels: the face a page shows, small because it travels inside the JSON answer

Refused = Callable[[str], bool]


def _never(_subject: str) -> bool:
    return False


@dataclass(frozen=True)
class FaceCrop:
    """A face to enrol: what it is (for logs and the journal's ``why``), where it is from (``item``: an
    image or a scene; None for a performer's profile image), the crop with a margin, and how to
    cut it tight from the picture it came from. Without ``tight`` the tight crop is cut from the margin
    crop itself, around the largest face the engine finds in it."""

    what: str
    padded: bytes
    item: ItemRef | None = None
    tight: Callable[[], bytes] | None = None

    @classmethod
    def cut(cls, what: str, picture: Image.Image, box: Box, *, item: ItemRef | None = None) -> FaceCrop:
        """The face at ``box`` of a decoded picture: the margin crop now, the tight one only if needed."""
        return cls(what, imaging.encode_jpeg(imaging.crop(picture, box)), item,
                   lambda: imaging.encode_jpeg(imaging.crop(picture, box, pad=0.0)))


class Outcome(StrEnum):
    """What came of a face offered as a new subject."""

    KNOWN = "known"  # the search just before creating found the person: ``subject`` is theirs
    REFUSED = "refused"  # it found only a subject the user refused for the item: no new subject
    CREATED = "created"  # a new subject, this face its first example (in a dry run, none is added)
    FAILED = "failed"  # the engine would not take the face: ``reason``


@dataclass(frozen=True)
class NewSubject:
    outcome: Outcome
    subject: str  # the person's subject (KNOWN), the refused one (REFUSED), the new one (CREATED, FAILED)
    similarity: float | None = None  # KNOWN and REFUSED: how much the face resembles ``subject``
    reason: str = ""  # FAILED: why, in words for the log


@dataclass(frozen=True)
class Learned:
    """A face offered as an example: the new example's id, or None and why not (a dry run: no reason);
    ``refused`` when it was the engine that would not take it (the gate let it through)."""

    example_id: str | None
    reason: str = ""
    refused: bool = False


class Enrolment:
    """Built once per run and shared by its workers: the lock that makes one subject per person and the
    examples counted per subject are the run's."""

    def __init__(self, ctx: TaskContext, tally: Tally | None = None) -> None:
        self.ctx = ctx
        self.tally = tally or Tally()
        self._create_lock = threading.Lock()  # items run concurrently: one new subject per person, not two
        self._counts: dict[str, int] = {}  # examples per subject, read once per run, then counted here
        self._counts_lock = threading.Lock()

    # -- an example ------------------------------------------------------------------------------

    def add_example(self, subject: str, face: FaceCrop, *, why: str, new_subject: bool = False) -> str | None:
        """The face as an example of ``subject``: with its margin, else cropped tight; the example's id
        (None in a dry run). Raises FaceServiceError when the engine takes neither crop (TooManyFaces
        saying so when each held another face)."""
        writes = self.ctx.writes
        try:
            return writes.add_example(subject, face.padded, why=why, item=face.item, new_subject=new_subject)
        except TooManyFaces as exc:
            crowded = exc
        tight = face.tight() if face.tight is not None else self._tight(face.padded)
        if tight is None:
            raise _crowded(f"{face.what} holds another face in its margin, and no face was found to crop tight: "
                           f"not used ({crowded})", crowded) from crowded
        try:
            return writes.add_example(subject, tight, why=why, item=face.item, new_subject=new_subject)
        except TooManyFaces as exc:
            raise _crowded(f"{face.what} holds another face even cropped tight: not used ({exc})", exc) from exc

    def _tight(self, padded: bytes) -> bytes | None:
        """The largest face the engine finds in a margin crop, cut without margin; None when it finds none."""
        faces = order_faces(self.ctx.face_service.detect(padded, min_probability=RECHECK_MIN_PROBABILITY))
        if not faces:
            return None
        picture = imaging.decode_rgb(padded)
        box = faces[0].box.clamped(picture.width, picture.height)
        return imaging.encode_jpeg(imaging.crop(picture, box, pad=0.0))

    # -- learning a matched face -----------------------------------------------------------------

    def learn(self, subject: str, face: FaceCrop, *, why: str, high_quality: bool) -> Learned:
        """A face of ``subject`` as one more of its examples, through the learning gate (module docstring);
        the engine's refusal is a reason, not an error: the match stands whether or not it is learned (and
        the item stays claimed: the same face would be refused again)."""
        count, reason = self._gate(subject, face.item, high_quality)
        if reason:
            return Learned(None, reason)
        try:
            example_id = self.add_example(subject, face, why=why, new_subject=count == 0)
        except FaceServiceError as exc:
            with self._counts_lock:
                self._counts[subject] -= 1
            return Learned(None, f"{self.ctx.face_service.name} would not take the face: {exc}", refused=True)
        if example_id is not None:
            self.tally.add(learned=1)
        return Learned(example_id)

    def _gate(self, subject: str, item: ItemRef | None, high_quality: bool) -> tuple[int, str]:
        """The subject's examples before this one, and why the face is not learned ("" when it is: the
        example is then counted and the item claimed)."""
        if not high_quality:
            return 0, "not a high-quality face"
        with self._counts_lock:
            count = self._counts.get(subject)
            if count is None:
                count = self._counts[subject] = self.ctx.face_service.count_examples(subject)
            if not should_learn(count, high_quality=high_quality):
                return count, f"{subject} has {count} examples, as many as a subject learns"
            if item is not None and not self.ctx.state.learned.claim(subject, item):
                return count, f"{subject} already holds a face of this item"
            self._counts[subject] = count + 1
        return count, ""

    # -- a new subject ---------------------------------------------------------------------------

    def new_subject(self, face: FaceCrop, *, named_after: str, why: str, refused: Refused = _never,
                    someone_new: bool = False) -> NewSubject:
        """Make the face, which matched nobody, a new subject (``Person <named_after> <suffix>``), a
        candidate until a performer is made of it; unless the face is recognized once more just before,
        as a subject made meanwhile (KNOWN) or as refused subjects only (REFUSED; ``someone_new``: the user
        said this face is someone new, so a refused look-alike does not stop it)."""
        with self._create_lock:
            found = self._recheck(face.padded, refused, someone_new)
            if found is not None:
                return found
            return self.found(face, named_after=named_after, why=why)

    def found(self, face: FaceCrop, *, named_after: str, why: str) -> NewSubject:
        """Make the face a new subject without looking for the person first: the caller just did, with nothing
        else creating subjects meanwhile (a batch run's end: tasks/unknown_faces.py)."""
        ctx = self.ctx
        name = subject_name(named_after, ctx.suffix())
        ctx.state.candidates.add(name)  # first: a kill before the upload leaves no subject nobody knows
        if face.item is not None:
            ctx.state.learned.claim(name, face.item)
        try:
            example_id = self.add_example(name, face, why=why, new_subject=True)
        except FaceServiceError as exc:
            return NewSubject(Outcome.FAILED, name, reason=f"{ctx.face_service.name} would not take the face: {exc}")
        if example_id is not None:
            with self._counts_lock:
                self._counts[name] = 1
            self.tally.add(created_subjects=1)
        return NewSubject(Outcome.CREATED, name)

    def _recheck(self, crop: bytes, refused: Refused, someone_new: bool) -> NewSubject | None:
        faces = order_faces(self.ctx.face_service.recognize(crop, min_probability=RECHECK_MIN_PROBABILITY))
        if not faces:
            return None
        min_similarity = self.ctx.settings.min_similarity
        match = best_match(faces[0], min_similarity, refused=refused)
        if match is not None:
            return NewSubject(Outcome.KNOWN, match.subject, match.similarity)
        look_alike = None if someone_new else best_match(faces[0], min_similarity)
        if look_alike is not None:
            return NewSubject(Outcome.REFUSED, look_alike.subject, look_alike.similarity)
        return None


def _crowded(message: str, engine_said: TooManyFaces) -> TooManyFaces:
    """The engine's TooManyFaces, given up on: the same error, with what was tried in its message."""
    return TooManyFaces(message, service=engine_said.service or "", status=engine_said.status,
                        code=engine_said.code)


def face_thumbnail(jpeg: bytes) -> str:
    """The face a page shows for a person or a candidate: at most ``THUMBNAIL_SIDE`` px, a base64 JPEG for
    the JSON answer. Raises MediaError when the bytes are no picture."""
    image = imaging.decode_rgb(jpeg, max_side=512)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return base64.b64encode(imaging.encode_jpeg(image, quality=80)).decode("ascii")
