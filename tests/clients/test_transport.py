"""The shared transport: httpx errors mapped once, one retry loop, one breaker per service.

Real sockets on 127.0.0.1 for the mapping; a simulated clock for the breaker's time window, so no test
depends on how fast this machine is.
"""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from stash_compreface.errors import (
    AuthError,
    GraphQLError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
    Stopped,
)
from stash_compreface.faceservice import SubjectNotFound
from stash_compreface.transport import Breaker, Service, Transport, map_errors, retry
from testdoubles.server import DoubleHandler, DoubleServer
from tests import localhttp
from tests.timeouts import ANSWERED_S, HUNG_ONLY_S

SVC = Service("CompreFace", "compreface", "comprefaceUrl")


class EchoDouble(DoubleServer):
    """A tiny HTTP server: 200 "ok" unless a fault is scripted; ``drop`` closes connections unanswered."""

    def __init__(self) -> None:
        self.drop = 0
        super().__init__()


class EchoHandler(DoubleHandler):
    double: EchoDouble  # type: ignore[assignment]

    def handle_request(self, method: str) -> None:
        self.read_body()
        with self.double.lock:
            drop = self.double.drop > 0
            self.double.drop -= drop
        if drop:  # the peer vanishes mid-request, as a crashing upstream or a reset does
            self.close_connection = True
            return
        self.send(200, b"ok", "text/plain")


EchoDouble.handler_class = EchoHandler


@pytest.fixture
def echo() -> Iterator[EchoDouble]:
    with EchoDouble.running() as double:
        yield double


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def get(transport: Transport, url: str) -> str:
    """One retried GET whose non-2xx answers raise like the clients do."""

    def attempt() -> str:
        response = transport.request("GET", url)
        if response.status_code >= 400:
            raise ServiceError(f"HTTP {response.status_code}", service="compreface", status=response.status_code)
        return response.text

    return transport.call(attempt)


# -- mapping -------------------------------------------------------------------------------------


def test_refused_connection_is_unavailable_and_names_the_setting() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1/config"
    with pytest.raises(ServiceUnavailable) as info, map_errors(SVC, url), localhttp.Client() as client:
        client.get(url)
    assert info.value.setting == "comprefaceUrl" and "comprefaceUrl" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_timeout_is_a_retryable_service_error(echo) -> None:
    echo.hang("/slow")
    url = f"{echo.url}/slow"
    with pytest.raises(ServiceError, match="did not answer /slow in time") as info, map_errors(SVC, url), \
            localhttp.Client(timeout=HUNG_ONLY_S) as client:
        client.get(url)
    assert info.value.retryable and isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert echo.wait_for_cut_off("GET /slow") == 1, "the client gave up on the request"


def test_dropped_connection_is_a_retryable_service_error(echo) -> None:
    echo.drop = 1
    url = f"{echo.url}/x"
    with pytest.raises(ServiceError) as info, map_errors(SVC, url), localhttp.Client() as client:
        client.get(url)
    assert info.value.retryable and not isinstance(info.value, ServiceUnavailable)
    assert isinstance(info.value.__cause__, httpx.HTTPError)


def test_url_without_scheme_names_the_setting() -> None:
    transport = Transport(SVC)
    with pytest.raises(ServiceUnavailable, match="comprefaceUrl is not a usable"):
        get(transport, "localhost:8000/api/v1/config")
    transport.close()


def test_credentials_in_the_url_never_reach_the_message() -> None:
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}/x?apikey=abc123"
    transport = Transport(SVC)
    with pytest.raises(ServiceUnavailable) as info:
        get(transport, url)
    assert "hunter2" not in str(info.value) and "abc123" not in str(info.value)
    transport.close()


# -- retry ---------------------------------------------------------------------------------------


def test_each_failure_is_retried_then_succeeds(echo) -> None:
    transport = Transport(SVC, backoff_s=0.001, timeout_s=ANSWERED_S)
    echo.fail_next("/x", 502, times=1)
    echo.hang("/x", times=1)
    echo.drop = 0
    assert get(transport, f"{echo.url}/x") == "ok"
    assert echo.calls["GET /x"] == 3 and transport.breaker.consecutive_failures == 0
    assert echo.wait_for_cut_off("GET /x") == 1
    echo.drop = 2
    assert get(transport, f"{echo.url}/x") == "ok"
    assert transport.attempts_made == 6
    transport.close()


def test_attempts_run_out_and_the_last_error_is_raised_with_its_cause(echo) -> None:
    transport = Transport(SVC, backoff_s=0.001, timeout_s=HUNG_ONLY_S, attempts=3)
    echo.hang("/x", times=3)
    with pytest.raises(ServiceError, match="in time") as info:
        get(transport, f"{echo.url}/x")
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert echo.calls["GET /x"] == 3
    assert echo.wait_for_cut_off("GET /x", 3) == 3
    transport.close()


