"""Shared plugin folder for the end-to-end tests, bootstrapped once per session like a user's first run."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.build_plugin import PLUGIN_SRC, assemble
from testdoubles.stash_runner import PluginRun, run_plugin
from tests.bootstrap_script import load_bootstrap
from tests.package_index import require_package_index

# Long enough for a slow machine: the first run creates the venv and pip-installs requirements.txt.
BOOTSTRAP_TIMEOUT_S = 900


def free_port() -> int:
    """A loopback port nobody listens on, for runs that must not reach a Stash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _download_wheels(requirements: list[Path], dest: Path) -> None:
    """``pip download`` into a scratch folder renamed into place, so a half-done download is never used."""
    scratch = dest.with_name(dest.name + f".partial-{os.getpid()}")
    files = [arg for path in requirements for arg in ("-r", str(path))]
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--prefer-binary", *files, "-d", str(scratch)],
                          capture_output=True, text=True, timeout=BOOTSTRAP_TIMEOUT_S, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not download the plugin's requirements for the local index:\n{done.stdout}{done.stderr}")
    with contextlib.suppress(OSError):  # another session won the race: its copy is as good
        scratch.rename(dest)


def _engine_flavour() -> str:
    """The bootstrap's own choice of engine requirements for this machine."""
    bootstrap = load_bootstrap("plugin_bootstrap")
    return str(bootstrap.libc_flavour(platform.system(), platform.machine(), platform.libc_ver()))


@pytest.fixture(scope="session")
def pip_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment that makes the plugin's own pip install from a local folder of wheels, never the network.

    The wheels of the requirements files the bootstrap picks for this platform (plugin/requirements.txt and
    the face engine's) are downloaded once and kept in the pytest cache, keyed by their content, so later
    sessions do not touch the package index at all.
    """
    requirements = [PLUGIN_SRC / "requirements.txt", PLUGIN_SRC / f"requirements-{_engine_flavour()}.txt"]
    content = b"".join(path.read_bytes() for path in requirements)
    key = hashlib.sha256(content + sys.version.encode() + sys.platform.encode()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("plugin-wheels") if cache is not None else tmp_path_factory.mktemp("plugin-wheels")
    wheels = Path(root) / key
    if not wheels.is_dir():
        require_package_index(f"the plugin's wheels are not in {wheels.parent} yet: pip download them")
        _download_wheels(requirements, wheels)
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull}


@dataclass(frozen=True)
class Bootstrapped:
    """The session's plugin folder and how it got its venv: a first install that failed, then two runs at
    once over a lock a killed run left, one of which installed (``first_run``)."""

    plugin_dir: Path
    failed: PluginRun
    recovery: list[PluginRun]

    @property
    def first_run(self) -> PluginRun:
        return next(r for r in self.recovery if any(m.startswith("Setting up") for m in r.messages("info")))


BAD_REQUIREMENT = "stash-compreface-no-such-package==0.0.1"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="session")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory, pip_env: dict[str, str]) -> Bootstrapped:
    """The plugin folder is assembled into <plugins>/community/compreface, the layout Stash's package manager
    uses, and gets its venv as a user's would after a bad start: the first run's install fails (a requirement
    no index has), the user fixes requirements.txt, and the next two runs start at once (two tasks, or a task
    and the CLI) over the lock a run Stash killed left behind. One of them creates <plugin>/venv and installs
    requirements.txt from a package index exactly as on a user's machine (the local index of pip_env).
    tests/e2e/test_bootstrap.py checks each step; every other e2e test runs against this folder and its
    venv, so the install is paid once. Tests must not change this folder: a test that needs a broken or
    fresh variant copies it without venv/ into its own tmp_path."""
    plugins = tmp_path_factory.mktemp("stash-plugins") / "community"
    plugin_dir = assemble(plugins)
    requirements = plugin_dir / "requirements.txt"
    good = requirements.read_bytes()
    requirements.write_bytes(good + f"{BAD_REQUIREMENT}\n".encode())
    failed = run_plugin(plugin_dir, args={"mode": "nope"}, port=free_port(), timeout=BOOTSTRAP_TIMEOUT_S,
                        env=dict(pip_env))
    requirements.write_bytes(good)
    lock = plugin_dir / "venv.lock"
    lock.mkdir(exist_ok=True)
    (lock / "owner.json").write_text(
        json.dumps({"pid": dead_pid(), "host": socket.gethostname(), "time": time.time()}), encoding="utf-8")
    recovery: list[PluginRun] = []

    def one_run() -> None:
        recovery.append(run_plugin(plugin_dir, args={"mode": "nope"}, port=free_port(),
                                   timeout=BOOTSTRAP_TIMEOUT_S, env=dict(pip_env)))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not any(m.startswith("Python environment ready") for r in recovery for m in r.messages("info")):
        pytest.fail("plugin bootstrap failed:\n" + "\n".join(f"{r.error}: " + "\n".join(
            f"{lv}: {m}" for lv, m in r.logs) for r in recovery))
    return Bootstrapped(plugin_dir, failed, recovery)


@pytest.fixture(scope="session")
def plugin_dir(bootstrapped: Bootstrapped) -> Path:
    """The assembled plugin folder with a ready venv (shared by the session: do not modify it)."""
    return bootstrapped.plugin_dir


@pytest.fixture(scope="session")
def first_run(bootstrapped: Bootstrapped) -> PluginRun:
    """The run that created the venv (args ``{"mode": "nope"}``, no Stash listening), after a failed one."""
    return bootstrapped.first_run


@pytest.fixture
def world(plugin_dir: Path, tmp_path: Path):
    """Fresh Stash and CompreFace doubles per test, the shared plugin folder, a private state dir."""
    from testdoubles.compreface import CompreFaceDouble
    from testdoubles.stash import StashDouble
    from tests.e2e.world import COOKIE, World

    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash:
        w = World(stash=stash, compreface=compreface, plugin_dir=plugin_dir, state_dir=tmp_path / "state")
        w.configure()
        yield w
