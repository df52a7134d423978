"""Fixtures shared by every test folder: the real photos (cached once per machine in the pytest cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testdoubles.photos import Photos, PhotosUnavailable, load_photos


@pytest.fixture(scope="session")
def photos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Photos:
    """Real photos of six people (testdoubles.photos); only a failed first download skips, with the reason."""
    cache = getattr(request.config, "cache", None)
    root = Path(cache.mkdir("engine-photos")) if cache is not None else tmp_path_factory.mktemp("engine-photos")
    try:
        return load_photos(root)
    except PhotosUnavailable as exc:
        pytest.skip(f"real test photos unavailable: {exc}")
