"""CompreFace's error codes (compreface-api.md §5.2) and the engine-neutral error each one raises.

This table alone decides which class an error answer raises: a ``faceservice`` error the tasks know
whatever the engine, or ``AuthError`` (naming the key setting) for the answers that mean "your API key
is wrong". 28, no face found, raises ``NoFaceFound``, which recognition and detection turn into ``[]``.
Whether an answer is worth another try is its HTTP status (5xx: CompreFace's own failure), not its
class. A test walks the table against the documented code list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import AuthError, PluginError, ServiceError
from ..faceservice import (
    ExampleNotFound,
    FaceRejected,
    FaceServiceError,
    NoFaceFound,
    SubjectExists,
    SubjectNotFound,
    TooManyFaces,
)

NO_FACE_FOUND = 28
# HTTP statuses that mean "refused credentials" whatever the body (a proxy in front of CompreFace may
# add its own auth).
AUTH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class Rule:
    """What one code raises. ``key_error_if`` (a regex on the message) narrows a shared code: when it
    matches, the answer is a key problem (``AuthError``) instead of ``error``."""

    error: type[PluginError]
    why: str
    key_error_if: re.Pattern[str] | None = None

    def error_for(self, message: str) -> type[PluginError]:
        if self.key_error_if is not None and self.key_error_if.search(message):
            return AuthError
        return self.error


CODES: dict[int, Rule] = {
    0: Rule(FaceServiceError, "undefined server error, e.g. an upload above the 5 MB file limit"),
    5: Rule(FaceServiceError, "a required JSON field is empty"),
    10: Rule(AuthError, "no service of this type has this API key (the message repeats the key)"),
    12: Rule(FaceServiceError, "unknown service type in the URL"),
    20: Rule(AuthError, "the x-api-key header is missing"),
    21: Rule(FaceRejected, "file extension not accepted, or not base64"),
    26: Rule(FaceServiceError, "request validation failed; a key error only when the key is not a UUID",
             key_error_if=re.compile(r"api key", re.IGNORECASE)),
    27: Rule(FaceServiceError, "a migration is already running"),
    NO_FACE_FOUND: Rule(NoFaceFound, "no face found: recognize/detect return []; an example without a face fails"),
    31: Rule(TooManyFaces, "an example must contain exactly one face"),
    32: Rule(FaceServiceError, "writes are refused while CompreFace migrates its database"),
    33: Rule(FaceServiceError, "a required query parameter is missing"),
    34: Rule(FaceServiceError, "the multipart part is missing"),
    35: Rule(FaceServiceError, "a path variable is missing"),
    36: Rule(FaceRejected, "the subject name contains ; / or \\"),
    37: Rule(FaceServiceError, "wrong number of embeddings"),
    41: Rule(FaceServiceError, "the core failed or timed out (HTTP 500): retried"),
    42: Rule(SubjectNotFound, "subject not found"),
    43: Rule(SubjectExists, "subject already exists"),
    44: Rule(ExampleNotFound, "example (image id) not found"),
}


def error_class(status: int, code: int | None, message: str) -> type[PluginError]:
    """The class an error answer raises.

    A body without a code (a proxy's HTML page, Spring's empty 400/415) is a plain ``ServiceError``;
    an undocumented code is a bare ``FaceServiceError``.
    """
    if status in AUTH_STATUSES:
        return AuthError
    if code is None:
        return ServiceError
    rule = CODES.get(code)
    return rule.error_for(message) if rule is not None else FaceServiceError
