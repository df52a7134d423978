"""recognizeImagesHQ/LQ and identifyImagesAll/New in-process: the rules of PRODUCT.md §3."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from testdoubles.synthetic import SyntheticFace, noise_image, render
from tests.library import (
    ERROR,
    MATCHED,
    SCANNED,
    UNIDENTIFIED,
    created_performers,
    duplicate_tag_names,
    enrol,
    image_tags,
    image_updates,
    people_in,
    person_of_performer,
    person_of_subject,
    photo,
)
from tests.tasks.conftest import TaskWorld


def test_every_image_is_visited_exactly_once_while_the_filter_shrinks(world: TaskWorld) -> None:
    blank = noise_image(96, 72, seed=1)
    # Each scanned image leaves the "not scanned" filter, so offset paging would skip every other page.
    ids = [world.stash.add_image(blank) for _ in range(250)]
    world.configure(maxBatchSize=20, maxConcurrency=4)
    run = world.run("recognizeImagesHQ")
    assert run.error is None, run.messages("error")[:5]
    downloads = [world.stash.calls[f"GET /image/{i}/image"] for i in ids]
    assert downloads == [1] * 250
    assert all(image_tags(world, i) == {SCANNED} for i in ids)
    assert world.compreface.calls["POST /api/v1/recognition/recognize"] == 250
    assert run.progress[-1] == 1.0


def test_existing_tags_and_performers_survive_with_one_write_per_image(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    user_tag = world.stash.add_tag("Holiday")
    bob = world.stash.add_performer("Bob")
    image = world.stash.add_image(photo(1), tags=[user_tag], performers=[bob])
    empty = world.stash.add_image(noise_image(200, 150, seed=2), tags=[user_tag])
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert image_tags(world, image) == {"Holiday", SCANNED, MATCHED}
    assert set(world.stash.images[image].performer_ids) == {bob, alice}
    assert image_tags(world, empty) == {"Holiday", SCANNED}
    assert image_updates(world, image) == 1 and image_updates(world, empty) == 1


def test_matched_high_quality_faces_teach_their_subject_up_to_a_cap(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    subject = next(iter(world.compreface.subject_names()))
    for i in range(14):
        world.stash.add_image(photo(1, size=130 + 5 * i, seed=i))
    world.stash.add_image(photo(1, size=130, blur=0.012, seed=99))  # soft (sharpness ~8): matched, never learned
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert world.compreface.example_count(subject) == 10
    assert all(MATCHED in image_tags(world, i) for i in world.stash.images)


def test_five_photos_of_one_unknown_person_make_one_performer(world: TaskWorld) -> None:
    images = [world.stash.add_image(photo(42, size=140 + 8 * i, seed=i)) for i in range(5)]
    world.configure(maxConcurrency=4)
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    (performer,) = created_performers(world)
    assert len(world.compreface.subject_names()) == 1
    assert all(performer in world.stash.images[i].performer_ids for i in images)
    assert all(image_tags(world, i) == {SCANNED, MATCHED} for i in images)
    assert person_of_performer(world, performer) == 42


def test_a_stranger_seen_once_never_becomes_a_performer(world: TaskWorld) -> None:
    first = world.stash.add_image(photo(50, seed=1))
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert created_performers(world) == []
    assert image_tags(world, first) == {SCANNED, UNIDENTIFIED}
    assert len(world.compreface.subject_names()) == 1  # a candidate, not a performer

    second = world.stash.add_image(photo(50, size=170, seed=2))
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    (performer,) = created_performers(world)
    assert performer in world.stash.images[first].performer_ids
    assert performer in world.stash.images[second].performer_ids
    assert image_tags(world, first) == {SCANNED, MATCHED}


def test_a_face_the_engine_will_not_take_leaves_the_image_scanned_naming_the_engine(world: TaskWorld) -> None:
    image = world.stash.add_image(photo(52))
    refusal = {"message": "File [face.jpg] has an unavailable extension", "code": 21}
    world.compreface.fail_next("/api/v1/recognition/faces", 400, html=False, body=refusal, method="POST", times=2)
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert ERROR not in image_tags(world, image) and SCANNED in image_tags(world, image)
    assert world.compreface.subject_names() == []
    assert any("CompreFace would not take the face: CompreFace answered HTTP 400 code 21" in m
               for m in run.messages("debug"))


def test_min_faces_one_creates_on_first_sight(world: TaskWorld) -> None:
    world.configure(minFacesForNewPerformer=1)
    image = world.stash.add_image(photo(51))
    assert world.run("recognizeImagesHQ").error is None
    (performer,) = created_performers(world)
    assert set(world.stash.images[image].performer_ids) == {performer}


def _jpeg(image: Image.Image, **kw: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **kw)
    return out.getvalue()


def test_bad_and_unusual_files_end_tagged_and_the_run_completes(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    good = photo(1)
    big = Image.new("RGB", (9000, 6700), (90, 110, 130))
    big.paste(render(900, 900, [SyntheticFace(1, 100, 100, 700)]), (4000, 3000))
    gif = io.BytesIO()
    render(480, 360, [SyntheticFace(1, 60, 60, 200)]).convert("P").save(gif, "GIF")
    cases = {
        "corrupt": (b"\xff\xd8\xff\xe0" + bytes(random.Random(1).randbytes(3000)), ERROR),
        "empty": (b"", ERROR),
        "truncated": (good[: len(good) // 2], ERROR),
        "video bytes": (b"\x00\x00\x00\x20ftypisom" + b"\x00" * 4000, ERROR),
        "60 megapixels": (_jpeg(big, quality=80), MATCHED),
        "gif": (gif.getvalue(), MATCHED),
        "cmyk": (photo(1, mode="CMYK"), MATCHED),
        "exif rotated": (photo(1, exif_orientation=6), MATCHED),
        "png with alpha": (photo(1, fmt="PNG", mode="RGBA"), MATCHED),
    }
    ids = {name: world.stash.add_image(data, path=f"/media/{name.replace(' ', '_')}.jpg")
           for name, (data, _) in cases.items()}
    clip = world.stash.add_image(good, video=True, path="/media/clip.mp4")
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    for name, (_, expected) in cases.items():
        got = image_tags(world, ids[name])
        if expected == ERROR:
            assert got == {ERROR}, name
            assert any(f"image {ids[name]} " in m for m in run.messages("error")), name
        else:
            assert got == {SCANNED, MATCHED}, (name, got)
    assert image_tags(world, clip) == {ERROR}
    assert any(f"image {clip} " in m and "video" in m for m in run.messages("error"))


def test_dry_run_writes_nothing(world: TaskWorld) -> None:
    enrol(world, "Alice", 1)
    for i in range(3):
        world.stash.add_image(photo(1, 70, seed=i))
    world.configure(dryRun=True)
    tags_before = len(world.stash.tags)
    subjects_before = {s: world.compreface.example_count(s) for s in world.compreface.subject_names()}
    run = world.run("recognizeImagesHQ")
    assert run.error is None
    assert world.stash.mutation_count() == 0 and len(world.stash.tags) == tags_before
    assert {s: world.compreface.example_count(s) for s in world.compreface.subject_names()} == subjects_before
    assert any("dry run" in m for m in run.messages("info"))


def test_lq_matches_what_hq_refused_and_never_creates(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    small = world.stash.add_image(photo(1, size=27, seed=1))
    stranger = world.stash.add_image(photo(70, size=27, seed=2))
    assert world.run("recognizeImagesHQ").error is None
    assert image_tags(world, small) == {SCANNED} and image_tags(world, stranger) == {SCANNED}
    assert world.run("resetUnmatchedImages").error is None
    assert image_tags(world, small) == set()
    subjects = set(world.compreface.subject_names())
    assert world.run("recognizeImagesLQ").error is None
    assert alice in world.stash.images[small].performer_ids
    assert image_tags(world, small) == {SCANNED, MATCHED}
    assert set(world.compreface.subject_names()) == subjects
    assert created_performers(world) == []


def test_identify_modes_match_existing_performers_only(world: TaskWorld) -> None:
    alice = enrol(world, "Alice", 1)
    known = world.stash.add_image(photo(1))
    unknown = world.stash.add_image(photo(80))
    assert world.run("identifyImagesNew").error is None
    assert alice in world.stash.images[known].performer_ids
    assert image_tags(world, unknown) == {SCANNED, UNIDENTIFIED}  # a good face nobody matched: to review
    assert len(world.compreface.subject_names()) == 1 and created_performers(world) == []
    before = world.stash.calls[f"GET /image/{known}/image"]
    assert world.run("identifyImagesNew").error is None
    assert world.stash.calls[f"GET /image/{known}/image"] == before
    assert world.run("identifyImagesAll", limit="1").error is None
    assert world.stash.calls[f"GET /image/{known}/image"] == before + 1


PLAN = [(1,), (2,), (60,), (1, 61), (60,), (62,), (2, 60), (61,), (1,), (63,), (62, 1), (64,), (2,), (61,)]
LINKED = {1, 2, 60, 61, 62}  # Alice and Bob are known; 60, 61 and 62 are seen twice or more, 63 and 64 once


def _library(world: TaskWorld) -> list[str]:
    enrol(world, "Alice", 1)
    enrol(world, "Bob", 2)
    world.configure(maxConcurrency=3, maxBatchSize=4)
    return [world.stash.add_image(photo(*people, size=150 + 3 * i, seed=i)) for i, people in enumerate(PLAN)]


def _check_outcome(world: TaskWorld, images: list[str]) -> None:
    for image, people in zip(images, PLAN, strict=True):
        linked = set(people) & LINKED
        assert people_in(world, image) == linked, (image, people)
        assert image_tags(world, image) == ({SCANNED, MATCHED} if linked else {SCANNED, UNIDENTIFIED}), (image, people)
    assert sorted(person_of_performer(world, p) for p in created_performers(world)) == [60, 61, 62]
    people_of_subjects = sorted(person_of_subject(world, s) for s in world.compreface.subject_names())
    assert people_of_subjects == [1, 2, 60, 61, 62, 63, 64]  # one subject each, candidates included
    assert duplicate_tag_names(world) == []


def test_a_library_of_known_people_and_strangers(world: TaskWorld) -> None:
    images = _library(world)
    assert world.run("recognizeImagesHQ").error is None
    _check_outcome(world, images)


@pytest.mark.parametrize("stops", [(2,), (6, 1, 4)])
def test_stopped_runs_then_a_rerun_end_as_an_uninterrupted_run(world: TaskWorld, stops: tuple[int, ...]) -> None:
    images = _library(world)
    for stop_at in stops:
        # a stop after the last item (the library may be done before the 4th report) is no stop at all
        assert world.run("recognizeImagesHQ", stop_at_progress=stop_at).error in (None, "stopped on request")
    assert world.run("recognizeImagesHQ").error is None
    _check_outcome(world, images)


def test_an_image_whose_candidate_was_promoted_meanwhile_ends_linked_not_unidentified(world: TaskWorld) -> None:
    """Two workers see one stranger: worker B promotes the candidate and links its items, image 1 among them,
    while worker A, which saw only a candidate in image 1, still has to write image 1's outcome. Written in
    that order (the race a loaded machine produced), A's outcome said Unidentified over B's link; now A
    links the promotion again after its own outcome."""
    from stash_compreface.faces.models import Box, Face
    from stash_compreface.runtime.session import task_context
    from stash_compreface.stash.models import ItemKind
    from stash_compreface.tasks.image_recognizer import FaceReport, FaceStatus, ImageReport, _join_promotions
    from testdoubles.reporter import MemoryReporter
    from tests.library import COOKIE

    image_id = world.stash.add_image(photo(61))
    subject = "Person 1 STRANGERAAAAAAAA"
    with task_context(stash_url=world.stash.url, reporter=MemoryReporter(), state_dir=world.state_dir,
                      session_cookie=COOKIE) as ctx:
        stale = ctx.stash.find_image(image_id)  # worker A read the image before B's link
        assert stale is not None
        ctx.state.candidates.add(subject)
        ctx.state.candidates.record_sighting(subject, stale.ref)
        performer = world.stash.add_performer("Person 1 STRANGERAAAAAAAA")
        ctx.state.promotions.mark_pending(subject, performer)  # worker B: promoted, its items being linked
        ctx.writes.link_performer([image_id], performer, subject)
        ctx.state.promotions.complete(subject, performer)
        face = FaceReport(0, Face(Box(10, 10, 160, 160), 0.99), FaceStatus.NEW_CANDIDATE, subject=subject)
        report = ImageReport(stale, [face])
        assert report.unidentified
        ctx.writes.record_outcome(ItemKind.IMAGE, stale, failed=False, performers=report.performer_ids,
                                  unidentified=report.unidentified)  # worker A's outcome, after B's link
        _join_promotions(ctx, stale, report)  # what recognize_and_record does right after
    assert world.stash.images[image_id].performer_ids == {performer}
    assert image_tags(world, image_id) == {SCANNED, MATCHED}
