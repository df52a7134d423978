"""The page's Faces answers from the item's kept last look (identifyImage/identifyScene ``cached``): at once,
with what the user decided, with the links Stash has now, while the face service is down; and the process
that answers it imports none of the recognition (numpy, Pillow, the engine)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld, Videos


def test_faces_on_a_looked_at_image_is_the_kept_look_with_todays_links(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, 2, size=200, width=800, height=600, seed=3))
    first = world.run("identifyImage", imageId=image, associateExisting="false", cached="true")
    assert first.error is None and not first.output.get("cached")
    assert [f["linked"] for f in first.output["faces"]] == [False, False]
    refused = world.run("notThisFace", imageId=image, faceIndex="0")  # the user's word on face 1
    assert refused.error is None, refused.error
    world.stash.images[image].performer_ids = frozenset({alice})  # linked in Stash since (by hand, say)

    with world.compreface.down():
        kept = world.run("identifyImage", imageId=image, associateExisting="false", cached="true")
    assert kept.error is None, kept.error
    assert kept.output["cached"] is True and kept.output["frame"] == first.output["frame"]
    boxes = [f["box"] for f in kept.output["faces"]]
    assert boxes == [f["box"] for f in first.output["faces"]]
    face1, face2 = kept.output["faces"]
    assert face1["rejected"] == "Alice" and face1["performer"] is None  # the user's "not her" stands
    assert face2["performer"] is None or face2["performer"]["id"] != alice


def test_a_kept_look_shows_links_made_in_stash_since(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=200, width=800, height=600, seed=4))
    first = world.run("identifyImage", imageId=image, associateExisting="false").output
    assert first["faces"][0]["performer"]["id"] == alice and first["faces"][0]["linked"] is False
    world.stash.images[image].performer_ids = frozenset({alice})
    kept = world.run("identifyImage", imageId=image, associateExisting="false", cached="true").output
    assert kept["cached"] is True and kept["faces"][0]["linked"] is True


def test_a_kept_look_no_longer_suggests_a_performer_deleted_since(world: TaskWorld) -> None:
    """Deleted in Stash (or by an undone Create): the face is nobody's, as a fresh look would say, and its
    Confirm cannot fail on a performer who is gone."""
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=200, width=800, height=600, seed=6))
    first = world.run("identifyImage", imageId=image, associateExisting="false").output
    assert first["faces"][0]["performer"]["id"] == alice
    del world.stash.performers[alice]
    kept = world.run("identifyImage", imageId=image, associateExisting="false", cached="true").output
    assert kept["cached"] is True and kept["faces"][0]["box"] == first["faces"][0]["box"]
    assert (kept["faces"][0]["performer"], kept["faces"][0]["similarity"]) == (None, None)


def test_without_cached_or_without_a_kept_look_the_image_is_looked_at(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=200, seed=5))
    with world.compreface.down():  # a look needs the face service; no kept look to answer from
        none_kept = world.run("identifyImage", imageId=image, associateExisting="false", cached="true")
    assert none_kept.error is not None and "CompreFace" in none_kept.error
    assert world.run("identifyImage", imageId=image, associateExisting="false").error is None
    again = world.run("identifyImage", imageId=image, associateExisting="false")  # "Look again"
    assert again.error is None and not again.output.get("cached")


def test_the_scene_page_answers_from_its_kept_look(world: TaskWorld, videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    scene = videos.scene("two", [[1], [1], [1], [1]])
    first = world.run("identifyScene", sceneId=scene, associateExisting="false", cached="true")
    assert first.error is None and not first.output.get("cached")
    with world.compreface.down():
        kept = world.run("identifyScene", sceneId=scene, associateExisting="false", cached="true")
    assert kept.error is None, kept.error
    assert kept.output["cached"] is True and kept.output["what"] == first.output["what"]
    people = kept.output["people"]
    assert [p["performer"] for p in people] == [p["performer"] for p in first.output["people"]]
    assert any((p["performer"] or {}).get("id") == alice and p["face"] for p in people)  # crops kept too


def test_the_operation_path_of_a_kept_look_imports_no_recognition() -> None:
    code = ("import sys, stash_compreface.runtime.plugin, stash_compreface.tasks.identify_image, "
            "stash_compreface.tasks.identify_scene, stash_compreface.tasks.looks; "
            "print(__import__('json').dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'PIL', 'cv2', 'av', 'onnxruntime', 'ncnn') or m.startswith('stash_compreface.engine.') "
            "or m in ('stash_compreface.imaging', 'stash_compreface.tasks.image_recognizer', "
            "'stash_compreface.compreface.client'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
