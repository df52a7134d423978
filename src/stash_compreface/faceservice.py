"""The face-service interface the tasks talk to.

CompreFace is the first implementation (``compreface.client``); a built-in engine with a local subject
store can implement the same methods, so tasks never import a concrete client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .faces.models import Face


@dataclass(frozen=True)
class ExampleRef:
    """One stored example of a subject (CompreFace's ``image_id``, or the built-in store's example id)."""

    id: str
    subject: str


class FaceService(Protocol):
    @property
    def max_upload_bytes(self) -> int:
        """The largest upload the service accepts."""
        ...

    def check(self) -> None:
        """Fail fast, naming the setting to fix, when the service is unreachable or refuses the key."""
        ...

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5,
                  embeddings: bool = False) -> list[Face]:
        """Every face in the image, largest first, each with its best subjects (one entry per subject);
        ``embeddings`` asks for each face's vector too (grouping faces across the frames of a scene)."""
        ...

    def detect(self, image: bytes, *, min_probability: float, embeddings: bool = False) -> list[Face]:
        """Faces without recognition; ``[]`` when there is none. ``embeddings`` asks for each face's vector,
        so the faces of a scene can be grouped first and only each group's best faces recognised."""
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
