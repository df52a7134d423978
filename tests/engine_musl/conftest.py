"""The ncnn backend's tests reuse the engine tests' real photos (pip-downloaded sdists, cached)."""

from __future__ import annotations

import pytest

from tests.engine.conftest import photos  # noqa: F401  (the session fixture)


@pytest.fixture(scope="session")
def ncnn_model():
    """The ncnn backend; skipped only where the ncnn wheel is not installed (it is on CI: requirements-musl)."""
    pytest.importorskip("ncnn", reason="ncnn is not installed (pip install ncnn==1.0.20261020)")
    from stash_compreface.engine import ncnn_backend

    return ncnn_backend.load()
