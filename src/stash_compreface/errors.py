"""The one exception tree of the plugin.

Each class says what the caller does; ``service`` and ``setting`` say where::

    PluginError                   str() is already redacted and safe to log
    ├── Stopped                   the run was asked to stop (Ctrl-C, stop request): not a failure
    ├── FatalError                stop the run now; the message names the setting to fix
    │   ├── SettingError          unparsable / out of range: name + accepted range
    │   │   └── FaceIndexOutOfRange   faceIndex names no face of the image
    │   ├── ServiceUnavailable    unreachable (connect refused, DNS, TLS), or down mid-run (breaker)
    │   └── AuthError             401/403, a CompreFace key error code, a 302 to /login on media
    └── ItemError                 this item only: tag Error, log id + reason, go on
        ├── ServiceError          5xx, timeout, broken answer: ``retryable`` says it is the service's fault
        │   ├── ProtocolError     HTTP 200 whose body is not the protocol (HTML, empty, wrong shape)
        │   ├── GraphQLError      HTTP 200 with ``errors`` (retryable only for a locked/busy database)
        │   ├── WriteFailed       a Stash write failed for good: the item is left for the next run
        │   └── FaceServiceError  a face engine refused this request (``faceservice``: NoFaceFound,
        │                         TooManyFaces, FaceRejected, SubjectNotFound, SubjectExists, ExampleNotFound)
        └── MediaError            undecodable/huge image, video posing as image, missing sprite

The face-service errors live with the interface they belong to (``faceservice``), so no engine's own
codes reach the tasks. "No face found" is a result, not an error, where there can be one: detection
returns ``[]``; only an example that must hold a face raises ``NoFaceFound``.
"""

from __future__ import annotations

import re

from .redact import redact

# SQLite contention inside Stash (another writer, a scan): the mutation was rolled back, so sending it
# again is safe and usually succeeds a moment later.
TRANSIENT_GRAPHQL = re.compile(r"database is locked|database is busy|database table is locked|SQLITE_BUSY|"
                               r"SQLITE_LOCKED", re.IGNORECASE)


class PluginError(Exception):
    """Base class: the message is redacted once, here, so any handler may log it."""

    def __init__(self, message: str, *, service: str | None = None, setting: str | None = None) -> None:
        super().__init__(redact(message))
        self.service = service
        self.setting = setting


class Stopped(PluginError):
    """The run was asked to stop; Stash itself stops plugins with SIGKILL, the CLI with Ctrl-C."""

    def __init__(self, message: str = "stopped on request") -> None:
        super().__init__(message)


class FatalError(PluginError):
    """Stop the whole run; retrying other items cannot succeed."""


class SettingError(FatalError):
    """A setting or task argument is unparsable or out of range."""


class FaceIndexOutOfRange(SettingError):
    """``faceIndex`` is past the faces found in the image."""

    def __init__(self, message: str, *, faces: int) -> None:
        super().__init__(message, setting="faceIndex")
        self.faces = faces


class ServiceUnavailable(FatalError):
    """The service cannot be reached at all, or failed too often in a row to go on."""


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
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, service=service, setting=setting)
        self.status = status
        self.code = code  # the service's own error code: an answer that carries one is a refusal
        self._retryable = retryable

    @property
    def retryable(self) -> bool:
        """As the raiser said; else from the HTTP status: 5xx, timeouts and gateway pages (no status) are
        the service's fault and worth another try, 4xx are not."""
        if self._retryable is not None:
            return self._retryable
        return self.status is None or self.status >= 500


class ProtocolError(ServiceError):
    """HTTP 200 whose body does not parse as the protocol: never read as "no faces"."""

    @property
    def retryable(self) -> bool:
        return True


class GraphQLError(ServiceError):
    """Stash answered HTTP 200 with an ``errors`` list."""

    @property
    def retryable(self) -> bool:
        """Only a locked/busy database is transient; other resolver errors repeat on every try."""
        return TRANSIENT_GRAPHQL.search(str(self)) is not None


class WriteFailed(ServiceError):
    """A Stash write still failed after retries. The item keeps no half-written outcome, so the next
    run takes it up again; tagging it Error would be one more write to a Stash that refuses writes."""

    @property
    def retryable(self) -> bool:
        return True


class MediaError(ItemError):
    """The item's media cannot be used: undecodable, too large, not an image, missing."""

