"""Shared plugin folder for the end-to-end tests, bootstrapped once per session like a user's first run."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.build_plugin import assemble
from testdoubles.stash_runner import PluginRun, run_plugin

# Long enough for a slow index: the first run creates the venv and pip-installs requirements.txt.
BOOTSTRAP_TIMEOUT_S = 900


def free_port() -> int:
    """A loopback port nobody listens on, for runs that must not reach a Stash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Bootstrapped:
    plugin_dir: Path
    first_run: PluginRun


@pytest.fixture(scope="session")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Bootstrapped:
    # Venv reuse: the plugin folder is assembled into <plugins>/community/compreface, the layout Stash's
    # package manager uses, and its first run creates <plugin>/venv and installs requirements.txt from
    # the package index exactly as on a user's machine. Every e2e test of the session then runs against
    # this one folder and its venv, so the install is paid once (pip's own cache speeds up later
    # sessions). Tests must not change this folder: a test that needs a broken or fresh variant copies it
    # without venv/ into its own tmp_path (and pays for its own install).
    plugins = tmp_path_factory.mktemp("stash-plugins") / "community"
    plugin_dir = assemble(plugins)
    first = run_plugin(plugin_dir, args={"mode": "nope"}, port=free_port(), timeout=BOOTSTRAP_TIMEOUT_S)
    if not any(m.startswith("Python environment ready") for m in first.messages("info")):
        pytest.fail(f"plugin bootstrap failed: {first.error}\n" + "\n".join(f"{lv}: {m}" for lv, m in first.logs))
    return Bootstrapped(plugin_dir, first)


@pytest.fixture(scope="session")
def plugin_dir(bootstrapped: Bootstrapped) -> Path:
    """The assembled plugin folder with a ready venv (shared by the session: do not modify it)."""
    return bootstrapped.plugin_dir


@pytest.fixture(scope="session")
def first_run(bootstrapped: Bootstrapped) -> PluginRun:
    """The run that created the venv (args ``{"mode": "nope"}``, no Stash listening)."""
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
