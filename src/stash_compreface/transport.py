"""The HTTP boundary shared by the Stash, CompreFace and Vision clients: one error mapping, one retry
loop, one circuit breaker, so the three clients cannot drift apart.

* :func:`map_errors` is the only place an httpx exception becomes ours (httpx does the same one layer
  down in ``map_httpcore_exceptions``): a refused connection, DNS or TLS failure is
  ``ServiceUnavailable`` naming the URL setting; a timeout is a retryable ``ServiceError`` "did not
  answer in time"; any other transport failure (connection reset, broken body) a retryable
  ``ServiceError``. The httpx exception stays chained as ``__cause__``.
* :func:`retry` (``Transport.call``) is the only retry loop: it retries ``retryable`` ServiceErrors
  (5xx, timeouts, resets, non-protocol 200 bodies, Stash's "database is locked") with exponential
  backoff. A stop request interrupts the backoff with ``Stopped``; when attempts run out, the last
  error is raised as it was. Operations that must not run twice (creates) are retried only when the
  service positively refused them (a GraphQL or CompreFace error answer, 502/503 from a gateway),
  never after a timeout or reset whose outcome is unknown.
* :class:`Breaker` watches one service across every thread and client sharing it. Failed attempts
  (connection errors, timeouts, 5xx, ``ProtocolError``) count; any real answer (2xx, 4xx) resets the
  count. Once open it stays open for the run and every call raises ``ServiceUnavailable`` at once,
  naming the service and the setting to check, so a dead service stops the run instead of tagging the
  whole library Error. It also watches writes a service keeps refusing (Stash's "database is locked"
  after every retry): a service that refuses every write for the same count or window stops the run
  too, naming the service, instead of costing each remaining item its retries.

Defaults (the README quotes these):

* timeouts: 30 s to read an answer (``requestTimeout``), 5 s to connect;
* retries: 3 attempts per call, pausing 0.5 s then 1 s;
* breaker: opens after 5 failed attempts in a row, or once attempts have failed without a success for
  45 s, counted from the start of the first failed attempt. While such a streak is open, a new
  attempt may only use what is left of those 45 s as its timeout.

So a refused connection stops the run at once, an unroutable host within about 20 s (5 connect
timeouts), and a hung service within 60 s with any number of workers: the first timeout, which opens
the streak, ends at most 30 s after the hang; attempts started after it end within the 45 s window;
attempts started before it end within 60 s.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .errors import (
    GraphQLError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
    Stopped,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
DEFAULT_ATTEMPTS = 3
# Read when a transport is built, not bound as a default argument, so a test harness can shorten the waits
# of every client a task builds (tests/tasks/conftest.py) without a setting users would see.
DEFAULT_BACKOFF_S = 0.5
BREAKER_FAILURES = 5
BREAKER_WINDOW_S = 45.0
# A gateway that could not reach its upstream: the request never arrived, so even a create may go again.
_GATEWAY_REFUSED = frozenset({502, 503})


@dataclass(frozen=True)
class Service:
    """Who is talking: ``name`` for messages, ``key`` for ``PluginError.service``, ``setting`` to check."""

    name: str
    key: str
    setting: str


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: enough to say where, without paths, queries or credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if not parts.scheme or not parts.hostname:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _what(url: str) -> str:
    return urlsplit(url).path or url


@contextlib.contextmanager
def map_errors(service: Service, url: str, what: str | None = None) -> Iterator[None]:
    """Turn httpx exceptions raised in the block into the plugin's errors for ``service``."""
    what = what or _what(url)
    try:
        yield
    except httpx.ConnectError as exc:
        raise ServiceUnavailable(
            f"Cannot reach {service.name} at {origin(url)} ({str(exc) or type(exc).__name__}): check that it is "
            f"running and that {service.setting} is right",
            service=service.key, setting=service.setting,
        ) from exc
    except httpx.ConnectTimeout as exc:
        raise ServiceError(f"{service.name} at {origin(url)} did not accept a connection in time",
                           service=service.key, setting=service.setting) from exc
    except httpx.TimeoutException as exc:
        raise ServiceError(f"{service.name} did not answer {what} in time", service=service.key,
                           setting=service.setting) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ServiceUnavailable(f"{service.setting} is not a usable http(s) URL ({url}): {exc}",
                                 service=service.key, setting=service.setting) from exc
    except httpx.HTTPError as exc:
        raise ServiceError(f"{service.name} request {what} failed: {type(exc).__name__}: {exc}",
                           service=service.key, setting=service.setting) from exc


