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
    assert any("Face engine: built-in" in m for m in run.messages("info"))
    assert sum(world.compreface.calls.values()) == 0  # nothing was sent to CompreFace


def test_auto_with_a_working_compreface_uses_it(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url,
                                                "recognitionApiKey": RECOGNITION_KEY})
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    run = world.run("identifyImagesNew")
    assert run.error is None and MATCHED in image_tags(world, image)
    assert any("Face engine: CompreFace" in m for m in run.messages("info"))


def test_settings_saved_under_the_original_plugin_id_are_used(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {})
    world.stash.configure_plugin("compreface-rpc", {"comprefaceUrl": world.compreface.url,
                                                    "recognitionApiKey": RECOGNITION_KEY})
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    assert world.run("identifyImagesNew").error is None
    assert MATCHED in image_tags(world, image)

