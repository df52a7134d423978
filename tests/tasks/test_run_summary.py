"""The last line of a run: what changed in Stash, the run's number and how to undo it (issue 14, item 6).

Stash shows a task's output only at Debug, so the closing info line is what a user reads: it must speak of
Stash (performers linked and created, tags added, unknown people waiting for review), not of subjects,
and its counts must be what Stash now holds. The output carries the same counts as ``changes``.
"""

from __future__ import annotations

from testdoubles.synthetic import noise_image
from tests.library import ERROR, MATCHED, SCANNED, UNIDENTIFIED, created_performers, enrol, photo
from tests.tasks.conftest import TaskRun, TaskWorld

PLUGIN_TAGS = (SCANNED, MATCHED, UNIDENTIFIED, ERROR)


def last_line(run: TaskRun) -> str:
    """The run's last log line, which must be at info (Stash's default log level shows it)."""
    level, message = run.logs[-1]
    assert level == "info", run.logs[-1]
    return message


def test_a_recognize_run_ends_with_what_changed_in_stash_its_number_and_how_to_undo_it(world: TaskWorld) -> None:
    alice, bob = enrol(world, "Alice", 1), enrol(world, "Bob", 2)
    images = [world.stash.add_image(photo(*people, seed=i))
              for i, people in enumerate([(1,), (2,), (1, 2), (7,), (7, 1), (8,), ()])]
    # 7 is seen twice: a performer is created and linked to both images; 8 once: a candidate for review.
    world.stash.add_image(noise_image(200, 150, seed=3))
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.messages("error")

    run_id = run.output["runId"]
    stash = world.stash
    created = created_performers(world)
    links = sum(len(stash.images[i].performer_ids) for i in images)
    linked_images = sum(1 for i in images if stash.images[i].performer_ids)
    tags = sum(len(stash.tag_names("image", i) & set(PLUGIN_TAGS)) for i in stash.images)
    learned = sum(len(examples) for examples in world.compreface.subjects.values()) - 2  # Alice's and Bob's own
    waiting = len(world.run("reviewData").output["candidates"])
    assert (len(created), links, linked_images, waiting) == (1, 7, 5, 1)  # the library is what it means to be
    assert {alice, bob} <= {p for i in images for p in stash.images[i].performer_ids}

    line = last_line(run)
    assert line == (f"Run {run_id} done: {links} performers linked to {linked_images} images; 1 performer created; "
                    f"{tags} tags added; {learned} faces learned by the face engine; 1 unknown person waiting for "
                    "review. Undo: the Faces page in Stash's navbar (Recent runs), or run undoRun with "
                    f"runId={run_id}.")
    assert "subject" not in line
    assert run.output["changes"] == {
        "performersLinked": links, "linkedItems": {"image": linked_images}, "performersCreated": 1,
        "tagsAdded": tags, "aliasesAdded": 0, "facesLearned": learned, "facesCopied": {}, "itemsReset": {},
        "subjectsDeleted": 0, "waitingForReview": waiting}
    # the item runner's own line stays, before the summary
    assert any(m.startswith("Recognize images (high quality) finished: ") for m in run.messages("info")[:-1])


def test_a_run_that_links_nothing_says_nothing_changed_and_offers_no_undo(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    world.stash.add_image(photo(1))
    assert world.run("recognizeImagesHQ").error is None
    again = world.run("identifyImagesAll")  # Alice is linked already: nothing to add
    assert again.error is None
    assert again.output["runId"] is None  # a run is opened by its first write: nothing to undo, no number
    assert last_line(again) == "Done: nothing changed."
    assert again.output["changes"]["performersLinked"] == again.output["changes"]["tagsAdded"] == 0


def test_unknown_people_waiting_are_named_even_when_nothing_changed(world: TaskWorld) -> None:
    world.stash.add_image(photo(8))  # a stranger seen once: a candidate
    assert world.run("recognizeImagesHQ").error is None
    run = world.run("recognizeImagesHQ")  # nothing new to scan
    assert last_line(run) == ("Done: nothing changed. 1 unknown person waiting for review (the Faces page in Stash's "
                              "navbar).")


def test_a_reset_says_what_it_reset_and_offers_no_undo(world: TaskWorld) -> None:
    blank = [world.stash.add_image(noise_image(200, 150, seed=i)) for i in range(3)]
    assert world.run("recognizeImagesHQ").error is None
    run = world.run("resetUnmatchedImages")
    assert all(world.stash.tag_names("image", i) == set() for i in blank)
    assert last_line(run) == f"Run {run.output['runId']} done: 3 images reset to be scanned again."
    assert run.output["changes"]["itemsReset"] == {"image": 3}


def test_a_dry_run_says_nothing_was_written(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    world.stash.add_image(photo(1))
    world.configure(dryRun=True)
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert last_line(run).startswith("Dry run: nothing written.")
    assert run.output["changes"] == {"dryRun": True} and run.output["runId"] is None


def test_a_stopped_run_says_what_it_changed_before_its_error(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    for i in range(6):
        world.stash.add_image(photo(1, seed=i))
    world.configure(maxConcurrency=1, maxBatchSize=2)
    run = world.run("recognizeImagesHQ", stop_at_progress=2)
    assert run.error is not None
    linked = sum(1 for image in world.stash.images.values() if image.performer_ids)
    assert linked >= 2
    ended = [m for m in run.messages("info") if m.startswith("Run ") and " ended early: " in m]
    assert len(ended) == 1 and f"{linked} performers linked to {linked} images" in ended[0]
    assert "run undoRun with runId=" in ended[0]
