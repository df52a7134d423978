"""Settings as the user saved them in Stash: the ones that stop a run name themselves, old ones still count."""

from __future__ import annotations

from testdoubles.compreface import RECOGNITION_KEY
from tests.library import MATCHED, enrol, image_tags, photo
from tests.tasks.conftest import TaskWorld


def test_unreachable_compreface_names_the_url_setting(world: TaskWorld) -> None:
    world.configure(comprefaceUrl="http://127.0.0.1:9")
    world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    assert run.error is not None and "comprefaceUrl" in run.error
    assert world.stash.mutation_count() == 0


def test_missing_recognition_key_names_the_setting_when_compreface_is_the_engine(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {"faceEngine": "compreface", "comprefaceUrl": world.compreface.url})
    world.stash.add_image(photo(1))
    run = world.run("identifyImagesNew")
    assert run.error is not None and "recognitionApiKey" in run.error
    assert world.stash.mutation_count() == 0


def test_auto_without_a_key_uses_the_built_in_engine_and_says_so(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url})
    image = world.stash.add_image(photo(1))
    run = world.run("identifyImagesNew")
    assert run.error is None and image_tags(world, image) == {"Compreface Scanned"}
    assert run.logs[0][0] == "info" and run.logs[0][1].startswith("Face engine: built-in (faceEngine auto, no "
                                                                   "Recognition API Key)")
    assert str(world.state_dir / "faces.sqlite3") in run.logs[0][1]
    assert sum(world.compreface.calls.values()) == 0  # nothing was sent to CompreFace


def test_auto_with_a_refused_key_stops_naming_the_key_and_writes_nothing(world: TaskWorld) -> None:
    """A stale key must not switch engines: the empty built-in store would make everyone a new performer."""
    world.stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url,
                                                "recognitionApiKey": "00000000-0000-0000-0000-0000000000ff"})
    enrol(world, "Alice", 1)
    world.stash.add_image(photo(1))
    world.stash.add_image(photo(2))
    for mode in ("synchronizePerformers", "recognizeImagesHQ"):
        run = world.run(mode)
        assert run.error is not None and "recognitionApiKey" in run.error, mode
        assert run.logs[0][1].startswith("Face engine: CompreFace at " + world.compreface.url)
    assert world.stash.mutation_count() == 0
    assert not (world.state_dir / "faces.sqlite3").exists()


def test_auto_with_a_key_and_no_compreface_stops_naming_the_url(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {"comprefaceUrl": "http://127.0.0.1:9",
                                                "recognitionApiKey": RECOGNITION_KEY})
    world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    assert run.error is not None and "comprefaceUrl" in run.error
    assert world.stash.mutation_count() == 0


def test_settings_saved_under_the_original_plugin_id_are_used(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {})
    world.stash.configure_plugin("compreface-rpc", {"comprefaceUrl": world.compreface.url,
                                                    "recognitionApiKey": RECOGNITION_KEY})
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    assert world.run("identifyImagesNew").error is None
    assert MATCHED in image_tags(world, image)

