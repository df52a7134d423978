"""The built-in engine's fixtures: the OpenCV backend, and the real photos (now in tests/conftest.py).

``PHOTOS``, ``Photo``, ``Photos`` and the ``photos`` fixture are re-exported for the modules that import
them from here (tests/engine_musl).
"""

from __future__ import annotations

import pytest

from stash_compreface.engine.backend import FaceModel, load_backend
from testdoubles.photos import PHOTOS, Photo, Photos
from tests.conftest import photos

__all__ = ["PHOTOS", "Photo", "Photos", "model", "photos"]


@pytest.fixture(scope="session")
def model() -> FaceModel:
    """The OpenCV backend (a test dependency: a missing install fails, it does not skip)."""
    return load_backend("opencv")
