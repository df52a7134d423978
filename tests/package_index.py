"""Whether the package index can be reached, for the tests marked ``network``.

Some tests need the package index: ``pip download`` of the plugin's wheels for the bootstrap tests (kept in
``.pytest_cache/d/plugin-wheels``), of the sdists whose photos the engine and quality tests use (cached too),
``pip install --dry-run`` against the musl and other platforms' wheels (tests/engine_musl), and a PEP 517
wheel build (setuptools from the index). They carry the ``network`` marker (``pytest -m "not network"``
leaves them out). Without the index, the ones whose download is not cached yet skip, saying so, instead of
failing after pip's retries; with it (CI), they all run, and fail if pip does.

The index is probed once per test process: one HEAD request for pip's own project page, at most
``PROBE_TIMEOUT_S``. The index is ``PIP_INDEX_URL`` when set (a mirror), else PyPI's.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

PYPI_SIMPLE = "https://pypi.org/simple/"
PROBE_TIMEOUT_S = 5.0


def index_url() -> str:
    return (os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE).split()[0]


@functools.cache
def unreachable_reason() -> str | None:
    """None when the index answers; otherwise why not (one line)."""
    url = index_url()
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        return "PIP_NO_INDEX is set"
    parts = urlsplit(url)
    if parts.scheme == "file":
        return None if Path(unquote(parts.path)).is_dir() else f"{url} is not a folder"
    probe = url.rstrip("/") + "/pip/"
    try:
        response = httpx.head(probe, timeout=PROBE_TIMEOUT_S, follow_redirects=True)
    except httpx.HTTPError as exc:
        return f"{probe}: {type(exc).__name__}: {exc}".strip().rstrip(":")
    if response.status_code >= 500:
        return f"{probe} answered HTTP {response.status_code}"
    return None


def require_package_index(what: str) -> None:
    """Skip the current test (or fixture) when the index cannot be reached; ``what`` says what needed it."""
    reason = unreachable_reason()
    if reason is not None:
        pytest.skip(f"needs the package index ({what}), which is unreachable: {reason}")
