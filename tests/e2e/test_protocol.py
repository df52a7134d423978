"""What Stash sees of any run: one JSON object, prefixed log lines, secrets kept out, settings errors named."""

from __future__ import annotations

import json

import pytest

from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.stash_runner import run_plugin, task_for_mode
from tests.e2e.world import World
from tests.library import COOKIE, assert_no_secrets, enrol, photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

STASH_API_KEY = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.stash-api-key"


def test_stash_api_key_is_used_for_long_runs_and_never_logged(plugin_dir, tmp_path) -> None:
    with CompreFaceDouble.running() as compreface, \
            StashDouble.running(api_key=STASH_API_KEY, session_cookie=COOKIE) as stash:
        world = World(stash=stash, compreface=compreface, plugin_dir=plugin_dir, state_dir=tmp_path)
        world.configure()
        enrol(world, "Alice", 1)
        image = stash.add_image(photo(1))
        stash.add_scene("Clip")  # its stream URL carries ?apikey=
        run = world.run("recognizeImagesHQ")
        assert run.error is None
        assert stash.tag_names("image", image) == {"Compreface Scanned", "Compreface Matched"}
        assert stash.auth_failures == 0 and stash.requests_without_cookie == 0
        assert all(STASH_API_KEY not in m for _, m in run.logs) and STASH_API_KEY not in run.stdout


def test_stdout_is_one_json_object_and_every_line_is_prefixed(world: World) -> None:
    enrol(world, "Alice", 1)
    world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    decoded = json.loads(run.stdout)
    assert set(decoded) == {"output", "error"} and decoded["error"] is None
    assert run.unprefixed == []
    assert run.progress and run.progress[-1] == 1.0
    assert all(0.0 <= p <= 1.0 for p in run.progress)


def test_bad_settings_stop_the_run_naming_each_setting(world: World) -> None:
    world.configure(minSimilarity="very", maxConcurrency=0)
    run = world.run("recognizeImagesHQ")
    assert run.error is not None
    assert "minSimilarity must be a fraction 0..1" in run.error
    assert "maxConcurrency must be a whole number in 1..32" in run.error
    assert world.stash.mutation_count() == 0


def test_null_session_cookie_without_credentials(world: World, tmp_path) -> None:
    with StashDouble.running() as open_stash:
        open_stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url,
                                                   "recognitionApiKey": RECOGNITION_KEY, "stateDir": str(tmp_path)})
        image = open_stash.add_image(photo(3))
        run = run_plugin(world.plugin_dir, task=task_for_mode(world.plugin_dir, "identifyImagesNew"),
                         port=open_stash.port, cookie=None)
        assert_no_secrets([*run.messages(), run.stdout])
        assert run.error is None
        assert open_stash.tag_names("image", image) == {"Compreface Scanned", "Compreface Unidentified"}


def test_input_of_the_wrong_shape_is_one_clear_error() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "stash_compreface", "plugin"], capture_output=True, text=True,
                          input='{"server_connection": {"Port": 9}, "args": ["not", "a", "map"]}', timeout=60)
    result = json.loads(done.stdout)
    assert result["output"] is None and "args must be an object" in result["error"]
    lines = [line for line in done.stderr.splitlines() if line]
    assert lines and all(line.startswith("\x01") for line in lines)
    assert not any("Traceback" in line for line in lines)
