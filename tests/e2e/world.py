"""A Stash library, a CompreFace and the assembled plugin, wired together as Stash would run them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.stash_runner import PluginRun, mode_call, run_plugin
from tests.library import COOKIE, assert_no_secrets


@dataclass
class World:
    stash: StashDouble
    compreface: CompreFaceDouble
    plugin_dir: Path
    state_dir: Path
    runs: list[PluginRun] = field(default_factory=list)

    def configure(self, **settings: Any) -> None:
        base = {"faceEngine": "compreface", "comprefaceUrl": self.compreface.url, "recognitionApiKey": RECOGNITION_KEY,
                "stateDir": str(self.state_dir)}
        self.stash.configure_plugin("compreface", {**base, **settings})

    def run(self, mode: str, *, kill_at_progress: int | None = None, timeout: float = 300,
            env: dict[str, str] | None = None, **args: Any) -> PluginRun:
        """Start the mode the way the Stash UI does: a listed task with its defaultArgs as strings, plus ``args``
        as the API would; an operation (not listed) with ``args`` alone, through runPluginOperation."""
        task, args = mode_call(self.plugin_dir, mode, args)
        run = run_plugin(self.plugin_dir, task=task, args=args,
                         port=self.stash.port, cookie=COOKIE, kill_at_progress=kill_at_progress, timeout=timeout,
                         env=env)
        assert_no_secrets([*run.messages(), run.stdout])
        self.runs.append(run)
        return run

