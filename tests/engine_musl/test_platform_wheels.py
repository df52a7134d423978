"""Every pin of the bootstrap's chosen files has a wheel on each platform that gets that file.

The musl stack cannot run here (glibc), so this resolves it as pip on Alpine would: ``pip install
--dry-run --only-binary :all: --platform ...`` with the bootstrap's ``--no-deps``, reading only the index's
metadata. The pins decide the answer (an index never changes a published file), so the wheels each platform
resolved to are recorded in ``tests/reference/platform-wheels.json``, keyed by the pinned files and the cases:
pip runs again only when they change, and writes the new record to commit (nine pips are 40 CPU-seconds, a
fifth of a fresh clone's first suite run). Marked ``network``: with pins that have no record yet, skipped,
saying why, when the package index cannot be reached (tests/package_index.py); with the index reachable, any
pip failure fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.package_index import require_package_index

PLUGIN = Path(__file__).resolve().parents[2] / "plugin"
RECORD = Path(__file__).resolve().parents[1] / "reference" / "platform-wheels.json"
pytestmark = pytest.mark.network(reason="pip resolves each platform's wheels from the index", cached=True)
# (engine file, platform tags, wheel tag every compiled wheel must carry)
TARGETS = [
    ("musl", ["musllinux_1_2_x86_64"], "musllinux_1_2_x86_64"),
    ("musl", ["musllinux_1_2_aarch64"], "musllinux_1_2_aarch64"),
    ("musl", ["macosx_13_0_x86_64", "macosx_11_0_x86_64", "macosx_10_13_x86_64", "macosx_10_9_x86_64"], "x86_64"),
    ("glibc", ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"], "x86_64"),
    ("glibc", ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"], "aarch64"),
    ("glibc", ["win_amd64"], "win_amd64"),
    ("glibc", ["macosx_14_0_arm64", "macosx_11_0_arm64"], "arm64"),
]


def pins(*files: str) -> set[str]:
    names = set()
    for name in files:
        for line in (PLUGIN / name).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                names.add(line.split("==")[0].strip().lower().replace("_", "-"))
    return names


# Every target on the oldest supported Python, and the musl (Stash's Docker image) targets on the newest too;
# the full matrix (3.11-3.13 everywhere) was checked when the pins were chosen (the issue #8 note).
CASES = [(*target, "3.11") for target in TARGETS] + [(*target, "3.13") for target in TARGETS[:2]]


def _argv(target: Path, flavour: str, platforms: list[str], python: str) -> list[str]:
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
            "--ignore-installed", "--no-deps", "--only-binary", ":all:", "--implementation", "cp",
            "--python-version", python, "--target", str(target / "target"), "--report", str(target / "report.json"),
            "-r", str(PLUGIN / "requirements.txt"), "-r", str(PLUGIN / f"requirements-{flavour}.txt")]
    for platform_tag in platforms:
        argv += ["--platform", platform_tag]
    return argv


@pytest.fixture(scope="module")
def resolved() -> dict[str, list[str]]:
    """Case id -> the wheel files pip chose: from the record when it is of these pins and cases, else from
    every case's pip run, started together (pip mostly waits on the index, so they overlap), then recorded."""
    pinned = b"".join((PLUGIN / name).read_bytes() for name in
                      ("requirements.txt", "requirements-musl.txt", "requirements-glibc.txt"))
    key = hashlib.sha256(pinned + repr(CASES).encode()).hexdigest()[:16]
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(RECORD.read_text(encoding="utf-8"))
        if record.get("key") == key:
            return dict(record["wheels"])
    require_package_index("pip resolves each platform's wheels from the index")
    wheels = {}
    for case_id, (code, output, chosen) in _resolve().items():
        assert code == 0, f"{case_id}: {output[-2000:]}"
        wheels[case_id] = chosen
    RECORD.write_text(json.dumps({"key": key, "wheels": wheels}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return wheels


def _resolve() -> dict[str, tuple[int, str, list[str]]]:
    """Case id -> (pip's exit status, its output, the wheel files it chose)."""
    with tempfile.TemporaryDirectory() as scratch:
        running = {}
        for number, case in enumerate(CASES):
            folder = Path(scratch) / str(number)
            folder.mkdir()
            running[_case_id(case)] = (subprocess.Popen(_argv(folder, case[0], case[1], case[3]),
                                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
                                       folder / "report.json")
        results = {}
        for case_id, (process, report) in running.items():
            output, _ = process.communicate(timeout=300)
            chosen = json.loads(report.read_text(encoding="utf-8"))["install"] if process.returncode == 0 else []
            results[case_id] = (process.returncode, output,
                                [item["download_info"]["url"].rsplit("/", 1)[-1] for item in chosen])
        return results


def _case_id(case: tuple[str, list[str], str, str]) -> str:
    return f"{case[0]}-{case[2]}-{case[3]}"


# One worker runs them all, so the pip runs are started once and overlap.
@pytest.mark.xdist_group("platform-wheels")
@pytest.mark.parametrize(("flavour", "platforms", "tag", "python"), CASES, ids=[_case_id(c) for c in CASES])
def test_the_chosen_requirements_resolve_to_wheels(resolved, flavour, platforms, tag, python):
    wheels = resolved[_case_id((flavour, platforms, tag, python))]
    got = {wheel.split("-")[0].lower().replace("_", "-") for wheel in wheels}
    assert got == pins("requirements.txt", f"requirements-{flavour}.txt")
    compiled = [wheel for wheel in wheels if not wheel.endswith("-none-any.whl")]
    assert compiled and all(tag in wheel for wheel in compiled), compiled
    assert all(f"cp{python.replace('.', '')}" in wheel or "abi3" in wheel for wheel in compiled), compiled
