"""Enrolment (tasks/enrolment.py): the rules every mode follows when a face becomes an example or a subject.

The crop fallbacks (a face sent with its margin, then cropped tight when the engine finds a neighbour's face
in the margin), one face per item per subject, and the search for the person just before a new subject is
made, which skips what the user refused. The scene path had neither the tight crop nor the refusals before
the modes shared one enrolment; these tests hold each path to them.
"""

from __future__ import annotations

import io

from PIL import Image

from stash_compreface import imaging
from stash_compreface.runtime.session import task_context
from stash_compreface.stash.models import ItemKind, ItemRef, Scene
from stash_compreface.tasks.enrolment import Enrolment
from stash_compreface.tasks.performers import PerformerDirectory, refusals
from stash_compreface.tasks.runner import Tally
from stash_compreface.tasks.scenes import Finding, FindingStatus, SceneOptions
from stash_compreface.tasks.scenes.candidates import Candidates
from stash_compreface.tasks.scenes.frame_faces import observe
from testdoubles.reporter import MemoryReporter
from tests.library import SCANNED, UNIDENTIFIED, created_performers, enrol, photo, subject_of
from tests.tasks.conftest import COOKIE, TaskWorld, Videos, frame

# CompreFace's answer when an example image holds two faces (compreface-api.md §5.2): TooManyFaces.
CROWDED = {"message": "More than one face in the source image", "code": 31}


def _crowd_next_example(world: TaskWorld) -> None:
    """The engine finds a second face in the next example sent (a neighbour's face in the margin)."""
    world.compreface.fail_next("/api/v1/recognition/faces", 400, html=False, body=CROWDED, method="POST", times=1)


def _face_fills(world: TaskWorld, example: bytes) -> float:
    """How much of an example's width its face takes: about 0.77 with the 15 % margin, about 1 cropped tight."""
    (face,) = world.compreface.engine.detect(example)
    return (face.box[2] - face.box[0]) / Image.open(io.BytesIO(example)).width


def test_a_scene_candidate_whose_margin_holds_another_face_is_sent_again_cropped_tight(world: TaskWorld,
                                                                                       videos: Videos) -> None:
    clip = videos.scene("A", [[7], [7], [7], [7]])
    _crowd_next_example(world)
    run = world.run("recognizeNewScenes")
    assert run.error is None, run.logs
    (subject,) = world.compreface.subject_names()  # before: the scene gave up on the face, no candidate
    assert subject.startswith(f"Person {clip} ")
    (example,) = world.compreface.subjects[subject]
    assert _face_fills(world, example.image) > 0.9  # the tight crop
    assert run.output["created_subjects"] == 1
    assert world.stash.tag_names("scene", clip) == {SCANNED, UNIDENTIFIED}


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


def test_the_search_before_a_new_scene_subject_skips_a_subject_refused_for_the_scene(world: TaskWorld) -> None:
    """The race the search exists for, staged by hand: person 7 matched nobody when the scene's faces were
    recognized, and just before their candidate is made, a subject of person 7 exists, one the user refused
    for this scene (its performer rejected there, then deleted). Before, the search took that subject, so
    the scene counted as a sighting of it and, at minFacesForNewPerformer 1, a new performer of the refused
    person was created and linked to the scene."""
    world.configure(minFacesForNewPerformer=1)
    refused_subject = "Person 0 SEVENAAAAAAAAAAA"
    world.compreface.add_subject_example(refused_subject, photo(7, size=200, seed=907))
    scene_id = world.stash.add_scene("Clip")
    with task_context(stash_url=world.stash.url, reporter=MemoryReporter(), state_dir=world.state_dir,
                      session_cookie=COOKIE) as ctx:
        item = ItemRef(ItemKind.SCENE, scene_id)
        ctx.state.refusals.add(item, "999", [refused_subject])  # rejectMatch of the performer that held it
        options = SceneOptions.from_settings(ctx.settings)
        picture = frame([7], seed=1)
        faces = ctx.face_service.detect(imaging.encode_jpeg(picture), min_probability=0.5)
        (best,) = observe(picture, faces, lambda _face: 0, options.gate, keep_crops=True)
        tally, directory = Tally(), PerformerDirectory(ctx)
        candidates = Candidates(Enrolment(ctx, tally), directory, tally, options)
        scene = ctx.stash.find_scene(scene_id)
        assert isinstance(scene, Scene)
        finding = candidates.consider(scene, Finding(FindingStatus.UNKNOWN, frames=4), best,
                                      refusals(ctx, directory, item))
        assert ctx.state.candidates.sightings(refused_subject) == []
    assert finding.status is FindingStatus.REJECTED and finding.subject == refused_subject
    assert finding.performer_id is None
    assert world.compreface.subject_names() == [refused_subject]  # no second subject of the same person
    assert created_performers(world) == [] and world.stash.scenes[scene_id].performer_ids == set()
    assert tally.created_subjects == 0
