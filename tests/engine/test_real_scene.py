"""A scene made of real photos, read from Stash's stream, recognized by the built-in engine: the performer who
is on screen for a minute is linked, a person seen in one sampled frame is not, the user's own performer stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from stash_compreface import imaging
from testdoubles.photos import Photos
from tests.library import MATCHED, SCANNED, SYNCED
from tests.video.videos import write_h264

SAMPLE_S = 10


pytestmark = pytest.mark.world(settings={"faceEngine": "builtin", "frameInterval": SAMPLE_S})


def _on_screen(photo: bytes, shift: int) -> Image.Image:
    """The photo on a 640x360 grey screen, moved a little so consecutive samples are not duplicates."""
    picture = imaging.decode_rgb(photo)
    picture.thumbnail((320, 300))
    screen = Image.new("RGB", (640, 360), (90 + shift * 7 % 60, 100, 110))
    screen.paste(picture, (60 + shift * 11 % 200, 30))
    return screen


def test_a_performer_on_screen_for_a_minute_is_linked_and_a_passer_by_is_not(world, photos: Photos,
                                                                             tmp_path: Path) -> None:
    stash = world.stash
    obama = stash.add_performer("Obama", image=photos["obama_1"])
    macron = stash.add_performer("Macron", image=photos["macron_2014"])
    own = stash.add_performer("Someone the user added")
    assert world.run("synchronizePerformers").error is None
    assert SYNCED in stash.tag_names("performer", obama)

    # Eight 10-second samples: Obama for a minute (six samples), Macron in one sample only, then nobody.
    timeline = ["obama_2", "obama_3", "obama_2", "macron_2025", "obama_3", "obama_2", "obama_3", None]
    screens = [_on_screen(photos[name], i) if name else Image.new("RGB", (640, 360), (40, 40, 40))
               for i, name in enumerate(timeline)]
    video = write_h264(tmp_path / "scene.mp4", seconds=len(timeline) * SAMPLE_S, fps=1, gop_s=SAMPLE_S,
                       size=(640, 360), picture=lambda t: screens[min(int(t // SAMPLE_S), len(screens) - 1)])
    scene = stash.add_scene("Interview", path="/media/not-mounted-here/interview.mp4", video=video.read_bytes(),
                            duration=float(len(timeline) * SAMPLE_S), performers=[own])

    run = world.run("recognizeNewScenes")

    assert run.error is None, run.logs
    assert set(stash.scenes[scene].performer_ids) == {obama, own}  # not Macron: one frame is not evidence
    assert macron not in stash.scenes[scene].performer_ids
    assert stash.tag_names("scene", scene) == {SCANNED, MATCHED}
    assert sum(world.compreface.calls.values()) == 0  # the built-in engine alone


def test_the_built_in_engine_gets_a_frames_own_pixels_and_compreface_a_jpeg(photos: Photos, model) -> None:
    """A sampled frame reaches the built-in engine as it was decoded (no JPEG round trip: nothing lost, and
    ~18 CPU-ms less per 1080p frame); CompreFace, across the network, gets the smaller JPEG."""
    import numpy as np

    from stash_compreface.compreface.client import CompreFaceClient
    from stash_compreface.engine.service import BuiltinFaceService
    from stash_compreface.tasks.scenes.frame_faces import picture_bytes

    frame = _on_screen(photos["obama_2"], 0)
    sent = picture_bytes(BuiltinFaceService(None, backend=model), frame)
    assert np.array_equal(np.asarray(imaging.decode_rgb(sent)), np.asarray(frame))
    remote = CompreFaceClient("http://127.0.0.1:9", recognition_key="key")
    assert picture_bytes(remote, frame)[:3] == b"\xff\xd8\xff"
