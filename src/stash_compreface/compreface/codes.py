"""CompreFace's error codes (compreface-api.md §5.2) and what each means for us.

Every code maps to an exception class or to a documented "not an error"; a test walks this table.
"""

from __future__ import annotations

from ..errors import (
    AuthError,
    CompreFaceError,
    ExampleNotFound,
    PluginError,
    SubjectExists,
    SubjectNotFound,
    TooManyFaces,
)

NO_FACE_FOUND = 28

# code → (class, why)
CODES: dict[int, tuple[type[PluginError] | None, str]] = {
    0: (CompreFaceError, "undefined server error, e.g. an upload above the 5 MB file limit"),
    5: (CompreFaceError, "a required JSON field is empty"),
    10: (AuthError, "no service of this type has this API key"),
    12: (CompreFaceError, "unknown service type in the URL"),
    20: (AuthError, "the x-api-key header is missing"),
    21: (CompreFaceError, "file extension not accepted, or not base64"),
    26: (AuthError, "the API key is not a UUID (other 26s are request validation errors)"),
    27: (CompreFaceError, "a migration is already running"),
    NO_FACE_FOUND: (None, "no face found: recognize/detect return []; an example without a face fails"),
    31: (TooManyFaces, "an example must contain exactly one face"),
    32: (CompreFaceError, "writes are refused while CompreFace migrates its database"),
    33: (CompreFaceError, "a required query parameter is missing"),
    34: (CompreFaceError, "the multipart part is missing"),
    35: (CompreFaceError, "a path variable is missing"),
    36: (CompreFaceError, "the subject name contains ; / or \\"),
    37: (CompreFaceError, "wrong number of embeddings"),
    41: (CompreFaceError, "the core failed or timed out (HTTP 500): retried"),
    42: (SubjectNotFound, "subject not found"),
    43: (SubjectExists, "subject already exists"),
    44: (ExampleNotFound, "example (image id) not found"),
}
