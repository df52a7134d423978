"""One run per mode family through the assembled plugin, as Stash starts it (subprocess, stdin JSON).

What each mode does is tested in-process (tests/tasks); these prove that each family's code paths load and
talk to Stash, CompreFace and the vision service from inside the plugin's own venv. The image and
performer families run end to end in test_protocol.py, test_recognize_images.py and test_synchronize.py.
"""

from __future__ import annotations

import pytest

from testdoubles.vision import VisionDouble
from tests.e2e.world import World
from tests.library import ERROR, MATCHED, SCANNED, enrol, frames, photo, sprite

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv


def test_single_image_family(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    run = world.run("identifyImage", imageId=image)
    assert run.error is None
    assert run.output["faces"][0]["performer"] == {"id": alice, "name": "Alice"}
    assert world.stash.tag_names("image", image) == {SCANNED, MATCHED}


def test_gallery_family(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    gallery = world.stash.add_gallery("Trip", [world.stash.add_image(photo(1))])
    assert world.run("identifyGallery", galleryId=gallery).error is None
    assert world.stash.galleries[gallery].performer_ids == {alice}
    assert world.stash.tag_names("gallery", gallery) == {SCANNED, MATCHED}


def test_sprite_and_reset_family(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    sheet, vtt = sprite([1, 1, 1])
    scene = world.stash.add_scene("Clip", sprite=sheet, vtt=vtt)
    broken = world.stash.add_scene("Not generated")
    assert world.run("recognizeNewSceneSprites").error is None
    assert world.stash.scenes[scene].performer_ids == {alice}
    assert world.stash.tag_names("scene", broken) == {ERROR}
    reset = world.run("resetUnmatchedScenes")
    assert reset.error is None and reset.output["reset"] == 1
    assert world.stash.tag_names("scene", broken) == set()


def test_video_family(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    with VisionDouble.running() as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, 1, 1]))
        clip = world.stash.add_scene("A", path="/videos/a.mp4")
        assert world.run("recognizeAllScenes").error is None
        assert world.stash.scenes[clip].performer_ids == {alice}
        assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
