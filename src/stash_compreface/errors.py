"""The one exception tree of the plugin.

Each class says what the caller does; ``service`` and ``setting`` say where::

    PluginError                   str() is already redacted and safe to log
    ├── FatalError                stop the run now; the message names the setting to fix
    │   ├── SettingError          unparsable / out of range: name + accepted range
    │   ├── ServiceUnavailable    connect refused, DNS, TLS
    │   └── AuthError             401/403, CompreFace 404/10 or 400/20/26, a 302 to /login on media
    └── ItemError                 this item only: tag Error, log id + reason, go on
        ├── ServiceError          5xx, read timeout, non-JSON body (a proxy's HTML 502)
        │   ├── GraphQLError      HTTP 200 with ``errors``
        │   └── CompreFaceError   .status, .code (SubjectNotFound 42, SubjectExists 43 ...)
        │       ├── SubjectNotFound
        │       ├── SubjectExists
        │       ├── TooManyFaces
        │       └── ExampleNotFound
        └── MediaError            undecodable/huge image, video posing as image, missing sprite

"No face found" (CompreFace 400/28) is not an error: detection returns ``[]``.
"""

from __future__ import annotations

from .redact import redact


class PluginError(Exception):
    """Base class: the message is redacted once, here, so any handler may log it."""

    def __init__(self, message: str, *, service: str | None = None, setting: str | None = None) -> None:
        super().__init__(redact(message))
        self.service = service
        self.setting = setting


class FatalError(PluginError):
    """Stop the whole run; retrying other items cannot succeed."""


class SettingError(FatalError):
    """A setting or task argument is unparsable or out of range."""


class ServiceUnavailable(FatalError):
    """The service cannot be reached at all (connection refused, DNS, TLS)."""


class AuthError(FatalError):
    """The service refused our credentials."""


class ItemError(PluginError):
    """Only the current item failed: tag it Error and go on."""


class ServiceError(ItemError):
    """The service answered, but not usefully (5xx, timeout, garbage)."""

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        setting: str | None = None,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, service=service, setting=setting)
        self.status = status
        self.code = code

    @property
    def retryable(self) -> bool:
        """5xx, timeouts and gateway pages are worth another try; 4xx answers are not."""
        return self.status is None or self.status >= 500


class GraphQLError(ServiceError):
    """Stash answered HTTP 200 with an ``errors`` list."""


class CompreFaceError(ServiceError):
    """CompreFace answered with an error code from its table."""


class SubjectNotFound(CompreFaceError):
    """Code 42."""


class SubjectExists(CompreFaceError):
    """Code 43."""


class TooManyFaces(CompreFaceError):
    """Code 31: an example must contain exactly one face."""


class ExampleNotFound(CompreFaceError):
    """Code 44."""


class MediaError(ItemError):
    """The item's media cannot be used: undecodable, too large, not an image, missing."""
