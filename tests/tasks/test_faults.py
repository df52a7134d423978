"""Realistic faults inside a task (issue #7): outages, broken answers, failed writes, damage, ambiguity.

Each test injects the fault through the doubles, asserts what the user would see in Stash and in the
log, then clears the fault and asserts that a plain rerun finishes the work.
"""

from __future__ import annotations

import threading
import time

from stash_compreface.tasks.state import STATE_FILE, StateStore
from tests.library import ERROR, MATCHED, SCANNED, UNIDENTIFIED, enrol, person_of_performer, photo

RECOGNIZE = "/api/v1/recognition/recognize"


def _tags(world, image_id: str) -> set[str]:
    return world.stash.tag_names("image", image_id)


def _new_performers(world) -> list[str]:
    return [p for p, r in world.stash.performers.items() if r.name.startswith("Person ")]


def test_compreface_going_down_mid_run_stops_the_run_and_blames_no_image(world) -> None:
    enrol(world, "Alice", 1)
    images = [world.stash.add_image(photo(1, seed=i)) for i in range(12)]
    world.configure(maxConcurrency=2, maxBatchSize=4)

    def outage() -> None:  # a container restart, three images into the run
        deadline = time.monotonic() + 30
        while world.compreface.calls[f"POST {RECOGNIZE}"] < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        world.compreface.go_down()

    watcher = threading.Thread(target=outage)
    watcher.start()
    run = world.run("recognizeImagesHQ")
    watcher.join()

    assert run.error is not None and "CompreFace" in run.error and "comprefaceUrl" in run.error
    assert not [i for i in images if ERROR in _tags(world, i)]
    untouched = [i for i in images if not _tags(world, i)]
    assert untouched, "the images after the outage stay untagged for the next run"

    world.compreface.come_back()
    assert world.run("recognizeImagesHQ").error is None
    assert all(_tags(world, i) == {SCANNED, MATCHED} for i in images)


def test_an_empty_200_answer_is_a_protocol_failure_never_no_faces(world) -> None:
    enrol(world, "Alice", 1)
    images = [world.stash.add_image(photo(1, seed=i)) for i in range(8)]
    world.compreface.fail_next(RECOGNIZE, 200, html=False, times=None)

    run = world.run("recognizeImagesHQ")

    assert run.error is not None and "comprefaceUrl" in run.error
    assert all(_tags(world, i) == set() for i in images)  # never "Scanned, no match"
    world.compreface.clear_faults()
    assert world.run("recognizeImagesHQ").error is None
    assert all(_tags(world, i) == {SCANNED, MATCHED} for i in images)


def test_a_compreface_url_that_answers_html_names_the_setting(world) -> None:
    world.stash.add_image(photo(1))
    world.compreface.fail_next("/api/v1/config", 200, body="<html><body>Welcome to nginx!</body></html>",
                               times=None)
    run = world.run("recognizeImagesHQ")
    assert run.error is not None and "comprefaceUrl" in run.error
    assert "JSONDecodeError" not in run.error and "Traceback" not in " ".join(run.messages())


def test_a_locked_stash_is_retried_and_a_write_that_still_fails_leaves_the_image_for_the_rerun(world) -> None:
    alice = enrol(world, "Alice", 1)
    images = [world.stash.add_image(photo(1, seed=i)) for i in range(4)]

    world.stash.fail_operation("BulkImageUpdate", "sql: database is locked", times=2)
    assert world.run("recognizeImagesHQ", limit="1").error is None
    assert _tags(world, images[0]) == {SCANNED, MATCHED}

    world.stash.fail_operation("BulkImageUpdate", "sql: database is locked", times=None)
    run = world.run("recognizeImagesHQ")
    assert run.error is None  # one failed write does not stop the run
    assert run.output["deferred"] == 3 and run.output["failed"] == 0
    assert all(_tags(world, i) == set() for i in images[1:])  # never Scanned without its links, never Error

    world.stash.clear_faults()
    assert world.run("recognizeImagesHQ").error is None
    assert all(_tags(world, i) == {SCANNED, MATCHED} for i in images)
    assert all(alice in world.stash.images[i].performer_ids for i in images)


