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


def test_missing_recognition_key_names_the_setting(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {"comprefaceUrl": world.compreface.url})
    world.stash.add_image(photo(1))
    run = world.run("identifyImagesNew")
    assert run.error is not None and "recognitionApiKey" in run.error
    assert world.stash.mutation_count() == 0


def test_settings_saved_under_the_original_plugin_id_are_used(world: TaskWorld) -> None:
    world.stash.configure_plugin("compreface", {})
    world.stash.configure_plugin("compreface-rpc", {"comprefaceUrl": world.compreface.url,
                                                    "recognitionApiKey": RECOGNITION_KEY})
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    assert world.run("identifyImagesNew").error is None
    assert MATCHED in image_tags(world, image)

