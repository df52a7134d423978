"""The command line against the doubles: exit codes, settings overrides, JSON result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.synthetic import SyntheticFace, draw_image

API_KEY = "stash-api-key-for-cli-tests"


@pytest.fixture
def doubles():
    with CompreFaceDouble.running() as compreface, StashDouble.running(api_key=API_KEY) as stash:
        stash.configure_plugin("compreface", {"comprefaceUrl": compreface.url, "recognitionApiKey": RECOGNITION_KEY})
        yield stash, compreface


def cli(*args: str, state_dir: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stash_compreface", *args, "--state-dir", state_dir],
                          capture_output=True, text=True, timeout=120)


def test_run_a_task_with_an_api_key_and_overrides(doubles, tmp_path) -> None:
    stash, _ = doubles
    image = stash.add_image(draw_image(480, 360, [SyntheticFace(5, 100, 80, 150)]))
    done = cli("run", "recognizeImagesHQ", "--stash-url", stash.url, "--api-key", API_KEY,
               "--set", "minFacesForNewPerformer=1", "--arg", "limit=5", state_dir=str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["processed"] == 1 and result["created_performers"] == 1
    assert stash.tag_names("image", image) == {"Compreface Scanned", "Compreface Matched"}
    assert API_KEY not in done.stderr and RECOGNITION_KEY not in done.stderr


def test_bad_setting_fails_with_its_name(doubles, tmp_path) -> None:
    stash, _ = doubles
    done = cli("run", "recognizeImagesHQ", "--stash-url", stash.url, "--api-key", API_KEY,
               "--set", "minSimilarity=2.5", state_dir=str(tmp_path))
    assert done.returncode == 1
    assert "minSimilarity must be a fraction 0..1" in done.stderr


def test_wrong_api_key_is_an_auth_error(doubles, tmp_path) -> None:
    stash, _ = doubles
    done = cli("run", "resetUnmatchedImages", "--stash-url", stash.url, "--api-key", "wrong",
               state_dir=str(tmp_path))
    assert done.returncode == 1 and "API key" in done.stderr


def test_dry_run_flag(doubles, tmp_path) -> None:
    stash, _ = doubles
    stash.add_image(draw_image(480, 360, [SyntheticFace(5, 100, 80, 150)]))
    done = cli("run", "recognizeImagesHQ", "--stash-url", stash.url, "--api-key", API_KEY, "--dry-run",
               state_dir=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert stash.mutation_count() == 0


def test_settings_lists_every_setting_with_default_range_and_meaning(capsys) -> None:
    from stash_compreface.cli import main
    from stash_compreface.settings import SETTINGS

    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    blocks = {block.split("\n", 1)[0]: " ".join(block.split()) for block in out.split("\n\n")[1:]}
    assert list(blocks) == [spec.name for spec in SETTINGS]
    batch = blocks["maxBatchSize"]
    assert "default 20" in batch and "range 1-1000" in batch and "per batch" in batch
    assert "default http://vision-frame-server:5001" in blocks["frameServerUrl"]
    assert "default 30" in blocks["requestTimeout"] and "range 5-600" in blocks["requestTimeout"]


def test_settings_manifest_block_is_what_the_manifest_declares(capsys) -> None:
    from pathlib import Path

    import yaml

    from stash_compreface.cli import main

    assert main(["settings", "--manifest"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)["settings"]
    manifest = Path(__file__).resolve().parents[1] / "plugin" / "compreface.yml"
    assert printed == yaml.safe_load(manifest.read_text(encoding="utf-8"))["settings"]


def test_a_misspelt_set_name_is_refused_before_connecting() -> None:
    from stash_compreface.cli import main

    with pytest.raises(SystemExit, match="unknown setting maxBatchSise"):
        main(["run", "recognizeImagesHQ", "--stash-url", "http://127.0.0.1:9", "--set", "maxBatchSise=5"])


def test_without_the_plugins_state_a_built_in_engine_run_is_refused_and_says_why(tmp_path) -> None:
    """Stash on another machine: a run here would start a second, empty face store beside the plugin's."""
    with StashDouble.running(api_key=API_KEY) as stash:
        stash.plugins_path = "/srv/elsewhere/plugins"  # Stash's folder, not on this machine
        stash.configure_plugin("compreface", {})  # no CompreFace key: the built-in engine
        done = subprocess.run([sys.executable, "-m", "stash_compreface", "run", "recognizeImagesHQ", "--stash-url",
                               stash.url, "--api-key", API_KEY], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
        assert done.returncode == 1
        assert "--state-dir" in done.stderr and "/srv/elsewhere/plugins" in done.stderr
        assert stash.mutation_count() == 0 and not any(tmp_path.iterdir())


def test_with_compreface_a_run_away_from_the_plugin_keeps_its_own_state_and_says_where(doubles, tmp_path) -> None:
    stash, _ = doubles
    done = subprocess.run([sys.executable, "-m", "stash_compreface", "run", "resetUnmatchedImages", "--stash-url",
                           stash.url, "--api-key", API_KEY], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert f"keeps its own sightings and undo journal in {tmp_path / 'stash-compreface'}" in done.stderr


def test_a_look_never_waits_for_a_running_task_but_a_writing_run_does(doubles, tmp_path) -> None:
    """The image page's Faces button (identifyImage, associateExisting false) only reads: it answers at once
    while a scan holds the library; the same mode asked to link waits its turn (--no-wait: refused)."""
    stash, _ = doubles
    image = stash.add_image(draw_image(480, 360, [SyntheticFace(5, 100, 80, 150)]))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom pathlib import Path\nfrom stash_compreface.runtime.runlock import RunLock\n"
        f"with RunLock(Path({str(tmp_path)!r})):\n    print('locked', flush=True)\n    time.sleep(120)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        look = cli("run", "identifyImage", "--stash-url", stash.url, "--api-key", API_KEY, "--arg", f"imageId={image}",
                   "--arg", "associateExisting=false", "--no-wait", state_dir=str(tmp_path))
        assert look.returncode == 0, look.stderr
        assert len(json.loads(look.stdout)["faces"]) == 1 and stash.mutation_count() == 0
        link = cli("run", "identifyImage", "--stash-url", stash.url, "--api-key", API_KEY, "--arg", f"imageId={image}",
                   "--no-wait", state_dir=str(tmp_path))
        assert link.returncode == 1 and "holds this Stash library" in link.stderr
    finally:
        holder.kill()
        holder.wait(30)