def test_client_errors_are_not_retried(echo) -> None:
    transport = Transport(SVC, backoff_s=0.001)
    echo.fail_next("/x", 404, times=5)
    with pytest.raises(ServiceError, match="404"):
        get(transport, f"{echo.url}/x")
    assert echo.calls["GET /x"] == 1
    transport.close()


def test_a_stop_interrupts_the_backoff_and_keeps_the_failure() -> None:
    stop = threading.Event()
    calls = []

    def attempt() -> None:
        calls.append(1)
        threading.Timer(0.05, stop.set).start()  # a stop arrives while we wait to retry
        raise ServiceError("HTTP 502", service="compreface", status=502)

    with pytest.raises(Stopped) as info:
        retry(attempt, service=SVC, breaker=Breaker(), stop=stop, backoff_s=3600)
    assert len(calls) == 1 and isinstance(info.value.__cause__, ServiceError)


def test_non_idempotent_calls_retry_only_refusals() -> None:
    def fail_with(exc: Exception) -> int:
        calls = []

        def attempt() -> None:
            calls.append(1)
            raise exc

        with pytest.raises(type(exc)):
            retry(attempt, service=SVC, breaker=Breaker(), stop=threading.Event(), backoff_s=0, idempotent=False)
        return len(calls)

    assert fail_with(ServiceError("did not answer in time", service="stash")) == 1  # maybe applied
    assert fail_with(ProtocolError("no data", service="stash", status=200)) == 1
    assert fail_with(ServiceError("HTTP 504", service="stash", status=504)) == 1
    assert fail_with(ServiceError("HTTP 502", service="stash", status=502)) == 3  # never reached it
    assert fail_with(GraphQLError("Stash rejected TagCreate: sql: database is locked", service="stash",
                                  status=200)) == 3


# -- breaker -------------------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_names_the_setting(echo) -> None:
    breaker = Breaker(failures=5)
    transport = Transport(SVC, backoff_s=0.001, breaker=breaker)
    echo.fail_next("/x", 502, times=100)
    with pytest.raises(ServiceError):
        get(transport, f"{echo.url}/x")  # 3 failed attempts: one item fails, the run goes on
    assert not breaker.tripped
    with pytest.raises(ServiceUnavailable) as info:
        get(transport, f"{echo.url}/x")
    message = str(info.value)
    assert message.startswith("CompreFace failed 5 times in a row (last: HTTP 502)")
    assert message.endswith("check that it is running and comprefaceUrl")
    assert info.value.setting == "comprefaceUrl"
    made = echo.calls["GET /x"]
    assert made == 5
    with pytest.raises(ServiceUnavailable, match="5 times in a row"):  # every later call fails at once
        get(transport, f"{echo.url}/x")
    assert echo.calls["GET /x"] == made
    transport.close()


def test_a_success_resets_the_count(echo) -> None:
    breaker = Breaker(failures=5)
    transport = Transport(SVC, backoff_s=0.001, breaker=breaker)
    for _ in range(3):
        echo.fail_next("/x", 502, times=4)
        with pytest.raises(ServiceError):
            get(transport, f"{echo.url}/x")
        assert get(transport, f"{echo.url}/x") == "ok"  # the 4th failure, then an answer
        assert breaker.consecutive_failures == 0
    assert not breaker.tripped
    transport.close()


def test_refusals_are_answers_not_failures() -> None:
    breaker = Breaker(failures=2)
    for exc in (SubjectNotFound("no", service="compreface", status=404), AuthError("key"),
                GraphQLError("Stash rejected X: bad input", service="stash", status=200)):
        def attempt(exc: Exception = exc) -> None:
            raise exc
        for _ in range(3):
            with pytest.raises(type(exc)):
                retry(attempt, service=SVC, breaker=breaker, stop=threading.Event(), backoff_s=0)
    assert not breaker.tripped


