"""The built-in face engine as a ``FaceService``: the tasks cannot tell it from CompreFace.

Images are decoded by ``imaging`` (EXIF orientation, the process-wide pixel budget), faces are found and
embedded by a ``FaceModel`` backend, and subjects live in the ``SubjectStore`` (``faces.sqlite3`` in the
state folder). Nothing leaves the machine.

Where CompreFace's behaviour is part of the contract, it is kept:

* boxes are in the pixels of the image that was sent; ``recognize`` gives each face its best subjects,
  one entry per subject, best first, and ``[]`` when there is no face;
* the similarity is on CompreFace's scale (``faces.calibration``: SFace cosine 0.50 -> 0.81, the default
  ``minSimilarity``), so every threshold setting means the same with either engine;
* ``add_example`` wants exactly one face: more than one raises ``TooManyFaces`` (the tasks then retry with
  a tighter crop), none raises ``NoFaceFound`` ("this face cannot become an example": the item goes on);
* a missing subject or example raises ``SubjectNotFound`` / ``ExampleNotFound``.

Its errors are the engine-neutral ones of ``faceservice``; none is worth another try (nothing here fails
for a moment, as a server can), and an image the models cannot process is a plain ``ServiceError``
that fails the item.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import Future, wait
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .. import imaging
from ..errors import MediaError, PluginError, ServiceError, Stopped
from ..faces.calibration import calibrated_similarity
from ..faces.models import Box, Face, SubjectMatch
from ..faceservice import ExampleRef, FaceRejected, NoFaceFound, TooManyFaces
from . import FACES_FILE, NAME
from .store import SERVICE, SubjectStore, Warn

if TYPE_CHECKING:
    from .backend import FaceModel

# Decoded at most this size (the tasks send at most imaging.DETECT_MAX_SIDE, so their boxes need no
# scaling); detection works on smaller copies anyway, embeddings gain nothing from more pixels.
DECODE_MAX_SIDE = 2560
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # nothing is uploaded: only the decode budget limits an image
EXAMPLE_MIN_SCORE = 0.7  # a face counts towards "exactly one face" from this detection score on
CROP_PAD = 0.25  # margin kept around a stored example's face, so it can be detected again (export)
CROP_SIDE = 160  # longest side of a stored example's crop (the face itself then spans ~110 px)
CROP_QUALITY = 90


class BuiltinFaceService:
    """Face detection, recognition and the subject store on this machine.

    ``state_dir`` None keeps the store in memory (tests); ``backend`` None loads ``backend_name`` on first
    use (``engine.backend.load_backend``); ``stop`` makes calls raise ``Stopped`` once set; ``read_only`` (a
    dry run) opens the store as an in-memory copy of its file.
    """

    name = NAME

    def __init__(self, state_dir: Path | None, *, backend: FaceModel | None = None, backend_name: str = "auto",
                 stop: threading.Event | None = None, warn: Warn | None = None, read_only: bool = False) -> None:
        self.path = state_dir / FACES_FILE if state_dir is not None else None
        self._backend = backend
        self._backend_name = backend_name
        self._stop = stop
        self._warn = warn
        self._read_only = read_only
        self._store: SubjectStore | None = None
        self._load: Future[FaceModel] | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def max_upload_bytes(self) -> int:
        return MAX_UPLOAD_BYTES

    @property
    def model(self) -> FaceModel:
        """The backend, loaded once per process; waits for a load ``check`` started."""
        return self._loading().result()

    def _loading(self) -> Future[FaceModel]:
        with self._lock:
            if self._load is None:
                self._load = Future()
                if self._backend is not None:
                    self._load.set_result(self._backend)
                else:
                    # Not a daemon: a process that ends while OpenCV or ncnn is still loading in C++ aborts
                    # ("terminate called without an active exception"), so the interpreter waits for it.
                    threading.Thread(target=self._load_backend, args=(self._load,), name="face-models").start()
            return self._load

    def _load_backend(self, future: Future[FaceModel]) -> None:
        from .backend import load_backend

        try:
            future.set_result(load_backend(self._backend_name))
        except BaseException as exc:  # handed to whoever waits for the models
            future.set_exception(exc)

    @property
    def store(self) -> SubjectStore:
        with self._lock:
            if self._store is None:
                self._store = SubjectStore(self.path, warn=self._warn, read_only=self._read_only)
            return self._store

    def check(self) -> None:
        """Open the store now (an unusable file stops the run: the store's ``FatalError``) and start loading
        the models in the background, so the load (~0.5 s: OpenCV's import and SFace) overlaps the first
        item's Stash calls and download: a look at one image from the UI is its own process and pays it
        every time. A missing package or model file raises its ``SettingError`` naming ``faceEngine`` at the
        first use of the models, which stops the run there."""
        self._loading()
        _ = self.store

    def close(self) -> None:
        """Close the store and wait for a model load still under way (see ``_loading``)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            load = self._load
        if load is not None:
            wait([load])

    # -- faces -----------------------------------------------------------------------------------------

    def detect(self, image: bytes, *, min_probability: float, embeddings: bool = False) -> list[Face]:
        """Faces without recognition, largest first; ``[]`` when there is none. ``embeddings`` embeds each
        face (the costly part), for grouping the faces of a scene before recognizing the best ones."""
        picture, rgb, scale = self._decode(image)
        del picture
        found = self._detect(rgb, min_probability)
        if not embeddings:
            return [self._sent(face, scale) for face in found]
        return [self._sent(face, scale, embedding=tuple(float(v) for v in vector))
                for face, vector in zip(found, self._embed(rgb, found), strict=True)]

    def recognize_embeddings(self, embeddings: list[list[float]], *, candidates: int = 5) -> list[Face]:
        """Each vector's best subjects, in order, as ``recognize`` would give them (no box: zero)."""
        if not embeddings:
            return []
        vectors = np.asarray(embeddings, dtype=np.float32)
        hits = self.store.search_many(vectors, self.model.model_id, limit=max(1, candidates))
        empty = Box(0, 0, 0, 0)
        return [Face(box=empty, probability=1.0, embedding=tuple(float(v) for v in vector),
                     matches=tuple(SubjectMatch(h.subject, calibrated_similarity(h.cosine)) for h in found))
                for vector, found in zip(embeddings, hits, strict=True)]

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5,
                  embeddings: bool = False, min_face_px: int = 0) -> list[Face]:
        """Every face, largest first, each with its ``candidates`` best subjects (best example each) and its
        embedding (computed anyway, so ``embeddings`` changes nothing here). Faces under ``min_face_px`` in
        the image sent are not searched for on a larger copy (they may still be found on the first)."""
        _, rgb, scale = self._decode(image)
        faces = self._detect(rgb, min_probability, min_face_px=round(min_face_px / scale))
        if not faces:
            return []
        model = self.model
        vectors = self._embed(rgb, faces)
        hits = self.store.search_many(vectors, model.model_id, limit=max(1, candidates))
        return [self._sent(face, scale, tuple(SubjectMatch(h.subject, calibrated_similarity(h.cosine)) for h in found),
                           tuple(float(v) for v in vector))
                for face, found, vector in zip(faces, hits, vectors, strict=True)]

    # -- subjects and examples -------------------------------------------------------------------------

    def add_example(self, subject: str, image: bytes, *, source: str = "", quality: float | None = None) -> str:
        """Store the one face of ``image`` as an example of ``subject`` (created if missing); its id.

        ``source`` is free text saying where the face came from (e.g. ``image 12``); ``quality`` is the
        caller's quality score of the face (default: the detection score).
        """
        if not subject.strip():
            raise FaceRejected(f"{NAME} needs a subject name for an example", service=SERVICE)
        picture, rgb, scale = self._decode(image)
        found = self._detect(rgb, 0.0)
        strong = [face for face in found if face.probability >= EXAMPLE_MIN_SCORE]
        if len(strong) > 1:
            raise TooManyFaces(f"{NAME} found {len(strong)} faces in the example image; an example needs exactly "
                               "one", service=SERVICE)
        if not strong:
            raise NoFaceFound(f"{NAME} found no face in the example image", service=SERVICE)
        face = strong[0]
        vector = self._embed(rgb, [face])[0]
        crop = imaging.crop(picture, face.box, pad=CROP_PAD)
        crop.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS)
        return self.store.add_example(subject, self.model.model_id, vector, source=source,
                                      box=face.box.scaled(scale),
                                      quality=face.probability if quality is None else quality,
                                      crop=imaging.encode_jpeg(crop, CROP_QUALITY))

    def list_subjects(self) -> list[str]:
        return self.store.subjects()

    def count_examples(self, subject: str) -> int:
        """Examples the current model can compare (another model's vectors are never used)."""
        return self.store.count_examples(subject, self.model.model_id)

    def delete_subject(self, subject: str) -> None:
        self.store.delete_subject(subject)

    def delete_example(self, example_id: str) -> None:
        self.store.delete_example(example_id)

    def list_examples(self, subject: str) -> list[ExampleRef]:
        return [ExampleRef(e.id, e.subject) for e in self.store.examples(subject)]

    def example_image(self, example_id: str) -> bytes:
        """The example's face crop (JPEG, ~160 px, the face with a margin), as stored when it was added."""
        crop = self.store.crop(example_id)
        if crop is None:
            raise MediaError(f"the example {example_id} has no stored image")
        return crop

    # -- internals -------------------------------------------------------------------------------------

    def _decode(self, data: bytes) -> tuple[Image.Image, np.ndarray, float]:
        """Upright RGB (as PIL and numpy) and the factor from its pixels to those of the image sent."""
        self._check_stop()
        picture = imaging.decode_rgb(data, max_side=DECODE_MAX_SIDE)
        scale = 1.0
        if max(picture.size) >= DECODE_MAX_SIDE:
            # Shrunk: boxes must come back in the sender's pixels. A quarter turn keeps the longest side.
            with Image.open(io.BytesIO(data)) as original:
                scale = max(original.size) / max(picture.size)
        return picture, np.asarray(picture, dtype=np.uint8), scale

    def _detect(self, rgb: np.ndarray, min_probability: float, *, min_face_px: int = 0) -> list[Face]:
        """The faces in ``rgb``'s pixels, largest first."""
        self._check_stop()
        try:
            found = self.model.detect(rgb, min_face_px=min_face_px)
        except PluginError:
            raise
        except Exception as exc:  # an engine failure on this image: the item fails, the run goes on
            raise ServiceError(f"{NAME} could not process the image: {exc}", service=SERVICE,
                               retryable=False) from exc
        return sorted((d for d in found if d.probability >= min_probability),
                      key=lambda d: (-d.box.area, d.box.y_min, d.box.x_min))

    def _embed(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        """Every face of one picture in one batch (rows in the order of ``faces``)."""
        self._check_stop()
        try:
            return self.model.embed_many(rgb, faces)
        except PluginError:
            raise
        except Exception as exc:
            raise ServiceError(f"{NAME} could not read a face: {exc}", service=SERVICE,
                               retryable=False) from exc

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped()

    @staticmethod
    def _sent(face: Face, scale: float, matches: tuple[SubjectMatch, ...] = (),
              embedding: tuple[float, ...] | None = None) -> Face:
        """``face`` (in the decoded pixels) in the pixels of the image that was sent, with its matches."""
        landmarks = tuple((x * scale, y * scale) for x, y in face.landmarks)
        return Face(box=face.box.scaled(scale) if scale != 1.0 else face.box,
                    probability=face.probability, matches=matches, landmarks=landmarks, embedding=embedding)
