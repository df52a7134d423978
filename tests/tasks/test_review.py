"""The review modes (nameCandidate, mergeIntoPerformer, rejectCandidate), a lifecycle that follows the user's
edits in Stash, and the Unidentified tag, in-process against the doubles."""

from __future__ import annotations

import pytest

from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks import review_data
from stash_compreface.tasks.journal import Linked, encode
from stash_compreface.tasks.state import STATE_FILE, StateStore
from stash_compreface.tasks.state.shared import Shared
from tests.library import MATCHED, SCANNED, created_performers, delete_performer, enrol, image_tags, photo
from tests.tasks.conftest import TaskWorld

UNIDENTIFIED = "Compreface Unidentified"


def _candidate(world: TaskWorld, person: int = 42, seen: int = 2) -> tuple[str, list[str]]:
    """An unknown person seen ``seen`` times, one short of becoming a performer: its subject and images."""
    world.configure(minFacesForNewPerformer=seen + 1)
    known = set(world.compreface.subject_names())
    images = [world.stash.add_image(photo(person, size=140 + 8 * i, seed=i)) for i in range(seen)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.messages("error")
    (subject,) = set(world.compreface.subject_names()) - known
    assert created_performers(world) == []
    return subject, images


def test_naming_a_candidate_makes_one_performer_with_its_subject_as_alias_and_links_its_images(
        world: TaskWorld) -> None:
    subject, images = _candidate(world)
    assert all(image_tags(world, i) == {SCANNED, UNIDENTIFIED} for i in images)
    run = world.run("nameCandidate", subject=subject, name="Carol Smith")
    assert run.error is None, run.error
    carol = world.stash.performer_by_name("Carol Smith")
    assert carol is not None and carol.aliases == [subject] and carol.image
    assert all(set(world.stash.images[i].performer_ids) == {carol.id} for i in images)
    assert all(image_tags(world, i) == {SCANNED, MATCHED} for i in images)
    assert run.output["created"] is True and run.output["linkedImages"] == 2

    again = world.run("nameCandidate", subject=subject, name="Carol Smith")
    assert again.error is None and again.output["created"] is False
    assert len(world.stash.performers) == 1 and world.stash.performers[carol.id].aliases == [subject]

    # The next sighting links Carol, not a new "Person …" performer.
    later = world.stash.add_image(photo(42, size=170, seed=50))
    assert world.run("recognizeImagesHQ").error is None
    assert set(world.stash.images[later].performer_ids) == {carol.id}
    assert created_performers(world) == []


def test_naming_refuses_unknown_subjects_and_missing_names_with_one_readable_error(world: TaskWorld) -> None:
    subject, _ = _candidate(world)
    assert "subject Person 9 NOBODY" in (world.run("nameCandidate", subject="Person 9 NOBODY", name="X").error or "")
    assert "needs name" in (world.run("nameCandidate", subject=subject).error or "")
    assert "needs subject" in (world.run("rejectCandidate").error or "")
    assert world.stash.performers == {}


def test_a_candidate_merged_into_a_performer_becomes_one_more_alias_and_both_subjects_lead_to_it(
        world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    first_alias = world.stash.performers[alice].aliases[0]
    subject, images = _candidate(world, person=42)
    run = world.run("mergeIntoPerformer", subject=subject, performerId=alice)
    assert run.error is None, run.error
    assert world.stash.performers[alice].aliases == [first_alias, subject]
    assert all(alice in world.stash.images[i].performer_ids for i in images)
    assert world.run("mergeIntoPerformer", subject=subject, performerId=alice).error is None
    assert world.stash.performers[alice].aliases == [first_alias, subject]

    of_alice = world.stash.add_image(photo(1, size=160, seed=60))
    of_42 = world.stash.add_image(photo(42, size=160, seed=61))
    assert world.run("recognizeImagesHQ").error is None
    assert set(world.stash.images[of_alice].performer_ids) == {alice}
    assert set(world.stash.images[of_42].performer_ids) == {alice}
    assert len(world.stash.performers) == 1

    missing = world.run("mergeIntoPerformer", subject=subject, performerId="999")
    assert missing.error is not None and "performerId 999 names no performer" in missing.error


def test_a_rejected_candidate_is_retired_never_becomes_a_performer_and_undo_brings_it_back(
        world: TaskWorld) -> None:
    subject, images = _candidate(world)
    run = world.run("rejectCandidate", subject=subject)
    assert run.error is None and run.output["newlyRejected"] == [subject]
    assert subject in world.compreface.subject_names()  # kept: its faces are known as the rejected stranger's
    assert world.run("reviewData").output["candidateCount"] == 0
    again = world.run("rejectCandidate", subject=subject)
    assert again.error is None and again.output["newlyRejected"] == [] and again.output["runId"] is None
    refused = world.run("nameCandidate", subject=subject, name="Dave")
    assert refused.error is not None and "rejected" in refused.error
    # Seen again, still never a performer, and no second candidate of that face.
    world.stash.add_image(photo(42, size=170, seed=40))
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.performers == {} and world.run("reviewData").output["candidateCount"] == 0

    assert world.run("undoRun", runId=run.output["runId"]).error is None
    (back,) = world.run("reviewData").output["candidates"]
    assert back["subject"] == subject and sorted(back["items"]) == sorted(f"image:{i}" for i in images)
    assert world.run("nameCandidate", subject=subject, name="Dave").error is None


def test_several_candidates_named_at_once_are_one_performer_in_one_run(world: TaskWorld) -> None:
    first, first_images = _candidate(world, person=42)
    second, second_images = _candidate(world, person=43)
    run = world.run("nameCandidate", subjects=[first, second], name="Carol")
    assert run.error is None, run.error
    carol = world.stash.performer_by_name("Carol")
    assert carol is not None and sorted(carol.aliases) == sorted([first, second])
    assert all(world.stash.images[i].performer_ids == {carol.id} for i in first_images + second_images)
    assert run.output["linkedImages"] == 4 and len(world.stash.performers) == 1
    assert world.run("undoRun", runId=run.output["runId"]).error is None
    assert world.stash.performers == {} and world.run("reviewData").output["candidateCount"] == 2


def test_two_unknown_people_merged_together_are_one_candidate_and_undo_splits_them_again(
        world: TaskWorld) -> None:
    keeper, keeper_images = _candidate(world, person=42, seen=2)
    other, other_images = _candidate(world, person=43, seen=1)
    world.configure(minFacesForNewPerformer=9)
    faces_before = {s: world.compreface.example_count(s) for s in (keeper, other)}
    run = world.run("mergeCandidates", subjects=[other, keeper])
    assert run.error is None, run.error
    assert run.output["subject"] == keeper and run.output["merged"] == [other] and run.output["seen"] == 3
    assert other not in world.compreface.subject_names()
    assert world.compreface.example_count(keeper) == faces_before[keeper] + faces_before[other]
    (merged,) = world.run("reviewData").output["candidates"]
    assert merged["subject"] == keeper and merged["seen"] == 3
    assert "merged" in (world.run("nameCandidate", subject=other, name="X").error or "")

    assert world.run("undoRun", runId=run.output["runId"]).error is None
    assert {s: world.compreface.example_count(s) for s in (keeper, other)} == faces_before
    listed = {c["subject"]: sorted(c["items"]) for c in world.run("reviewData").output["candidates"]}
    assert listed == {keeper: sorted(f"image:{i}" for i in keeper_images),
                      other: sorted(f"image:{i}" for i in other_images)}
    # Named after the undo, the keeper links only its own images.
    assert world.run("nameCandidate", subject=keeper, name="Kim").error is None
    kim = world.stash.performer_by_name("Kim")
    assert kim is not None and all(world.stash.images[i].performer_ids == set() for i in other_images)


def test_the_review_page_is_paged_from_the_state_and_opens_with_the_face_service_down(world: TaskWorld) -> None:
    store = StateStore(world.state_dir / STATE_FILE)
    for n in range(45):  # Person 44 is seen most
        for i in range(1 + n // 10):
            store.candidates.record_sighting(f"Person {n} PAGED", ItemRef(ItemKind.IMAGE, str(100 + i)))
    store.close()
    world.configure(comprefaceUrl="http://127.0.0.1:9")  # CompreFace is down
    first = world.run("reviewData")
    assert first.error is None and first.output["candidateCount"] == 45 and len(first.output["candidates"]) == 40
    assert first.output["candidates"][0]["subject"] == "Person 40 PAGED" and "runs" in first.output
    rest = world.run("reviewData", offset=40)
    # ties: the oldest first
    assert [c["subject"] for c in rest.output["candidates"]] == [f"Person {n} PAGED" for n in range(5, 10)]
    assert "runs" not in rest.output
    faces = world.run("candidateFaces", subjects=["Person 1 PAGED", "Person 2 PAGED"])
    assert faces.error is None and faces.output["faces"] == {"Person 1 PAGED": None, "Person 2 PAGED": None}
    assert "comprefaceUrl" in faces.output["faceServiceError"]


def test_candidate_faces_are_small_crops_of_the_cards_asked(world: TaskWorld) -> None:
    subject, _ = _candidate(world)
    faces = world.run("candidateFaces", subjects=[subject, "Person 9 NOBODY"])
    assert faces.error is None and faces.output["faceServiceError"] is None
    crop = faces.output["faces"][subject]
    assert crop and len(crop) < 8000 and faces.output["faces"]["Person 9 NOBODY"] is None


def test_a_deleted_performer_stays_deleted_after_a_rerun(world: TaskWorld) -> None:
    world.configure(minFacesForNewPerformer=2)
    for i in range(2):
        world.stash.add_image(photo(42, size=140 + 8 * i, seed=i))
    assert world.run("recognizeImagesHQ").error is None
    (performer,) = created_performers(world)
    delete_performer(world, performer)

    later = [world.stash.add_image(photo(42, size=160 + 8 * i, seed=20 + i)) for i in range(3)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert world.stash.performers == {}
    assert any("was deleted in Stash" in m for m in run.messages()), run.messages()
    assert all(image_tags(world, i) == {SCANNED, UNIDENTIFIED} for i in later)
    assert world.run("recognizeImagesHQ").error is None and world.stash.performers == {}


def test_a_renamed_performer_keeps_its_link_through_its_alias(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    with world.stash.lock:
        world.stash.performers[alice].name = "Alice Renamed"
    image = world.stash.add_image(photo(1, size=160))
    assert world.run("recognizeImagesHQ").error is None
    assert set(world.stash.images[image].performer_ids) == {alice}


def test_removing_the_alias_unlinks_the_subject_without_a_new_performer(world: TaskWorld) -> None:
    subject, _ = _candidate(world)
    assert world.run("nameCandidate", subject=subject, name="Carol").error is None
    carol = world.stash.performer_by_name("Carol")
    assert carol is not None
    with world.stash.lock:
        carol.aliases = []
    later = [world.stash.add_image(photo(42, size=160 + 8 * i, seed=30 + i)) for i in range(3)]
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert all(world.stash.images[i].performer_ids == set() for i in later)
    assert list(world.stash.performers) == [carol.id]
    assert any("no longer holds it" in m for m in run.messages())


def test_the_unidentified_tag_is_removed_once_the_image_is_matched(world: TaskWorld) -> None:
    stranger = world.stash.add_image(photo(7, size=150))
    nobody = world.stash.add_image(photo(8, size=150, blur=0.05, probability=0.3))  # no usable face
    world.configure(minFacesForNewPerformer=2)
    assert world.run("recognizeImagesHQ").error is None
    assert image_tags(world, stranger) == {SCANNED, UNIDENTIFIED}
    assert UNIDENTIFIED not in image_tags(world, nobody)

    # Seen a second time: the person becomes a performer and the first image is linked and untagged.
    world.stash.add_image(photo(7, size=160, seed=3))
    assert world.run("recognizeImagesHQ").error is None
    assert image_tags(world, stranger) == {SCANNED, MATCHED}
    assert world.stash.images[stranger].performer_ids


def test_review_data_lists_runs_that_wrote_with_their_first_links_not_looks(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    images = [world.stash.add_image(photo(1, size=170 + 5 * i, seed=i)) for i in range(12)]
    run = world.run("identifyImagesAll")
    for _ in range(3):  # looks from the image page: nothing written, nothing to undo
        assert world.run("identifyImage", imageId=images[0], associateExisting="false").error is None
    data = world.run("reviewData").output
    (listed,) = data["runs"]
    assert listed["runId"] == run.output["runId"] and listed["mode"] == "identifyImagesAll"
    assert listed["linkCount"] == 12 and len(listed["links"]) == 10  # the first ten, and how many in all
    assert all(link["performers"] == [{"id": alice, "name": "Alice"}] for link in listed["links"])
    assert {link["item"] for link in listed["links"]} < {f"image:{i}" for i in images}


def test_review_data_reads_the_state_in_one_query_per_list_however_large(world: TaskWorld,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Many candidates and runs: still one state query for the candidates (with their first items), one for the
    runs and one for their first links, plus the count of all open candidates once the list is cut short."""
    alice = enrol(world, "Alice", 1)
    store = StateStore(world.state_dir / STATE_FILE)
    for n in range(30):  # Person 0 is seen in 1 image, Person 29 in 30
        for i in range(n + 1):
            store.candidates.record_sighting(f"Person {n} REVIEW", ItemRef(ItemKind.IMAGE, str(1000 + i)))
    for run in range(25):
        run_id = store.runs.start("recognizeImagesHQ")
        for i in range(12 + run):
            store.runs.append(run_id, *encode(Linked(item=ItemRef(ItemKind.IMAGE, str(i)), performers=(alice,))))
    store.close()
    reads = []
    read = Shared.read
    monkeypatch.setattr(Shared, "read", lambda self: reads.append(1) or read(self))

    data = world.run("reviewData", limit=7).output
    assert len(reads) == 4
    assert [c["subject"] for c in data["candidates"]] == [f"Person {n} REVIEW" for n in range(29, 22, -1)]
    assert data["candidateCount"] == 30
    assert all(c["seen"] > 20 and c["items"] == [f"image:{1000 + i}" for i in range(5)] for c in data["candidates"])
    assert len(data["runs"]) == review_data.RUNS_SHOWN
    assert [(r["linkCount"], len(r["links"])) for r in data["runs"][:2]] == [(36, 10), (35, 10)]
    assert data["runs"][0]["links"][0] == {"item": "image:0", "performers": [{"id": alice, "name": "Alice"}]}


def test_the_faces_a_performer_was_learned_from_each_with_its_source_and_one_removed_then_undone(
        world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=220, seed=70))
    assert world.run("recognizeImagesHQ").error is None
    faces = world.run("performerFaces", performerId=alice).output["faces"]
    (subject,) = world.stash.performers[alice].aliases
    assert len(faces) == 2 and {f["subject"] for f in faces} == {subject}
    assert {f["source"] for f in faces} == {None, f"image:{image}"}  # her own portrait, and the image
    learned = next(f for f in faces if f["source"])
    assert faces[0]["face"] and len(faces[0]["face"]) < 8000

    run = world.run("removeFace", performerId=alice, subject=subject, exampleId=learned["exampleId"])
    assert run.error is None and [f["exampleId"] for f in run.output["faces"]] != []
    assert learned["exampleId"] not in {f["exampleId"] for f in run.output["faces"]}
    assert world.compreface.example_count(subject) == 1
    again = world.run("removeFace", performerId=alice, subject=subject, exampleId=learned["exampleId"])
    assert again.error is not None and "removed already" in again.error

    assert world.run("undoRun", runId=run.output["runId"]).error is None
    assert world.compreface.example_count(subject) == 2  # the same face, added back
    assert len(world.run("performerFaces", performerId=alice).output["faces"]) == 2