def test_breaker_is_shared_across_threads_and_clients(echo) -> None:
    breaker = Breaker(failures=5)
    transports = [Transport(SVC, backoff_s=0.001, breaker=breaker) for _ in range(4)]
    echo.fail_next("/x", 502, times=1000)
    outcomes: list[type[Exception]] = []

    def worker(transport: Transport) -> None:
        for _ in range(10):
            try:
                get(transport, f"{echo.url}/x")
            except ServiceUnavailable:
                outcomes.append(ServiceUnavailable)
                return
            except ServiceError:
                outcomes.append(ServiceError)

    threads = [threading.Thread(target=worker, args=(t,)) for t in transports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.tripped and outcomes.count(ServiceUnavailable) == 4
    # at most the threshold plus one attempt that was already in flight per other thread
    assert echo.calls["GET /x"] <= 5 + 3
    for transport in transports:
        transport.close()


class VirtualTime:
    """Discrete-event time for real threads: a thread "sleeps" by registering a wake-up time, and time
    jumps to the earliest wake-up once every live thread sleeps. Lets real threads run through the real
    retry loop and breaker against a service that hangs for 30 s per request, in milliseconds."""

    def __init__(self, threads: int) -> None:
        self.now = 0.0
        self._cond = threading.Condition()
        self._awake = threads
        self._sleepers: dict[int, float] = {}
        self._released: set[int] = set()
        self._tickets = itertools.count()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            ticket = next(self._tickets)
            self._sleepers[ticket] = self.now + seconds
            self._awake -= 1
            self._advance()
            while ticket not in self._released:
                self._cond.wait()
            self._released.discard(ticket)

    def leave(self) -> None:
        with self._cond:
            self._awake -= 1
            self._advance()

    def _advance(self) -> None:
        if self._awake == 0 and self._sleepers:
            ticket = min(self._sleepers, key=lambda t: (self._sleepers[t], t))
            self.now = max(self.now, self._sleepers.pop(ticket))
            self._released.add(ticket)
            self._awake += 1
            self._cond.notify_all()


class VirtualStop(threading.Event):
    """A stop event that is never set, whose waits pass in virtual time."""

    def __init__(self, time: VirtualTime) -> None:
        super().__init__()
        self._time = time

    def wait(self, timeout: float | None = None) -> bool:
        self._time.sleep(timeout or 0.0)
        return False


def hung_service_run(workers: int, *, stagger_s: float, timeout_s: float = 30.0) -> float:
    """``workers`` threads against a service that accepted every connection and never answers, each
    attempt taking its timeout (cut to the breaker's budget, as ``Transport`` does). Returns the virtual
    second at which the last worker was released, i.e. when the run has stopped."""
    time = VirtualTime(workers)
    breaker = Breaker(clock=time)  # default rule
    stop = VirtualStop(time)
    released: list[float] = []

    def attempt() -> None:
        budget = breaker.budget()
        time.sleep(timeout_s if budget is None else max(0.05, min(timeout_s, budget)))
        raise ServiceError("CompreFace did not answer /api/v1/recognition/recognize in time", service="compreface")

    def worker(index: int) -> None:
        try:
            time.sleep(index * stagger_s)  # workers reach the hung service at different moments
            while True:
                try:
                    retry(attempt, service=SVC, breaker=breaker, stop=stop)  # default attempts and backoff
                except ServiceUnavailable:
                    released.append(time.now)
                    return
                except ServiceError:
                    time.sleep(0.2)  # the item is tagged Error; the worker prepares the next one
        finally:
            time.leave()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(released) == workers, "a worker never stopped"
    return max(released)


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
@pytest.mark.parametrize("stagger_s", [0.0, 1.0, 9.9, 14.9])  # 14.9: one reaches it just before the first timeout
def test_a_hung_service_stops_the_run_within_a_minute_at_default_settings(workers: int, stagger_s: float) -> None:
    assert hung_service_run(workers, stagger_s=stagger_s) < 60


def test_window_counts_from_the_first_failed_attempt() -> None:
    clock = FakeClock()
    breaker = Breaker(failures=100, window_s=45, clock=clock)
    assert breaker.budget() is None
    breaker.failure(SVC, started=0.0, exc=ServiceError("timeout"))
    clock.now = 30
    assert breaker.budget() == 15
    breaker.success()
    assert breaker.budget() is None  # a success in between: the streak starts again
    clock.now = 40
    breaker.failure(SVC, started=10.0, exc=ServiceError("timeout"))  # began before that success at 30
    clock.now = 74
    breaker.check(SVC)  # the streak began at the success, not at 10
    clock.now = 75
    with pytest.raises(ServiceUnavailable, match=r"CompreFace failed on every request for 45 s"):
        breaker.check(SVC)


def test_attempts_in_an_open_streak_get_only_the_rest_of_the_window(echo) -> None:
    clock = FakeClock()
    breaker = Breaker(window_s=45, clock=clock)
    breaker.failure(SVC, started=0.0, exc=ServiceError("timeout"))
    clock.now = 44.9  # 0.1 s left: the attempt's timeout is cut to that, not the 30 s configured
    transport = Transport(SVC, timeout_s=30, breaker=breaker, attempts=1)
    echo.hang("/x", seconds=30)  # answered after 30 s: only an attempt with the cut timeout fails
    with pytest.raises(ServiceError, match="in time") as info:
        get(transport, f"{echo.url}/x")
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    transport.close()


def test_a_service_reached_over_plain_http_never_loads_the_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the CA bundle costs every task about 40 ms at start: only a service reached over https pays it,
    and a plain-http client that were ever led into TLS would trust no certificate at all."""
    import ssl

    from stash_compreface import transport as transport_module

    loads: list[object] = []
    real = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: loads.append(a) or real(*a, **k))
    transport_module._verified_tls.cache_clear()
    try:
        plain = Transport(SVC, urls=("http://127.0.0.1:8000", "HTTP://stash:9999"))
        assert loads == []
        context = plain.http._transport._pool._ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname and context.get_ca_certs() == []
        Transport(SVC, urls=("http://127.0.0.1:8000", "https://compreface.example"))
        Transport(SVC)  # addresses not given: as before, the bundle
        assert len(loads) == 1  # once per process
        plain.close()
    finally:
        transport_module._verified_tls.cache_clear()
