"""The face-service interface the tasks talk to, and the errors it raises.

CompreFace (``compreface.client``) and the built-in engine (``engine.service``) implement it, so tasks
never import a concrete engine and never see an engine's own error codes: each engine raises the classes
below, mapped once where it raises them (CompreFace: the code table in ``compreface.codes``). They
extend the root tree in ``errors``, which is what the item runner understands::

    ServiceError (errors)         the service answered, but not usefully; ``retryable``: worth another try
    └── FaceServiceError          the engine refused this one request; the message names the engine
        ├── NoFaceFound           an example image holds no face (detection answers ``[]`` instead)
        ├── TooManyFaces          an example image holds more than one face: a tighter crop may do
        ├── FaceRejected          the engine will not take what was sent (image format, subject name)
        ├── SubjectNotFound       no such subject
        ├── SubjectExists         the subject exists already
        └── ExampleNotFound       no such example

Retryability is explicit: the engine says it where it raises (CompreFace: its 5xx answers, the core
failing, are worth another try; its 4xx refusals are not; the built-in engine's refusals never are).
A bare ``FaceServiceError`` is a refusal no class covers (an undocumented code, a migration running).
Failures below the engine keep the root classes: ``ServiceUnavailable`` (unreachable, breaker open),
``AuthError`` (a refused key), a plain ``ServiceError`` (timeout, 5xx without a code, a proxy's page, an
image the built-in engine could not process) and ``ProtocolError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import ServiceError
from .faces.models import Face


class FaceServiceError(ServiceError):
    """A face engine refused this one request; tag the item Error (or skip the face) and go on, unless
    ``retryable`` (default: not)."""

    def __init__(self, message: str, *, service: str, status: int | None = None, code: int | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message, service=service, status=status, code=code, retryable=retryable)


class NoFaceFound(FaceServiceError):
    """An image that must hold a face (an example) holds none; recognition and detection return ``[]``."""


class TooManyFaces(FaceServiceError):
    """An example must hold exactly one face; a tighter crop of the same face may pass."""


class FaceRejected(FaceServiceError):
    """The engine will not take what was sent: an image format it refuses, a subject name it forbids."""


class SubjectNotFound(FaceServiceError):
    """No subject of that name."""


class SubjectExists(FaceServiceError):
    """A subject of that name exists already."""


class ExampleNotFound(FaceServiceError):
    """No example of that id."""


@dataclass(frozen=True)
class ExampleRef:
    """One stored example of a subject (CompreFace's ``image_id``, or the built-in store's example id)."""

    id: str
    subject: str


class FaceService(Protocol):
    @property
    def name(self) -> str:
        """The engine as a message names it ("CompreFace", "the built-in engine")."""
        ...

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload the service accepts."""
        ...

    def check(self) -> None:
        """Fail fast, naming the setting to fix, when the service is unreachable or refuses the key."""
        ...

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5,
                  embeddings: bool = False, min_face_px: int = 0) -> list[Face]:
        """Every face in the image, largest first, each with its best subjects (one entry per subject);
        ``embeddings`` asks for each face's vector too (grouping faces across the frames of a scene).
        ``min_face_px``: faces narrower than this (px of the image sent) will not be used, so an engine may
        spare the search for them (the built-in engine's small-face pass); others may still return them."""
        ...

    def detect(self, image: bytes, *, min_probability: float, embeddings: bool = False) -> list[Face]:
        """Faces without recognition; ``[]`` when there is none. ``embeddings`` asks for each face's vector,
        so the faces of a scene can be grouped first and only each group's best faces recognized."""
        ...

    def recognize_embeddings(self, embeddings: list[list[float]], *, candidates: int = 5) -> list[Face]:
        """The best subjects of each vector (as returned by ``detect(..., embeddings=True)``), in order:
        recognition without sending the picture again. The faces carry no box."""
        ...

    def add_example(self, subject: str, image: bytes) -> str:
        """Add a one-face image as an example of ``subject`` (created if missing); returns the example id."""
        ...

    def list_subjects(self) -> list[str]: ...

    def count_examples(self, subject: str) -> int: ...

    def delete_subject(self, subject: str) -> None: ...

    def delete_example(self, example_id: str) -> None: ...

    def list_examples(self, subject: str) -> list[ExampleRef]:
        """Every example of ``subject`` (``[]`` for an unknown subject), to move examples between engines."""
        ...

    def example_image(self, example_id: str) -> bytes:
        """The stored image of one example (CompreFace: the uploaded file; built-in: its face crop)."""
        ...
