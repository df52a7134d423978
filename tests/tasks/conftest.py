"""Every task mode in-process: a real TaskContext against fresh HTTP doubles, run through ``tasks.run``.

This is the one place that builds a context for tests. It goes through the same public builder as the
plugin runtime and the CLI (``runtime.session.task_context``), so settings are read from the Stash double
as Stash stores them, and the task arguments start from the manifest's defaultArgs as the Stash UI sends
them (strings). Tests then assert only what a user sees: tags, performers, aliases, subjects, log lines
and the returned output.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from stash_compreface import tasks, transport
from stash_compreface.engine.service import BuiltinFaceService
from stash_compreface.errors import PluginError
from stash_compreface.runtime.session import task_context
from stash_compreface.settings import parse_args
from stash_compreface.vision import client as vision_client
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.reporter import MemoryReporter
from testdoubles.stash import StashDouble
from testdoubles.stash_runner import default_args, find_manifest, listed_task
from testdoubles.synthetic import SyntheticFace, render
from tests.library import COOKIE, assert_no_secrets
from tests.video.videos import write_h264

PLUGIN_SRC = Path(__file__).resolve().parents[2] / "plugin"


def ui_args(mode: str) -> dict[str, str]:
    """A listed task's defaultArgs as the Stash UI sends them (every value a string); an operation (a mode
    Settings > Tasks does not list) gets only its mode, as the UI plugin's runPluginOperation sends it."""
    task = listed_task(PLUGIN_SRC, mode)
    if task is None:
        return {"mode": mode}
    manifest = find_manifest(PLUGIN_SRC)
    return default_args(manifest.read_text(encoding="utf-8"), task)


class _Reporter(MemoryReporter):
    """Records everything; with ``stop_at`` it asks the run to stop at that progress report (the CLI's Ctrl-C)."""

    def __init__(self, stop: threading.Event, stop_at: int | None) -> None:
        super().__init__()
        self.stop = stop
        self.stop_at = stop_at

    def progress(self, fraction: float) -> None:
        super().progress(fraction)
        if self.stop_at is not None and len(self.fractions) >= self.stop_at:
            self.stop.set()


@dataclass
class TaskRun:
    """What Stash would show of a run: the output or the error, and the log."""

    output: Any
    error: str | None
    logs: list[tuple[str, str]]
    progress: list[float]

    def messages(self, level: str | None = None) -> list[str]:
        return [message for lv, message in self.logs if level is None or lv == level]


@dataclass
class TaskWorld:
    stash: StashDouble
    compreface: CompreFaceDouble
    state_dir: Path
    runs: list[TaskRun] = field(default_factory=list)

    def configure(self, **settings: Any) -> None:
        """The plugin settings as saved in Stash (on top of a working CompreFace URL and key)."""
        base = {"faceEngine": "compreface", "comprefaceUrl": self.compreface.url, "recognitionApiKey": RECOGNITION_KEY}
        self.stash.configure_plugin("compreface", {**base, **settings})

    def run(self, mode: str, *, stop_at_progress: int | None = None, **args: Any) -> TaskRun:
        """Run ``mode`` as the UI would (defaultArgs), plus ``args`` as the API would send them.

        A PluginError becomes the run's error, as the plugin runtime reports it (a stop ends as "stopped
        on request"); anything else is a bug and fails the test with its traceback.
        """
        stop = threading.Event()
        reporter = _Reporter(stop, stop_at_progress)
        output: Any = None
        error: str | None = None
        try:
            parsed = parse_args({**ui_args(mode), **args})
            with task_context(stash_url=self.stash.url, reporter=reporter, state_dir=self.state_dir,
                              session_cookie=COOKIE, stop=stop,
                              take_lock=tasks.task_for(mode).writes_with(parsed)) as ctx:  # as the plugin does
                output = tasks.run(mode, ctx, parsed)
        except PluginError as exc:
            error = str(exc)
        run = TaskRun(output=output, error=error, logs=list(reporter.lines), progress=list(reporter.fractions))
        assert_no_secrets([*run.messages(), json.dumps(run.output, default=str), run.error or ""])
        self.runs.append(run)
        return run



@contextlib.contextmanager
def task_world(tmp_path: Path, *, engine: str | None = None,
               settings: dict[str, Any] | None = None) -> Iterator[TaskWorld]:
    """Fresh Stash and CompreFace doubles, configured as a user would, and a private state dir; ``engine``
    "builtin" puts the plugin's own face engine behind the CompreFace double (real photos); ``settings``
    replaces the default plugin settings (a working CompreFace URL and key) with exactly these."""
    with pytest.MonkeyPatch.context() as patch, CompreFaceDouble.running(engine=engine) as compreface, \
            StashDouble.running(session_cookie=COOKIE) as stash:
        # The task's clients retry and poll as in production, only sooner: the same faults, fewer idle seconds.
        patch.setattr(transport, "DEFAULT_BACKOFF_S", 0.02)
        patch.setattr(vision_client, "FIRST_POLL_S", 0.02)
        w = TaskWorld(stash=stash, compreface=compreface, state_dir=tmp_path / "state")
        if settings is None:
            w.configure()
        else:
            stash.configure_plugin("compreface", settings)
        yield w


def builtin_store(world: TaskWorld) -> dict[str, int]:
    """The built-in engine's subjects and how many examples each holds, as the plugin would read them."""
    service = BuiltinFaceService(world.state_dir)
    try:
        return {subject: service.count_examples(subject) for subject in service.list_subjects()}
    finally:
        service.close()


# -- scenes with real videos (H.264 files of synthetic faces) ----------------------------------------

SAMPLE_S = 5


def frame(persons: list[int], seed: int) -> Image.Image:
    """A 640x360 frame with one 150 px face per person, side by side (the first moves a little)."""
    faces = [SyntheticFace(p, 30 + 200 * i + (seed % 5) * 4, 60, 150 if i == 0 else 110) for i, p in enumerate(persons)]
    return render(640, 360, faces, seed=seed)


class Videos:
    """Scenes whose video shows, in each 5-second sample, the persons listed for it."""

    def __init__(self, world: TaskWorld, folder: Path) -> None:
        self.world = world
        self.folder = folder

    def scene(self, title: str, samples: list[list[int]], **scene: object) -> str:
        pictures = [frame(persons, seed=i) for i, persons in enumerate(samples)]
        path = write_h264(self.folder / f"{title}.mp4", seconds=len(samples) * SAMPLE_S, fps=1, gop_s=SAMPLE_S,
                          size=(640, 360), picture=lambda t: pictures[min(int(t // SAMPLE_S), len(pictures) - 1)])
        return self.world.stash.add_scene(title, path=f"/media/not-mounted-here/{title}.mp4", video=path.read_bytes(),
                                          duration=float(len(samples) * SAMPLE_S), **scene)  # type: ignore[arg-type]


@pytest.fixture
def videos(world: TaskWorld, tmp_path: Path) -> Videos:
    world.configure(frameInterval=SAMPLE_S)
    return Videos(world, tmp_path)
