"""Scene sprite modes and resetUnmatchedScenes through the Stash-like runner."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from testdoubles.synthetic import SyntheticFace, draw_image, render
from testdoubles.vision import VisionDouble
from tests.e2e.library import enrol
from tests.e2e.world import World

pytestmark = pytest.mark.e2e

SCANNED, MATCHED, ERROR = "Compreface Scanned", "Compreface Matched", "Compreface Error"
CELL_W, CELL_H, GRID = 160, 90, 9


def sprite(cells: list[int | None]) -> tuple[bytes, str]:
    """A Stash-style sprite sheet (9 columns of 160x90 thumbnails) and its VTT; None = no face."""
    rows = -(-len(cells) // GRID)
    sheet = Image.new("RGB", (GRID * CELL_W, rows * CELL_H), (0, 0, 0))
    lines = ["WEBVTT", ""]
    for i, person in enumerate(cells):
        x, y = (i % GRID) * CELL_W, (i // GRID) * CELL_H
        faces = [] if person is None else [SyntheticFace(person, 50, 12, 66)]
        sheet.paste(render(CELL_W, CELL_H, faces, seed=i), (x, y))
        start, end = i * 5, (i + 1) * 5
        lines += [f"00:{start // 60:02d}:{start % 60:02d}.000 --> 00:{end // 60:02d}:{end % 60:02d}.000",
                  f"abc_sprite.jpg#xywh={x},{y},{CELL_W},{CELL_H}", ""]
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=90)
    return out.getvalue(), "\n".join(lines)


def test_sprites_link_performers_seen_consistently_not_strays(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    user = world.stash.add_performer("Carol")
    cells = [1 if i % 3 == 0 else None for i in range(27)]
    cells[4] = 2  # Bob in a single thumbnail: not enough evidence
    image, vtt = sprite(cells)
    scene = world.stash.add_scene("Clip", sprite=image, vtt=vtt, performers=[user])
    no_sprite = world.stash.add_scene("Not generated")
    run = world.run("recognizeNewSceneSprites")
    assert run.error is None
    assert set(world.stash.scenes[scene].performer_ids) == {user, alice}
    assert world.stash.tag_names("scene", scene) == {SCANNED, MATCHED}
    assert world.stash.tag_names("scene", no_sprite) == {ERROR}
    assert any(f"scene {no_sprite}" in m and "sprite" in m for m in run.messages("error"))
    # 27 thumbnails, nine per recognition
    assert world.compreface.calls["POST /api/v1/recognition/recognize"] == 3


def test_new_skips_scanned_scenes_all_revisits_them(world: World) -> None:
    enrol(world, "Alice", 1)
    image, vtt = sprite([1, None, 1, 1])
    scene = world.stash.add_scene("Clip", sprite=image, vtt=vtt)
    assert world.run("recognizeNewSceneSprites").error is None
    downloads = world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"]
    assert world.run("recognizeNewSceneSprites").error is None
    assert world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"] == downloads
    assert world.run("recognizeAllSceneSprites").error is None
    assert world.stash.calls[f"GET /scene/{world.stash.scenes[scene].oshash}_sprite.jpg"] == downloads + 1


def test_reset_unmatched_scenes(world: World) -> None:
    enrol(world, "Alice", 1)
    matched_image, matched_vtt = sprite([1, 1, 1])
    empty_image, empty_vtt = sprite([None, None])
    matched = world.stash.add_scene("A", sprite=matched_image, vtt=matched_vtt)
    empty = world.stash.add_scene("B", sprite=empty_image, vtt=empty_vtt)
    broken = world.stash.add_scene("C")
    assert world.run("recognizeNewSceneSprites").error is None
    run = world.run("resetUnmatchedScenes")
    assert run.error is None and run.output["reset"] == 2
    assert world.stash.tag_names("scene", matched) == {SCANNED, MATCHED}
    assert world.stash.tag_names("scene", empty) == set()
    assert world.stash.tag_names("scene", broken) == set()


def test_video_modes_need_the_vision_service(world: World) -> None:
    world.stash.add_scene("Clip", path="/videos/clip.mp4")
    run = world.run("recognizeNewScenes")
    assert run.error is not None and "visionServiceUrl" in run.error
    assert world.stash.mutation_count() == 0


def frames(persons: list[int | None]) -> list[tuple[float, bytes]]:
    """One 640x360 frame every 2 s; None = nobody in view."""
    return [(2.0 * i, draw_image(640, 360, [] if p is None else [SyntheticFace(p, 200 + 10 * i, 60, 150)], seed=i))
            for i, p in enumerate(persons)]


@pytest.mark.parametrize("legacy", [False, True], ids=["frames-route", "legacy-route"])
def test_video_frames_through_the_vision_service(world: World, legacy: bool) -> None:
    alice = enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    with VisionDouble.running(legacy_frame_route=legacy) as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, None, 1, 2, 1, 1, None]))  # Bob: one stray frame
        clip = world.stash.add_scene("A", path="/videos/a.mp4")
        unseen = world.stash.add_scene("B", path="/videos/not-mounted.mp4")
        run = world.run("recognizeNewScenes")
        assert run.error is None
        assert set(world.stash.scenes[clip].performer_ids) == {alice}
        assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
        assert world.stash.tag_names("scene", unseen) == {ERROR}
        assert any(f"scene {unseen}" in m and "same path" in m for m in run.messages("error"))


def test_a_failed_vision_job_tags_the_scene_error(world: World) -> None:
    with VisionDouble.running() as vision:
        world.configure(visionServiceUrl=vision.url, frameServerUrl=vision.url)
        vision.add_video("/videos/a.mp4", frames([1, 1]))
        vision.fail_jobs = True
        clip = world.stash.add_scene("A", path="/videos/a.mp4")
        run = world.run("recognizeAllScenes")
        assert run.error is None
        assert world.stash.tag_names("scene", clip) == {ERROR}
        assert any("decoder crashed" in m for m in run.messages("error"))