def test_a_failed_performer_create_is_repaired_by_a_plain_rerun(world) -> None:
    first = world.stash.add_image(photo(60, seed=1))
    second = world.stash.add_image(photo(60, seed=2))
    world.configure(maxConcurrency=1)
    world.stash.fail_operation("PerformerCreate", "UNIQUE constraint failed: performers.name", times=None)

    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert _tags(world, first) == {SCANNED, UNIDENTIFIED}  # a candidate, seen once
    assert _tags(world, second) == {SCANNED, UNIDENTIFIED}  # its promotion failed: due in the next run, not Error
    assert _new_performers(world) == []

    world.stash.clear_faults()
    assert world.run("recognizeImagesHQ").error is None
    (performer,) = _new_performers(world)
    assert person_of_performer(world, performer) == 60
    for image in (first, second):
        assert _tags(world, image) == {SCANNED, MATCHED}
        assert performer in world.stash.images[image].performer_ids


def test_a_promotion_whose_links_were_never_written_is_completed_by_the_next_run(world) -> None:
    first = world.stash.add_image(photo(60, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    (subject,) = world.compreface.subject_names()
    # A run died after creating the performer and before linking the earlier sightings.
    performer = world.stash.add_performer(subject)
    store = StateStore(world.state_dir / STATE_FILE)
    store.promotions.mark_pending(subject, performer)
    store.close()

    assert world.run("recognizeImagesHQ").error is None
    assert performer in world.stash.images[first].performer_ids
    assert MATCHED in _tags(world, first)


def test_created_performers_are_counted_exactly(world) -> None:
    for i, person in enumerate([60, 60, 61, 61, 61, 62]):
        world.stash.add_image(photo(person, seed=i))
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert run.output["created_performers"] == len(_new_performers(world)) == 2


def test_a_subject_held_by_two_performers_is_an_error_naming_both_and_never_linked(world) -> None:
    alice = enrol(world, "Alice", 1)
    subject = next(a for a in world.stash.performers[alice].aliases if a.startswith("Person "))
    impostor = world.stash.add_performer("Alicia", aliases=[subject])
    image = world.stash.add_image(photo(1))

    run = world.run("recognizeImagesHQ")

    assert run.error is None
    assert _tags(world, image) == {ERROR}
    assert world.stash.images[image].performer_ids == set()
    line = next(m for m in run.messages("error") if f"image {image}" in m)
    assert alice in line and impostor in line


def test_a_damaged_state_file_is_moved_aside_and_the_run_goes_on(world) -> None:
    world.state_dir.mkdir(parents=True, exist_ok=True)
    (world.state_dir / STATE_FILE).write_bytes(b"this is not a database" * 100)
    image = world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    assert run.error is None and _tags(world, image) == {SCANNED, UNIDENTIFIED}
    assert any("damaged" in m for m in run.messages("warning"))
    assert list(world.state_dir.glob(f"{STATE_FILE}.damaged-*"))


def test_credentials_in_a_url_never_reach_the_log_or_the_error(world) -> None:
    world.configure(comprefaceUrl="http://someone:hunter2secret@127.0.0.1:9")
    world.stash.add_image(photo(1))
    run = world.run("recognizeImagesHQ")
    assert run.error is not None and "comprefaceUrl" in run.error
    assert "hunter2secret" not in run.error and not any("hunter2secret" in m for m in run.messages())


def test_a_stash_that_refuses_every_write_stops_the_run_naming_stash(world) -> None:
    """Stash up but its database locked (a long scan): after the breaker's count of refused writes the run
    stops with one message, instead of costing every image of the library its retries."""
    enrol(world, "Alice", 1)
    images = [world.stash.add_image(photo(1, seed=i)) for i in range(16)]
    world.configure(maxConcurrency=2, maxBatchSize=8)
    world.stash.fail_operation("BulkImageUpdate", "sql: database is locked", times=None)

    run = world.run("recognizeImagesHQ")
    assert run.error is not None and run.error.startswith("Stash refused 5 writes in a row")
    assert "database is locked" in run.error and "Traceback" not in " ".join(run.messages())
    assert any(m.startswith("Recognize images (high quality) stopped: deferred 16") for m in run.messages("info"))
    writes = sum(1 for name, _ in world.stash.operations if name == "BulkImageUpdate")
    assert writes < 3 * len(images) // 2  # far from every image's three attempts
    assert all(_tags(world, i) == set() for i in images)  # untouched, never Error

    world.stash.clear_faults()
    assert world.run("recognizeImagesHQ").error is None
    assert all(_tags(world, i) == {SCANNED, MATCHED} for i in images)
