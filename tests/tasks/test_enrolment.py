"""Enrolment (tasks/enrolment.py): the rules every mode follows when a face becomes an example or a subject.

The crop fallbacks (a face sent with its margin, then cropped tight when the engine finds a neighbour's face
in the margin), one face per item per subject, and the search for the person just before a new subject is
made, which skips what the user refused. The scene path had neither the tight crop nor the refusals before
the modes shared one enrolment; these tests hold each path to them.
"""

from __future__ import annotations

import io

from PIL import Image

from tests.library import enrol, photo, subject_of
from tests.tasks.conftest import TaskWorld, Videos

# CompreFace's answer when an example image holds two faces (compreface-api.md §5.2): TooManyFaces.
CROWDED = {"message": "More than one face in the source image", "code": 31}


def _crowd_next_example(world: TaskWorld) -> None:
    """The engine finds a second face in the next example sent (a neighbour's face in the margin)."""
    world.compreface.fail_next("/api/v1/recognition/faces", 400, html=False, body=CROWDED, method="POST", times=1)


def _face_fills(world: TaskWorld, example: bytes) -> float:
    """How much of an example's width its face takes: about 0.77 with the 15 % margin, about 1 cropped tight."""
    (face,) = world.compreface.engine.detect(example)
    return (face.box[2] - face.box[0]) / Image.open(io.BytesIO(example)).width


def test_a_matched_face_is_learned_cropped_tight_when_its_margin_holds_another_face(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    subject = next(iter(world.compreface.subject_names()))
    world.stash.add_image(photo(1, size=180, seed=1))
    _crowd_next_example(world)
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert world.compreface.example_count(subject) == 2  # before: not learned ("would not take the face")
    assert _face_fills(world, world.compreface.subjects[subject][-1].image) > 0.9


def test_a_face_from_the_scene_page_is_learned_cropped_tight_when_its_margin_holds_another_face(
        world: TaskWorld, videos: Videos) -> None:
    dana = world.stash.add_performer("Dana")
    clip = videos.scene("A", [[5], [5], [5]])
    (person,) = world.run("identifyScene", sceneId=clip, associateExisting="false").output["people"]
    _crowd_next_example(world)
    run = world.run("confirmMatch", sceneId=clip, performerId=dana, faceIndex=str(person["index"]))
    assert run.error is None, run.error
    assert run.output["learned"] is True  # before: "holds another face too: not learned"
    (example,) = world.compreface.subjects[subject_of(world, dana)]
    assert _face_fills(world, example.image) > 0.9


def test_a_new_subject_never_learns_its_first_face_again_from_the_same_image(world: TaskWorld) -> None:
    world.stash.add_image(photo(7, size=180, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    (subject,) = world.compreface.subject_names()
    assert world.run("resetUnmatchedImages").error is None  # the image linked nobody: it is looked at again
    again = world.run("recognizeImagesHQ")
    assert again.error is None
    assert world.compreface.subject_names() == [subject]  # the face found its own candidate
    assert world.compreface.example_count(subject) == 1  # before: its first example was learned once more
