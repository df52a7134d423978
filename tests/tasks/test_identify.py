"""identifyImage, createPerformerFromImage, identifyGallery and resetUnmatchedImages in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stash_compreface.compreface.client import CompreFaceClient
from tests.library import ERROR, MATCHED, SCANNED, UNIDENTIFIED, enrol, person_of_performer, photo
from tests.tasks.conftest import TaskWorld


def test_identify_image_reports_every_face_for_a_ui(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, 90, size=180))
    run = world.run("identifyImage", imageId=image)
    assert run.error is None
    faces = run.output["faces"]
    assert [f["index"] for f in faces] == [0, 1]
    assert faces[0]["performer"] == {"id": alice, "name": "Alice"}
    assert faces[0]["similarity"] >= 0.81 and faces[0]["subject"].startswith("Person 0 ")
    assert faces[1]["performer"] is None
    assert set(faces[0]["box"]) >= {"x_min", "y_min", "x_max", "y_max", "probability"}
    assert run.output["frame"] == {"width": 640, "height": 480}  # the picture the boxes refer to
    legacy = run.output["result"][0]  # the original plugin's shape, read by its companion UI
    assert legacy["performer"] == {"name": "Alice", "id": alice} and legacy["confidence"] > 81
    assert legacy["image_id"] == image and "x_min" in legacy["bounding_box"]
    (line,) = [m for m in run.messages("info") if m.startswith("identifyImage=")]
    # the log line is the output, but for the run's changes (tasks.run adds them once the task ended)
    assert json.loads(line.split("=", 1)[1]) == {k: v for k, v in run.output.items() if k != "changes"}
    # associateExisting defaults to "true" in the manifest (a string, as Stash sends it): links and tags.
    assert alice in world.stash.images[image].performer_ids
    assert world.stash.tag_names("image", image) == {SCANNED, MATCHED}
    assert world.stash.performers.keys() == {alice}


def test_boxes_of_a_large_photo_refer_to_the_frame_the_output_names(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=600, width=3840, height=2160))
    run = world.run("identifyImage", imageId=image, associateExisting="false")
    assert run.error is None
    frame = run.output["frame"]
    assert frame == {"width": 1920, "height": 1080}  # analysed downscaled: a UI scales boxes by its own width
    (face,) = run.output["faces"]
    assert 0 <= face["box"]["x_min"] < face["box"]["x_max"] <= frame["width"]
    assert 0.4 < (face["box"]["x_max"] - face["box"]["x_min"]) / 300 < 1.6  # the 600 px face, at half size


def test_identify_image_without_association_writes_nothing(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1))
    run = world.run("identifyImage", imageId=image, associateExisting="false")
    assert run.error is None and run.output["faces"][0]["performer"]["name"] == "Alice"
    assert world.stash.mutation_count() == 0


def test_identify_image_can_create_performers_for_unknown_faces(world: TaskWorld) -> None:
    image = world.stash.add_image(photo(33))
    run = world.run("identifyImage", imageId=image, createPerformer="true")
    assert run.error is None
    created = run.output["faces"][0]["performer"]
    assert created is not None and created["name"].startswith(f"Person {image} ")
    assert set(world.stash.images[image].performer_ids) == {created["id"]}


def test_identify_image_needs_an_existing_image(world: TaskWorld) -> None:
    run = world.run("identifyImage")
    assert run.error is not None and "imageId" in run.error
    run = world.run("identifyImage", imageId="999")
    assert run.error is not None and "999" in run.error


def test_create_performer_from_the_chosen_face(world: TaskWorld) -> None:
    image = world.stash.add_image(photo(20, 21, size=180))
    run = world.run("createPerformerFromImage", imageId=image, faceIndex="1")
    assert run.error is None
    (performer,) = world.stash.images[image].performer_ids
    assert person_of_performer(world, performer) == 21
    assert world.stash.tag_names("image", image) == {SCANNED, MATCHED}

    again = world.run("createPerformerFromImage", imageId=image, faceIndex="1")
    assert again.error is None and "already matches" in again.output["message"]
    assert len(world.stash.performers) == 1

    out_of_range = world.run("createPerformerFromImage", imageId=image, faceIndex="5")
    assert out_of_range.error is not None and "faceIndex 5" in out_of_range.error and "2 face" in out_of_range.error


def test_identify_gallery_tags_it_and_adds_performers(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    bob = enrol(world, "Bob", 2)
    images = [world.stash.add_image(photo(1, seed=1)), world.stash.add_image(photo(2, seed=2)),
              world.stash.add_image(photo(90, seed=3))]
    outside = world.stash.add_image(photo(1, seed=4))
    user = world.stash.add_performer("Carol")
    gallery = world.stash.add_gallery("Trip", images, performers=[user])
    run = world.run("identifyGallery", galleryId=gallery)
    assert run.error is None
    assert set(world.stash.galleries[gallery].performer_ids) == {user, alice, bob}
    assert world.stash.tag_names("gallery", gallery) == {SCANNED, MATCHED}
    assert world.stash.tag_names("image", images[2]) == {SCANNED, UNIDENTIFIED}
    assert world.stash.tag_names("image", outside) == set()


def test_reset_unmatched_images(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    matched = world.stash.add_image(photo(1))
    unmatched = world.stash.add_image(photo(95, size=40))
    broken = world.stash.add_image(b"not an image")
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.tag_names("image", broken) == {ERROR}
    run = world.run("resetUnmatchedImages")
    assert run.error is None and run.output["reset"] == 2
    assert world.stash.tag_names("image", matched) == {SCANNED, MATCHED}
    assert world.stash.tag_names("image", unmatched) == set()
    assert world.stash.tag_names("image", broken) == set()


def test_create_performer_with_a_typed_name_keeps_the_subject_as_alias(world: TaskWorld) -> None:
    image = world.stash.add_image(photo(20, size=180, seed=1))
    run = world.run("createPerformerFromImage", imageId=image, faceIndex="0", name="Erin Example")
    assert run.error is None, run.error
    erin = world.stash.performer_by_name("Erin Example")
    assert erin is not None and set(world.stash.images[image].performer_ids) == {erin.id}
    (alias,) = erin.aliases
    assert alias.startswith(f"Person {image} ") and alias in world.compreface.subject_names()
    assert len(world.stash.performers) == 1

    later = world.stash.add_image(photo(20, size=170, seed=2))
    found = world.run("identifyImage", imageId=later, associateExisting="false")
    assert found.error is None
    assert found.output["faces"][0]["performer"] == {"id": erin.id, "name": "Erin Example"}


def test_create_performer_with_the_name_of_an_existing_performer_gives_it_the_subject(world: TaskWorld) -> None:
    frank = world.stash.add_performer("Frank")
    image = world.stash.add_image(photo(21, size=180, seed=1))
    run = world.run("createPerformerFromImage", imageId=image, name="frank")  # any case
    assert run.error is None, run.error
    assert list(world.stash.performers) == [frank]  # no second Frank
    (alias,) = world.stash.performers[frank].aliases
    assert alias.startswith(f"Person {image} ") and alias in world.compreface.subject_names()
    assert set(world.stash.images[image].performer_ids) == {frank}

    later = world.stash.add_image(photo(21, size=170, seed=2))
    found = world.run("identifyImage", imageId=later, associateExisting="false")
    assert found.output["faces"][0]["performer"] == {"id": frank, "name": "Frank"}


def test_create_performer_refuses_a_subject_shaped_name(world: TaskWorld) -> None:
    image = world.stash.add_image(photo(22, size=180))
    run = world.run("createPerformerFromImage", imageId=image, name="Person 12 ABCDEFGHIJKLMNOP")
    assert run.error is not None and "name" in run.error and "Person 12 ABCDEFGHIJKLMNOP" in run.error
    assert world.stash.performers == {} and world.stash.mutation_count() == 0
    assert world.compreface.subject_names() == []


def test_a_look_and_an_action_on_face_n_search_every_face_and_only_batch_runs_spare_small_ones(
        world: TaskWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page numbers an image's faces from a look; Confirm on face N finds them again: both must search for
    every face (small ones too), or face N could be another face. A batch run only uses faces its gate takes, so
    it tells the engine its minimum (the built-in engine then spares its small-face pass)."""
    asked: list[tuple[str, int]] = []
    recognize = CompreFaceClient.recognize

    def spied(self: CompreFaceClient, image: bytes, **kwargs: Any) -> Any:
        asked.append((mode, kwargs.get("min_face_px", 0)))
        return recognize(self, image, **kwargs)

    monkeypatch.setattr(CompreFaceClient, "recognize", spied)
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, 2, size=180, seed=5))
    for mode, args in (("identifyImage", {"imageId": image}),
                       ("confirmMatch", {"imageId": image, "faceIndex": 0, "performerId": alice})):
        assert world.run(mode, **args).error is None
    world.stash.add_image(photo(1, size=180, seed=6))  # one the batch run has not seen
    mode = "recognizeImagesHQ"
    assert world.run(mode).error is None
    assert {m: px for m, px in asked} == {"identifyImage": 0, "confirmMatch": 0, "recognizeImagesHQ": 32}
