"""The entry script as Stash runs it: venv on first run, reuse later, one clear JSON error on failure.

One real install, from the session's local wheel index (``pip_env``): the session fixture's, which follows
a failed install and is made by one of two runs started at once (tests/e2e/conftest.py). The script's
decisions (pip output, stale locks, marker, Python version) are unit-tested in tests/unit/test_bootstrap.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.build_plugin import assemble
from testdoubles.stash_runner import LEVELS, PluginRun, run_plugin
from tests.e2e.conftest import BAD_REQUIREMENT, Bootstrapped, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

MARKER = Path("venv") / "stash-compreface-installed.json"
BOOTSTRAP_WORDS = ("Setting up the plugin's Python environment", "Python environment ready",
                   "requirements.txt changed", "Installing", "Successfully installed")
VALID_LEVELS = set(LEVELS.values())


def venv_python(plugin_dir: Path) -> Path:
    return plugin_dir / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def assert_one_json_object(run: PluginRun) -> dict:
    """Stash json.Unmarshal's all of stdout: anything besides the one object turns it into a string."""
    decoded = json.loads(run.stdout)  # raises on a second object or stray text
    assert isinstance(decoded, dict)
    assert set(decoded) == {"output", "error"}
    return decoded


def assert_clean_stderr(run: PluginRun) -> None:
    assert run.unprefixed == [], f"stderr lines without a Stash level prefix: {run.unprefixed}"
    assert not run.scanner_overflow
    assert {level for level, _ in run.logs} <= VALID_LEVELS


def bootstrap_messages(run: PluginRun) -> list[str]:
    return [m for m in run.messages() if any(word in m for word in BOOTSTRAP_WORDS)]


def test_first_run_creates_the_venv_and_reaches_the_runtime(plugin_dir: Path, first_run: PluginRun):
    assert venv_python(plugin_dir).is_file()
    marker = json.loads((plugin_dir / MARKER).read_text(encoding="utf-8"))
    assert len(marker["requirements_sha256"]) == 64
    info = first_run.messages("info")
    assert any(m.startswith("Setting up the plugin's Python environment") for m in info)
    assert any(m.startswith("Successfully installed") and "httpx-" in m for m in info)
    assert not (plugin_dir / "venv.lock").exists()
    # The package is byte-compiled for the venv's Python, so no later run compiles it.
    assert list((plugin_dir / "stash_compreface" / "tasks" / "__pycache__").glob("recognize_images.*.pyc"))

    decoded = assert_one_json_object(first_run)
    assert decoded["output"] is None
    assert first_run.error is not None
    assert "unknown mode" in first_run.error and "nope" in first_run.error
    assert_clean_stderr(first_run)
    # Stash's argv: the interpreter it resolved for "python", then the script with {pluginDir} replaced.
    assert first_run.argv == [sys.executable, str(plugin_dir / "compreface.py")]


def test_second_run_reuses_the_venv_without_reinstalling(plugin_dir: Path, first_run: PluginRun):
    marker = plugin_dir / MARKER
    before = (marker.stat().st_mtime_ns, venv_python(plugin_dir).lstat().st_mtime_ns)

    run = run_plugin(plugin_dir, args={"mode": "nope"}, port=free_port())

    assert bootstrap_messages(run) == []
    assert (marker.stat().st_mtime_ns, venv_python(plugin_dir).lstat().st_mtime_ns) == before
    assert_one_json_object(run)
    assert run.error is not None and "nope" in run.error
    assert_clean_stderr(run)


def test_installed_plugin_tree_has_no_other_yml(plugin_dir: Path):
    # Stash loads every *.yml below its plugins folder as a manifest; the venv is part of that tree.
    assert sorted(p.relative_to(plugin_dir).as_posix() for p in plugin_dir.rglob("*.yml")) == ["compreface.yml"]


def test_a_failed_install_then_two_concurrent_runs_recover_with_one_install(bootstrapped: Bootstrapped):
    """The session's plugin folder got its venv this way (tests/e2e/conftest.py ``bootstrapped``): a first
    install that failed, requirements.txt fixed, then two runs at once over a lock a killed run left."""
    plugin_dir, failed = bootstrapped.plugin_dir, bootstrapped.failed
    assert failed.returncode == 1
    decoded = assert_one_json_object(failed)
    assert decoded["output"] is None
    assert "install" in failed.error.lower()
    assert BAD_REQUIREMENT.split("==")[0] in failed.error
    assert "\n" not in failed.error
    assert_clean_stderr(failed)
    assert any("No matching distribution" in m for m in failed.messages("error"))

    # Fixing requirements.txt was enough: the next run built the venv afresh and reached the runtime, and of
    # the two runs that started at once, one installed while the other waited for it.
    runs = bootstrapped.recovery
    assert len(runs) == 2
    setups = [r for r in runs if any(m.startswith("Setting up") for m in r.messages("info"))]
    assert len(setups) == 1
    assert any(m.startswith("Python environment ready") for m in setups[0].messages("info"))
    assert any("interrupted run" in m for r in runs for m in r.messages("warning"))
    for run in runs:
        assert_one_json_object(run)
        assert "nope" in (run.error or "") and "install" not in (run.error or "").lower()
        assert_clean_stderr(run)
    assert not (plugin_dir / "venv.lock").exists()
    assert (plugin_dir / MARKER).is_file()


def test_no_venv_env_runs_in_the_current_interpreter(tmp_path: Path):
    plugin = assemble(tmp_path / "community")
    run = run_plugin(plugin, args={"mode": "nope"}, port=free_port(), env={"STASH_COMPREFACE_NO_VENV": "1"})
    assert not (plugin / "venv").exists()
    assert bootstrap_messages(run) == []
    assert_one_json_object(run)
    assert "nope" in (run.error or "")
    assert_clean_stderr(run)


def _old_python() -> str | None:
    """A runnable Python older than 3.11 (pyenv shims exist for versions that are not selected)."""
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = [str(v / "bin" / "python") for v in sorted(pyenv.glob("3.*"), reverse=True)
                  if v.name.split(".")[1].isdigit() and int(v.name.split(".")[1]) < 11]
    candidates += [shutil.which(name) or "" for name in ("python3.10", "python3.9", "python3.8")]
    for exe in candidates:
        if not exe or not Path(exe).is_file():
            continue
        probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info >= (3, 8))"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return exe
    return None


OLD_PYTHON = _old_python()


@pytest.mark.skipif(OLD_PYTHON is None, reason="no Python older than 3.11 on this machine")
def test_too_old_python_gets_one_clear_error(tmp_path: Path):
    plugin = assemble(tmp_path / "community")
    run = run_plugin(plugin, args={"mode": "nope"}, port=free_port(), python=OLD_PYTHON)
    assert run.returncode == 1
    assert_one_json_object(run)
    assert "3.11" in run.error and "Python executable path" in run.error
    assert not (plugin / "venv").exists()
    assert_clean_stderr(run)
