"""A Stash library, a CompreFace and the assembled plugin, wired together as Stash would run them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testdoubles.compreface import DETECTION_KEY, RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.stash_runner import PluginRun, mode_call, run_plugin

COOKIE = "MTczNjk1ODQwMHxEdi1CQkFFQ180SUFBUkFCRUFBQVpQLUNBQUVHYzNSeWFXNW5EQXdBQ25WelpYSmZhV1FHYzNSeWFXNW58"


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
        assert_no_secrets(run)
        self.runs.append(run)
        return run


SECRETS = (COOKIE, RECOGNITION_KEY, DETECTION_KEY)


def assert_no_secrets(run: PluginRun) -> None:
    """No log line, and not the output, may carry the session cookie or an API key."""
    texts = [message for _, message in run.logs] + [run.stdout]
    for secret in SECRETS:
        leaked = [t for t in texts if secret in t]
        assert not leaked, f"secret leaked into {len(leaked)} line(s): {leaked[0][:200]}"
