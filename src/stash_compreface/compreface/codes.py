"""CompreFace's error codes (compreface-api.md §5.2) and what each means for us.

This table alone decides which class an error answer raises, including which answers mean "your API
key is wrong" (``AuthError`` naming the key setting). ``None`` is the one documented non-error: 28, no
face found, which recognition and detection turn into ``[]``. A test walks the table against the
documented code list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import (
    AuthError,
    CompreFaceError,
    ExampleNotFound,
    PluginError,
    ServiceError,
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

    error: type[PluginError] | None
    why: str
    key_error_if: re.Pattern[str] | None = None

    def error_for(self, message: str) -> type[PluginError] | None:
        if self.key_error_if is not None and self.key_error_if.search(message):
            return AuthError
        return self.error


CODES: dict[int, Rule] = {
    0: Rule(CompreFaceError, "undefined server error, e.g. an upload above the 5 MB file limit"),
    5: Rule(CompreFaceError, "a required JSON field is empty"),
    10: Rule(AuthError, "no service of this type has this API key (the message repeats the key)"),
    12: Rule(CompreFaceError, "unknown service type in the URL"),
    20: Rule(AuthError, "the x-api-key header is missing"),
    21: Rule(CompreFaceError, "file extension not accepted, or not base64"),
    26: Rule(CompreFaceError, "request validation failed; a key error only when the key is not a UUID",
             key_error_if=re.compile(r"api key", re.IGNORECASE)),
    27: Rule(CompreFaceError, "a migration is already running"),
    NO_FACE_FOUND: Rule(None, "no face found: recognize/detect return []; an example without a face fails"),
    31: Rule(TooManyFaces, "an example must contain exactly one face"),
    32: Rule(CompreFaceError, "writes are refused while CompreFace migrates its database"),
    33: Rule(CompreFaceError, "a required query parameter is missing"),
    34: Rule(CompreFaceError, "the multipart part is missing"),
    35: Rule(CompreFaceError, "a path variable is missing"),
    36: Rule(CompreFaceError, "the subject name contains ; / or \\"),
    37: Rule(CompreFaceError, "wrong number of embeddings"),
    41: Rule(CompreFaceError, "the core failed or timed out (HTTP 500): retried"),
    42: Rule(SubjectNotFound, "subject not found"),
    43: Rule(SubjectExists, "subject already exists"),
    44: Rule(ExampleNotFound, "example (image id) not found"),
}


def error_class(status: int, code: int | None, message: str) -> type[PluginError] | None:
    """The class an error answer raises; ``None`` means "not an error" (no face found).

    A body without a code (a proxy's HTML page, Spring's empty 400/415) is a plain ``ServiceError``;
    an undocumented code is a ``CompreFaceError``.
    """
    if status in AUTH_STATUSES:
        return AuthError
    if code is None:
        return ServiceError
    rule = CODES.get(code)
    return rule.error_for(message) if rule is not None else CompreFaceError
