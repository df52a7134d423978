"""Shared plumbing for the HTTP test doubles: a threaded server on 127.0.0.1 with scripted faults.

Each double subclasses :class:`DoubleHandler` and routes requests in ``handle_request(method)``. Faults are
what a plugin meets in the field, scripted so a test can prove both the failure and the recovery:

* ``fail_next(prefix, status, ...)``: the next requests on a route get a canned answer (an nginx 502 page,
  HTTP 200 with an empty, HTML or unexpected JSON body, ...), optionally after a stall;
* ``hang(prefix, seconds=...)``: requests are accepted and left unanswered (a wedged server), or answered
  normally after ``seconds`` (a slow one). An unanswered request can never beat a client's timeout, whatever
  the machine's load, and the double counts the ones the client gave up on (``cut_off``,
  ``wait_for_cut_off``): timeout tests assert behaviour, not durations;
* ``go_down()`` / ``come_back()`` / ``with double.down():``: the port refuses connections, open keep-alive
  connections are reset, then the server listens again on the SAME port with its state intact, as a
  container restart looks to a client.

Faults match a path prefix ("" matches everything) and optionally a method, are consumed in the order
they were scripted, and ``times=None`` keeps one active until ``clear_faults()``.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
             b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@dataclass
class Fault:
    """One scripted failure. ``kind``: "answer" (canned response), "hang" (no answer), "delay" (slow, then normal)."""

    prefix: str
    status: int = 502
    body: bytes = NGINX_502
    content_type: str = "text/html"
    stall_s: float = 0.0
    times: int | None = 1
    method: str | None = None
    kind: str = "answer"


def _canned(status: int, html: bool, body: Any, content_type: str | None) -> tuple[bytes, str]:
    if body is None:
        raw, ctype = (NGINX_502, "text/html") if html else (b"", "application/json")
    elif isinstance(body, bytes):
        raw, ctype = body, "application/octet-stream"
    elif isinstance(body, str):
        raw, ctype = body.encode(), "text/html" if body.lstrip().startswith("<") else "text/plain"
    else:
        raw, ctype = json.dumps(body).encode(), "application/json"
    return raw, content_type or ctype


class DoubleServer:
    """A ThreadingHTTPServer bound to 127.0.0.1 on a free port, running in a daemon thread."""

    handler_class: ClassVar[type[DoubleHandler]]

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.latency_s = 0.0
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        # "METHOD /path" -> hung requests whose client closed the connection (it timed out and gave up)
        self.cut_off: Counter[str] = Counter()
        self._handler = type("BoundHandler", (self.handler_class,), {"double": self})
        self._httpd = self._bind(0)
        self._port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._release = threading.Event()  # set: hung requests give up (clear_faults, go_down, stop)
        self._down = False

    def _bind(self, port: int) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        httpd.daemon_threads = True
        default_handle_error = httpd.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            """A client that gave up, or a connection reset by go_down(), is expected: no traceback."""
            if not isinstance(sys.exc_info()[1], ConnectionError | OSError):
                default_handle_error(request, client_address)

        httpd.handle_error = handle_error  # type: ignore[method-assign]
        return httpd

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def is_down(self) -> bool:
        return self._down

    def start(self) -> None:
        # serve_forever polls every 0.5 s by default, which stop() would wait out; poll faster.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if not self._down:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> DoubleServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @classmethod
    @contextlib.contextmanager
    def running(cls, *args: Any, **kwargs: Any) -> Iterator[Any]:
        double = cls(*args, **kwargs)
        double.start()
        try:
            yield double
        finally:
            double.stop()

    # -- outages -----------------------------------------------------------------------------------------

    def go_down(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection; state is kept."""
        with self.lock:
            if self._down:
                return
            self._down = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._release.set()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        """Listen again on the same port, as a restarted container does (faults and state are kept)."""
        with self.lock:
            if not self._down:
                return
            self._httpd = self._bind(self._port)
            self._release = threading.Event()
            self._down = False
        self.start()

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """``with double.down(): ...``: an outage for the duration of the block, then back on the same port."""
        self.go_down()
        try:
            yield
        finally:
            self.come_back()

    # -- scripted faults ---------------------------------------------------------------------------------

    def fail_next(
        self,
        prefix: str,
        status: int = 502,
        *,
        html: bool = True,
        body: Any = None,
        content_type: str | None = None,
        stall_s: float = 0.0,
        times: int | None = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests on ``prefix`` with ``status`` and a canned body instead of serving them.

        ``body``: None = nginx's HTML error page (``html=False``: empty); ``str`` = HTML when it starts with
        "<", else plain text; ``bytes`` = as is; anything else = JSON. ``stall_s`` delays the answer.
        """
        raw, ctype = _canned(status, html, body, content_type)
        with self.lock:
            self.faults.append(Fault(prefix, status, raw, ctype, stall_s, times, method))

    def hang(self, prefix: str = "", *, seconds: float | None = None, times: int | None = 1,
             method: str | None = None) -> None:
        """Accept the next ``times`` requests on ``prefix`` and answer nothing.

        ``seconds=None``: the connection stays silent until the client closes it (counted in ``cut_off``), or
        until ``clear_faults()``, ``go_down()`` or ``stop()``, then closes with no response. ``seconds=N``: the
        request is served normally after N seconds.
        """
        kind = "hang" if seconds is None else "delay"
        with self.lock:
            self.faults.append(Fault(prefix, 0, b"", "", seconds or 0.0, times, method, kind))

    def wait_for_cut_off(self, call: str, count: int = 1, *, hang_guard_s: float = 30.0) -> int:
        """Wait until ``count`` hung ``call`` requests ("GET /path") were cut off by their client; the number seen.

        The client closes its connection when it times out; the double notices a moment later, on its own
        thread. ``hang_guard_s`` only keeps a broken test from blocking forever: it is no time limit.
        """
        deadline = time.monotonic() + hang_guard_s
        while self.cut_off[call] < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.cut_off[call]

    def clear_faults(self) -> None:
        """Drop every scripted fault and let hung requests go (their connections close unanswered)."""
        with self.lock:
            self.faults.clear()
            self._release.set()
            self._release = threading.Event()

    def take_fault(self, path: str, method: str | None = None) -> Fault | None:
        """The first scripted fault for this request, consumed (``method=None`` matches any method)."""
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.prefix) and fault.method in (None, method or fault.method):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None


class DoubleHandler(BaseHTTPRequestHandler):
    """Request parsing and response helpers shared by every double."""

    double: ClassVar[DoubleServer]
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """Headers and body go out in two writes; without TCP_NODELAY, Nagle plus delayed ACK adds
        about 40 ms to every keep-alive request."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.double.lock:
            self.double._connections.add(self.connection)

    def finish(self) -> None:
        with self.double.lock:
            self.double._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; tests assert on state instead."""

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes = b"", content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(payload).encode(), "application/json", headers)

    def _dispatch(self, method: str) -> None:
        double = self.double
        with double.lock:
            double.calls[f"{method} {self.path_only}"] += 1
            release = double._release
        if double.latency_s:
            time.sleep(double.latency_s)
        fault = double.take_fault(self.path_only, method)
        if fault is not None and fault.kind == "hang":
            self.read_body()
            if self._wait_for_client_to_leave(release):
                with double.lock:
                    double.cut_off[f"{method} {self.path_only}"] += 1
            self.close_connection = True  # no answer: the client sees the connection close
            return
        if fault is not None and fault.kind == "delay":
            release.wait(fault.stall_s)
        elif fault is not None:
            self.read_body()
            if fault.stall_s:
                release.wait(fault.stall_s)
            self.send(fault.status, fault.body, fault.content_type)
            return
        self.handle_request(method)

    def _wait_for_client_to_leave(self, release: threading.Event) -> bool:
        """Block until the client closes the connection (True) or ``release`` is set (False)."""
        while not release.wait(0.01):
            readable, _, _ = select.select([self.connection], [], [], 0.01)
            if not readable:
                continue
            if release.is_set():  # go_down() resets the connection itself: that is no client giving up
                return False
            try:
                gone = not self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                gone = True
            if gone:
                return True
            release.wait()  # the client sent more (a pipelined request): it is still there, stay silent
            return False
        return False

    def handle_request(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")