def is_outage(exc: BaseException) -> bool:
    """A failure that says the service is down or broken, not that it refused this one request."""
    if isinstance(exc, ServiceUnavailable | ProtocolError):
        return True
    if isinstance(exc, GraphQLError):
        return False  # Stash answered in its protocol: it is up
    return isinstance(exc, ServiceError) and (exc.status is None or exc.status >= 500)


def refused(exc: ServiceError) -> bool:
    """The service answered that it did not do the operation: safe to send again even if not idempotent.
    A GraphQL error, an answer carrying the service's own error code (CompreFace's table), a gateway's
    refusal."""
    return isinstance(exc, GraphQLError) or exc.code is not None or exc.status in _GATEWAY_REFUSED


class Breaker:
    """Circuit breaker for one service, shared by every thread (and client) that calls it.

    Opens after ``failures`` failed attempts in a row, or when attempts have kept failing for
    ``window_s`` since the start of the first failed one; a successful answer resets the streak. Once
    open it stays open (the run is over): :meth:`check` raises at once.
    """

    def __init__(self, *, failures: int = BREAKER_FAILURES, window_s: float = BREAKER_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._since: float | None = None
        self._last_success: float | None = None
        self._last = ""
        self._open: tuple[str, Service] | None = None
        self._refused = 0  # writes refused for good in a row (every attempt answered "database is locked")
        self._refused_since: float | None = None

    @property
    def tripped(self) -> bool:
        with self._lock:
            return self._open is not None

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._count

    def reset(self) -> None:
        """Close the breaker again (a new run, or a test)."""
        with self._lock:
            self._count, self._since, self._last_success, self._last, self._open = 0, None, None, "", None
            self._refused, self._refused_since = 0, None

    def _error(self, service: Service) -> ServiceUnavailable:
        """The open breaker's error, a fresh instance per raise (threads must not share tracebacks)."""
        if self._open is None:
            elapsed = self.clock() - self._since if self._since is not None else 0.0
            spell = (f"on every request for {elapsed:.0f} s" if elapsed >= self.window_s
                     else f"{self._count} times in a row")
            last = self._last.split(": check", 1)[0]  # the advice is given once, below
            message = f"{service.name} failed {spell} (last: {last}): check that it is running and {service.setting}"
            self._open = (message, service)
        message, opened_by = self._open
        return ServiceUnavailable(message, service=opened_by.key, setting=opened_by.setting)

    def check(self, service: Service) -> None:
        """Raise the breaker's error if it is open, or if the failure streak has outlived the window."""
        with self._lock:
            expired = self._since is not None and self.clock() - self._since >= self.window_s
            if self._open is not None or expired:
                raise self._error(service)

    def budget(self) -> float | None:
        """Seconds left in the window while a failure streak is open (the most a new attempt may take)."""
        with self._lock:
            if self._since is None:
                return None
            return self._since + self.window_s - self.clock()

    def success(self) -> None:
        with self._lock:
            if self._open is None:
                self._count, self._since, self._last_success = 0, None, self.clock()

    def accepted(self) -> None:
        """A write went through: the service takes writes."""
        with self._lock:
            self._refused, self._refused_since = 0, None

    def refused_write(self, service: Service, started: float, exc: BaseException) -> ServiceUnavailable | None:
        """Count one write the service refused on every attempt (a transient refusal that did not pass), begun
        at ``started``; the breaker's error once ``failures`` writes in a row, or every write for ``window_s``,
        were refused."""
        with self._lock:
            if self._open is None:
                self._refused += 1
                self._refused_since = started if self._refused_since is None else min(self._refused_since, started)
                elapsed = self.clock() - self._refused_since
                if self._refused < self.failures and elapsed < self.window_s:
                    return None
                spell = (f"every write for {elapsed:.0f} s" if elapsed >= self.window_s
                         else f"{self._refused} writes in a row")
                text = str(exc)
                last = text if len(text) <= 300 else text[:300] + "..."
                self._open = (f"{service.name} refused {spell} (last: {last}): it is up but does not accept "
                              f"writes (its database is locked or busy: a scan, clean or backup in {service.name}, "
                              "or another tool writing to it?). The run stopped; run the task again once "
                              f"{service.name} is idle", service)
            return self._error(service)

    def failure(self, service: Service, started: float, exc: BaseException) -> ServiceUnavailable | None:
        """Count one failed attempt that began at ``started``; the breaker's error if it is now open."""
        with self._lock:
            if self._open is None:
                self._count += 1
                # The streak cannot have begun before the last answer, whenever this attempt started.
                if self._last_success is not None:
                    started = max(started, self._last_success)
                self._since = started if self._since is None else min(self._since, started)
                text = str(exc)
                self._last = text if len(text) <= 300 else text[:300] + "..."
                if self._count < self.failures and self.clock() - self._since < self.window_s:
                    return None
            return self._error(service)


def retry(
    attempt: Callable[[], T],
    *,
    service: Service,
    breaker: Breaker,
    stop: threading.Event,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
    idempotent: bool = True,
    write: bool = False,
) -> T:
    """Run ``attempt`` until it succeeds, retrying retryable ServiceErrors with exponential backoff.

    Every attempt passes the breaker first and reports to it after. A stop during a backoff raises
    ``Stopped`` (chained to the last failure); when attempts run out the last failure is raised, unless it
    is a ``write`` the service refused once too often (:meth:`Breaker.refused_write`): then the breaker's.
    """
    first = breaker.clock()
    for number in range(1, max(1, attempts) + 1):
        breaker.check(service)
        started = breaker.clock()
        try:
            result = attempt()
        except Stopped:
            raise
        except Exception as exc:
            if is_outage(exc):
                opened = breaker.failure(service, started, exc)
                if opened is not None:
                    raise opened from exc
            else:
                breaker.success()  # the service answered (4xx, a refusal, a locked database): it is alive
            if not isinstance(exc, ServiceError) or not exc.retryable or number >= attempts:
                if write and isinstance(exc, GraphQLError) and exc.retryable:
                    opened = breaker.refused_write(service, first, exc)
                    if opened is not None:
                        raise opened from exc
                raise
            if not idempotent and not refused(exc):
                raise
            if stop.wait(backoff_s * 2 ** (number - 1)):
                raise Stopped() from exc
            continue
        breaker.success()
        if write:
            breaker.accepted()
        return result
    raise AssertionError("unreachable")


@functools.cache
def _verified_tls() -> ssl.SSLContext:
    """One certificate-checking TLS context for every client of the process: loading the CA bundle costs
    about 40 ms, which httpx would otherwise pay for each client."""
    return httpx.create_ssl_context()


def _no_tls() -> ssl.SSLContext:
    """For a service reached over plain http: it never does TLS, so the CA bundle is not loaded (40 ms off
    every task's start). Should a connection ever try TLS, it fails verification, having no CA to trust."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class Transport:
    """One service's HTTP client plus the policy around it: timeouts, mapping, retries, breaker, stop."""

    def __init__(
        self,
        service: Service,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_s: float | None = None,
        breaker: Breaker | None = None,
        stop: threading.Event | None = None,
        max_connections: int = 16,
        urls: tuple[str, ...] = (),
        **client_options: Any,
    ) -> None:
        """``urls``: the service's addresses; when all are plain http, no CA bundle is loaded."""
        self.service = service
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self.attempts = attempts
        self.backoff_s = DEFAULT_BACKOFF_S if backoff_s is None else backoff_s
        self.breaker = breaker if breaker is not None else Breaker()
        self.stop = stop if stop is not None else threading.Event()
        self._options = client_options
        self._plain_http = bool(urls) and all(url.lower().startswith("http://") for url in urls)
        self.attempts_made = 0
        self.http = self._client(max_connections)

    def _client(self, max_connections: int) -> httpx.Client:
        options = dict(self._options)
        if options.get("verify", True) is True:
            # The CA bundle, loaded once per process, and only for a service reached over https.
            options["verify"] = _no_tls() if self._plain_http else _verified_tls()
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            **options,
        )

    def resize(self, max_connections: int) -> None:
        """Room for every worker thread once ``maxConcurrency`` is known."""
        old, self.http = self.http, self._client(max_connections)
        old.close()

    def close(self) -> None:
        self.http.close()

    def _timeout(self) -> httpx.Timeout:
        budget = self.breaker.budget()
        if budget is None:
            return httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
        budget = max(0.05, budget)
        return httpx.Timeout(min(self.timeout_s, budget), connect=min(self.connect_timeout_s, budget))

    def request(self, method: str, url: str, *, service: Service | None = None, what: str | None = None,
                **kwargs: Any) -> httpx.Response:
        """One attempt, errors mapped; call it inside :meth:`call`."""
        self.attempts_made += 1
        with map_errors(service or self.service, url, what):
            return self.http.request(method, url, timeout=self._timeout(), **kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, url: str, *, service: Service | None = None, what: str | None = None,
               **kwargs: Any) -> Iterator[httpx.Response]:
        """One streamed attempt; errors while reading the body are mapped too."""
        self.attempts_made += 1
        with map_errors(service or self.service, url, what), \
                self.http.stream(method, url, timeout=self._timeout(), **kwargs) as response:
            yield response

    def call(self, attempt: Callable[[], T], *, service: Service | None = None, idempotent: bool = True,
             attempts: int | None = None, stop: threading.Event | None = None, write: bool = False) -> T:
        """:func:`retry` with this transport's breaker, stop event and policy."""
        return retry(attempt, service=service or self.service, breaker=self.breaker,
                     stop=stop if stop is not None else self.stop,
                     attempts=self.attempts if attempts is None else attempts, backoff_s=self.backoff_s,
                     idempotent=idempotent, write=write)


