"""The entry script as Stash runs it: venv on first run, reuse later, one clear JSON error on failure.

Real installs only, each from the session's local wheel index (``pip_env``): the first run (the session
fixture), a failed install and its recovery, and two concurrent first runs. The script's decisions (pip
output, stale locks, marker, Python version) are unit-tested in tests/unit/test_bootstrap.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scripts.build_plugin import assemble
from testdoubles.stash_runner import LEVELS, PluginRun, run_plugin
from tests.e2e.conftest import BOOTSTRAP_TIMEOUT_S, free_port

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


def copy_without_venv(plugin_dir: Path, dest_root: Path) -> Path:
    target = dest_root / "community" / plugin_dir.name
    shutil.copytree(plugin_dir, target, ignore=shutil.ignore_patterns("venv", "venv.lock", "data", "__pycache__"))
    return target


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


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_failed_install_then_two_concurrent_runs_recover_with_one_install(plugin_dir: Path, tmp_path: Path,
                                                                         pip_env):
    copy = copy_without_venv(plugin_dir, tmp_path)
    requirements = copy / "requirements.txt"
    good = requirements.read_text(encoding="utf-8")
    requirements.write_text(good + "stash-compreface-no-such-package==0.0.1\n", encoding="utf-8")

    failed = run_plugin(copy, args={"mode": "nope"}, port=free_port(), timeout=BOOTSTRAP_TIMEOUT_S, env=pip_env)

    assert failed.returncode == 1
    decoded = assert_one_json_object(failed)
    assert decoded["output"] is None
    assert "install" in failed.error.lower()
    assert "stash-compreface-no-such-package" in failed.error
    assert "\n" not in failed.error
    assert_clean_stderr(failed)
    assert any("No matching distribution" in m for m in failed.messages("error"))
    assert not (copy / MARKER).exists()
    assert not (copy / "venv.lock").exists()

    # Fixing requirements.txt is enough: the next run builds the venv afresh and reaches the runtime. Two
    # runs start at once (two tasks, or a task and the CLI), and a lock is left by a run Stash killed.
    requirements.write_text(good, encoding="utf-8")
    lock = copy / "venv.lock"
    lock.mkdir()
    (lock / "owner.json").write_text(
        json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "time": time.time()}), encoding="utf-8"
    )
    runs: list[PluginRun] = []

    def one_run() -> None:
        runs.append(run_plugin(copy, args={"mode": "nope"}, port=free_port(), timeout=BOOTSTRAP_TIMEOUT_S,
                               env=pip_env))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(runs) == 2
    setups = [r for r in runs if any(m.startswith("Setting up") for m in r.messages("info"))]
    assert len(setups) == 1
    assert any(m.startswith("Python environment ready") for m in setups[0].messages("info"))
    assert any("interrupted run" in m for r in runs for m in r.messages("warning"))
    for run in runs:
        assert_one_json_object(run)
        assert "nope" in (run.error or "") and "install" not in (run.error or "").lower()
        assert_clean_stderr(run)
    assert not lock.exists()
    assert (copy / MARKER).is_file()


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
