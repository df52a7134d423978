"""httpx for the tests' own requests to the doubles: one TLS context for every client of the process.

httpx loads the CA bundle (about 40 ms of CPU) for each client it makes, and ``httpx.get``/``post`` make one
per call: some 150 of them added 6 CPU-s to the suite. The doubles speak plain HTTP on 127.0.0.1; the shared
context is the certificate-checking one all the same (the product shares one the same way:
``transport._verified_tls``).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def Client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=tls(), **options)


def request(method: str, url: str, **options: Any) -> httpx.Response:
    return httpx.request(method, url, verify=tls(), **options)


def get(url: str, **options: Any) -> httpx.Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return request("POST", url, **options)
