"""One state per Stash library, whoever runs it: the plugin's tasks and the command line on the same machine share
the run lock, the sightings and the undo journal (issue 14); the engine a run uses is never a surprise."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from testdoubles.compreface import RECOGNITION_KEY
from testdoubles.stash_runner import run_plugin
from tests.e2e.world import COOKIE, World
from tests.library import photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

SRC = str(Path(__file__).resolve().parents[2] / "src")
API_KEY = "stash-api-key-for-the-one-state-test"


@contextlib.contextmanager
def plugin_data_folder(plugin_dir: Path) -> Iterator[Path]:
    """The shared plugin folder's own ``data/``, emptied again afterwards (other tests use stateDir)."""
    data = plugin_dir / "data"
    before = set(data.iterdir()) if data.is_dir() else set()
    try:
        yield data
    finally:
        if data.is_dir():
            for path in set(data.iterdir()) - before:
                if path.is_file():
                    path.unlink()


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "stash_compreface", "run", *args, "--stash-url", world.stash.url,
                           "--api-key", API_KEY], capture_output=True, text=True, timeout=120, env=env)


def test_the_command_line_shares_the_plugins_lock_sightings_and_journal(world: World, plugin_dir: Path) -> None:
    world.stash.api_key = API_KEY  # the command line signs in with Stash's API key, the plugin with its cookie
    world.stash.plugins_path = str(plugin_dir.parent.parent)  # <plugins>/community/compreface, as Stash installs it
    world.stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url,
                                                "recognitionApiKey": RECOGNITION_KEY})  # no stateDir
    first = world.stash.add_image(photo(7))
    second = world.stash.add_image(photo(7, seed=3))
    with plugin_data_folder(plugin_dir) as data:
        task = world.run("recognizeImagesHQ", limit="1")  # sees the stranger once: a candidate, no performer
        assert task.error is None, task.logs
        assert task.output["created_performers"] == 0 and (data / "state.sqlite3").is_file()

        holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from stash_compreface.runtime.runlock import RunLock
            with RunLock(Path({str(data)!r})):
                print("locked", flush=True)
                time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            refused = cli(world, "recognizeImagesHQ", "--no-wait")
            assert refused.returncode == 1 and f"lock {data / 'run.lock'}" in refused.stderr
        finally:
            holder.kill()
            holder.wait(30)

        done = cli(world, "recognizeImagesHQ")  # the second sighting, counted with the plugin's first
        assert done.returncode == 0, done.stderr
        output = json.loads(done.stdout)
        assert output["created_performers"] == 1
        created = {p for image in (first, second) for p in world.stash.images[image].performer_ids}
        assert len(created) == 1

        undo = run_plugin(plugin_dir, args={"mode": "undoRun", "runId": str(output["runId"])},
                          port=world.stash.port, cookie=COOKIE)  # the plugin undoes the command line's run
        assert undo.error is None, undo.logs
        assert all(not world.stash.images[image].performer_ids for image in (first, second))


def test_a_refused_key_stops_the_task_naming_it_and_nothing_is_written(world: World) -> None:
    """faceEngine auto with a key CompreFace refuses: no silent switch to the (empty) built-in engine."""
    world.configure(faceEngine="auto", recognitionApiKey="00000000-0000-0000-0000-0000000000ff")
    world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    assert run.error is not None and "recognitionApiKey" in run.error
    assert world.stash.mutation_count() == 0
    first_info = next(message for level, message in run.logs if level == "info")
    assert first_info.startswith(f"Face engine: CompreFace at {world.compreface.url} (faceEngine auto")


def test_no_key_at_all_runs_the_built_in_engine_and_says_so_first(world: World) -> None:
    world.stash.configure_plugin("compreface", {"stateDir": str(world.state_dir)})
    run = world.run("resetUnmatchedImages")
    assert run.error is None, run.logs
    first_info = next(message for level, message in run.logs if level == "info")
    assert first_info.startswith("Face engine: built-in (faceEngine auto, no Recognition API Key); faces in "
                                 f"{world.state_dir / 'faces.sqlite3'}")