def body_kind(response: httpx.Response) -> str:
    """How a body that is not the protocol looks, for messages: a web page, empty, or some text."""
    content_type = response.headers.get("content-type", "").lower()
    text = response.content[:512].lstrip().lower()
    if "html" in content_type or text.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    if not response.content.strip():
        return "an empty body"
    return f"a body that is not JSON ({content_type or 'no content type'})"


def json_body(response: httpx.Response, service: Service, what: str) -> Any:
    """The JSON of a successful answer, or ``ProtocolError`` naming the URL setting to check."""
    try:
        return response.json()
    except ValueError:
        raise ProtocolError(
            f"{service.name} answered {what} with {body_kind(response)} instead of JSON: check that "
            f"{service.setting} points at {service.name}",
            service=service.key, setting=service.setting, status=response.status_code,
        ) from None


def json_object(response: httpx.Response, service: Service, what: str) -> dict[str, Any]:
    body = json_body(response, service, what)
    if not isinstance(body, dict):
        raise ProtocolError(f"{service.name} answered {what} with JSON that is not an object",
                            service=service.key, setting=service.setting, status=response.status_code)
    return body


def protocol_error(service: Service, what: str, problem: str, status: int | None = 200) -> ProtocolError:
    """A 200 answer of the wrong shape: never read as "nothing found"."""
    return ProtocolError(f"{service.name} answered {what} with {problem}", service=service.key,
                         setting=service.setting, status=status)
