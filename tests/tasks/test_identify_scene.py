"""identifyScene in-process: everyone seen in one scene with the evidence, as the scene page's Faces panel
shows it (associateExisting "false": nothing changes in Stash), or recognised and recorded (associateExisting
"true", the task's default)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.library import MATCHED, SCANNED, UNIDENTIFIED, created_performers, enrol
from tests.tasks.conftest import SAMPLE_S, TaskWorld, Videos


def _by_status(people: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for person in people:
        out.setdefault(str(person["status"]), []).append(person)
    return out


def test_the_faces_panel_lists_everyone_with_evidence_and_changes_nothing_in_stash(
        world: TaskWorld, videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    bob = enrol(world, "Bob", 2)
    user = world.stash.add_performer("Carol")
    # Even with create-on-first-sight, looking from the panel must not create or link anyone.
    world.configure(frameInterval=SAMPLE_S, minFacesForNewPerformer=1)
    # Alice in all 5 samples, a stranger (7) in the first 3, another stranger (33) and Bob in one sample only.
    clip = videos.scene("A", [[1, 7], [1, 7], [1, 7], [1, 2], [1, 33]], performers=[user])
    performers_before = {p: (r.name, tuple(r.aliases)) for p, r in world.stash.performers.items()}

    run = world.run("identifyScene", sceneId=clip, associateExisting="false")
    assert run.error is None, run.logs
    out = run.output
    assert out["mode"] == "identifyScene" and out["sceneId"] == clip and "5 frames" in out["what"]

    # Nothing changed in Stash: no mutation at all, so no link, no tag, no performer.
    assert world.stash.mutation_count() == 0
    assert set(world.stash.scenes[clip].performer_ids) == {user}
    assert world.stash.tag_names("scene", clip) == set()
    assert {p: (r.name, tuple(r.aliases)) for p, r in world.stash.performers.items()} == performers_before
    assert created_performers(world) == []

    people = _by_status(out["people"])
    (matched,) = people["matched"]
    assert matched["performer"] == {"id": alice, "name": "Alice"}
    assert matched["linked"] is False
    assert matched["frames"] == 5
    assert matched["times"] == [0.0, 5.0, 10.0, 15.0, 20.0]  # seconds into the scene, one per sample
    assert 0.81 <= matched["similarity"] <= 1.0
    thumbnail = Image.open(io.BytesIO(base64.b64decode(matched["face"])))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 96
    assert out["performersFound"] == [alice]
    # Bob in one frame is too little to link, but the page names him, so the user may confirm him.
    (weak,) = people["weak"]
    assert weak["performer"] == {"id": bob, "name": "Bob"} and weak["frames"] == 1 and weak["times"] == [15.0]

    (candidate,) = people["candidate"]
    assert candidate["frames"] == 3 and candidate["times"] == [0.0, 5.0, 10.0]
    assert str(candidate["subject"]).startswith(f"Person {clip} ")
    assert candidate["performer"] is None and candidate["linked"] is False
    assert candidate["face"]
    # The user can name it from the review page at once: it is an open candidate seen in this scene.
    review = world.run("reviewData")
    assert review.error is None
    (listed,) = [c for c in review.output["candidates"] if c["subject"] == candidate["subject"]]
    assert f"scene:{clip}" in listed["items"]

    (stray,) = people["unknown"]  # the stranger seen once: nobody the face service knows
    assert stray["frames"] == 1 and stray["times"] == [20.0]
    assert stray["performer"] is None and stray["linked"] is False
    assert len(out["people"]) == 4

    # A second look changes nothing either, and recognises the candidate (no second subject): still a
    # candidate, so the page offers the same actions.
    subjects = world.compreface.subject_names()
    again = world.run("identifyScene", sceneId=clip, associateExisting="false")
    assert again.error is None
    assert world.stash.mutation_count() == 0
    assert world.compreface.subject_names() == subjects
    (same,) = [p for p in again.output["people"] if p["subject"] == candidate["subject"]]
    assert same["status"] == "candidate" and same["performer"] is None and same["frames"] == 3


def test_with_associate_existing_the_scene_is_recorded_as_a_recognition_run_would(
        world: TaskWorld, videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    user = world.stash.add_performer("Carol")
    clip = videos.scene("A", [[1], [1], [1, 7], [1, 7], [7]], performers=[user])

    run = world.run("identifyScene", sceneId=clip)  # the task's default: associateExisting "true"
    assert run.error is None, run.logs
    assert set(world.stash.scenes[clip].performer_ids) == {user, alice}  # the user's own performer kept
    # The stranger in 3 samples is a candidate (one scene, minFacesForNewPerformer 2): no performer yet.
    assert created_performers(world) == []
    assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
    (matched,) = [p for p in run.output["people"] if p["status"] == "matched"]
    assert matched["performer"]["id"] == alice and matched["linked"] is True
    assert [p["status"] for p in run.output["people"] if p["performer"] is None] == ["candidate"]
    assert isinstance(run.output["runId"], int)

    # recognizeAllScenes has nothing to add: identifyScene recorded what it would.
    before = world.stash.mutation_count()
    assert world.run("recognizeAllScenes").error is None
    assert world.stash.mutation_count() == before
    assert set(world.stash.scenes[clip].performer_ids) == {user, alice}

    # and undoRun of the identifyScene run takes its link and tags back, the user's performer stays.
    assert world.run("undoRun", runId=str(run.output["runId"])).error is None
    assert set(world.stash.scenes[clip].performer_ids) == {user}
    assert world.stash.tag_names("scene", clip) == set()


def test_an_unknown_person_with_create_on_first_sight_becomes_a_performer_when_associating(
        world: TaskWorld, videos: Videos) -> None:
    world.configure(frameInterval=SAMPLE_S, minFacesForNewPerformer=1)
    clip = videos.scene("A", [[7], [7], [7], []])
    run = world.run("identifyScene", sceneId=clip, associateExisting="true")
    assert run.error is None, run.logs
    (created,) = created_performers(world)
    assert set(world.stash.scenes[clip].performer_ids) == {created}
    assert world.stash.tag_names("scene", clip) == {SCANNED, MATCHED}
    assert UNIDENTIFIED not in world.stash.tag_names("scene", clip)


def test_a_rejected_performer_is_listed_as_rejected_and_not_linked(world: TaskWorld, videos: Videos) -> None:
    alice = enrol(world, "Alice", 1)
    clip = videos.scene("A", [[1], [1], [1], [1]])
    rejected = world.run("rejectMatch", sceneId=clip, performerId=alice)
    assert rejected.error is None, rejected.error

    looked = world.run("identifyScene", sceneId=clip, associateExisting="false")
    assert looked.error is None
    (person,) = looked.output["people"]
    assert person["status"] == "rejected" and person["performer"]["id"] == alice and person["linked"] is False
    assert looked.output["performersFound"] == []

    run = world.run("identifyScene", sceneId=clip, associateExisting="true")
    assert run.error is None
    (person,) = run.output["people"]
    assert person["status"] == "rejected" and person["linked"] is False
    assert alice not in world.stash.scenes[clip].performer_ids
    assert MATCHED not in world.stash.tag_names("scene", clip)


def test_identify_scene_names_a_missing_or_unknown_scene(world: TaskWorld) -> None:
    missing = world.run("identifyScene")
    assert missing.error is not None and "sceneId" in missing.error
    unknown = world.run("identifyScene", sceneId="999")
    assert unknown.error is not None and "sceneId" in unknown.error and "999" in unknown.error
    assert world.stash.mutation_count() == 0
