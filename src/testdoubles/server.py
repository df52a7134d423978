"""Shared plumbing for the HTTP test doubles: a threaded server on 127.0.0.1 with scripted faults.

Each double subclasses :class:`DoubleHandler` and routes requests in ``handle(method)``. Faults are
scripted per route prefix and consumed in order, so a test can say "the next two recognize calls answer
502 in HTML" and then assert that the third succeeds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    """One scripted failure: an HTTP answer, or a stall longer than the client's timeout."""

    prefix: str
    status: int = 502
    body: bytes = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    content_type: str = "text/html"
    stall_s: float = 0.0
    times: int = 1


class DoubleServer:
    """A ThreadingHTTPServer bound to 127.0.0.1 on a free port, running in a daemon thread."""

    handler_class: ClassVar[type[DoubleHandler]]

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.latency_s = 0.0
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        handler = type("BoundHandler", (self.handler_class,), {"double": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        # serve_forever polls every 0.5 s by default, which stop() would wait out; poll faster.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
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

    def fail_next(
        self,
        prefix: str,
        status: int = 502,
        *,
        html: bool = True,
        body: Any = None,
        stall_s: float = 0.0,
        times: int = 1,
    ) -> None:
        """Script the next ``times`` requests whose path starts with ``prefix`` to fail."""
        if body is None:
            raw = Fault.body if html else b""
            ctype = "text/html" if html else "application/json"
        elif isinstance(body, bytes):
            raw, ctype = body, "application/octet-stream"
        else:
            raw, ctype = json.dumps(body).encode(), "application/json"
        with self.lock:
            self.faults.append(Fault(prefix, status, raw, ctype, stall_s, times))

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.prefix):
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
        if double.latency_s:
            time.sleep(double.latency_s)
        fault = double.take_fault(self.path_only)
        if fault is not None:
            self.read_body()
            if fault.stall_s:
                time.sleep(fault.stall_s)
            self.send(fault.status, fault.body, fault.content_type)
            return
        self.handle_request(method)

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
