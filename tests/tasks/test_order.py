"""Issue 18: who someone is does not depend on processing order. One library of synthetic faces (people seen
clean, soft and small, a group photo, a person only ever seen soft, strangers seen once) recognised with
recognizeImagesHQ in three shuffled orders and at maxConcurrency 1 and 8 ends with the same performers, each
linked to the same photos, and the same photos left Unidentified; compared by person, since ids and the
random part of subject names differ from one world to the next."""

from __future__ import annotations

import random
from pathlib import Path

from stash_compreface.faces.matching import MAX_EXAMPLES_PER_SUBJECT
from tests.library import UNIDENTIFIED, enrol, image_tags, person_of_performer, photo
from tests.tasks.conftest import TaskWorld, task_world

SOFT = 0.008  # sharpness ~16: passes the subject gate (12), so it may match and be learned, not found a person


def library() -> list[tuple[str, bytes]]:
    """(label, photo): persons 1-4 in three clean photos, two soft ones and a small one each; 1 and 2 in a group
    photo; person 5 only soft (nobody may be founded from those); persons 10-12 clean once (strangers)."""
    photos = []
    for person in (1, 2, 3, 4):
        photos += [(f"p{person}-clean{n}", photo(person, size=150 + 10 * n, seed=100 * person + n)) for n in range(3)]
        photos += [(f"p{person}-soft{n}", photo(person, blur=SOFT, seed=100 * person + 10 + n)) for n in range(2)]
        photos.append((f"p{person}-small", photo(person, size=80, seed=100 * person + 20)))
    photos.append(("group-1-2", photo(1, 2, size=160, seed=7)))
    photos += [(f"p5-soft{n}", photo(5, blur=SOFT, seed=500 + n)) for n in range(3)]
    photos += [(f"stranger{p}", photo(p, size=160, seed=p)) for p in (10, 11, 12)]
    return photos


Outcome = tuple[frozenset[tuple[int | None, frozenset[str]]], frozenset[str]]


def recognised(tmp_path: Path, photos: list[tuple[str, bytes]], *, seed: int, concurrency: int) -> Outcome:
    """Performers as (their person, the photos linked to them) and the photos left Unidentified, after
    recognizeImagesHQ over the photos added to Stash in a shuffled order."""
    shuffled = list(photos)
    random.Random(seed).shuffle(shuffled)
    with task_world(tmp_path / f"order-{seed}-{concurrency}") as world:
        world.configure(maxConcurrency=concurrency)
        label = {world.stash.add_image(data): name for name, data in shuffled}
        run = world.run("recognizeImagesHQ")
        assert run.error is None, run.logs
        linked: dict[str, set[str]] = {}
        for image_id, record in world.stash.images.items():
            for performer in record.performer_ids:
                linked.setdefault(performer, set()).add(label[image_id])
        performers = frozenset((person_of_performer(world, p), frozenset(linked.get(p, ())))
                               for p in world.stash.performers)
        unidentified = frozenset(label[i] for i in world.stash.images if UNIDENTIFIED in image_tags(world, i))
        return performers, unidentified


def test_the_same_library_in_any_order_and_concurrency_ends_with_the_same_performers(tmp_path: Path) -> None:
    photos = library()
    outcomes = {(seed, concurrency): recognised(tmp_path, photos, seed=seed, concurrency=concurrency)
                for seed, concurrency in ((1, 1), (2, 1), (3, 8))}
    first = outcomes[1, 1]
    performers, unidentified = first
    assert sorted(person for person, _ in performers) == [1, 2, 3, 4], "one performer per recurring person"
    for person, names in performers:
        group = {"group-1-2"} if person in (1, 2) else set()
        expected = {n for n, _ in photos if n.startswith(f"p{person}-")} | group
        assert names == expected, f"person {person}: every photo of them linked, soft and small ones included"
    assert unidentified == {"p5-soft0", "p5-soft1", "p5-soft2", "stranger10", "stranger11", "stranger12"}
    for key, outcome in outcomes.items():
        assert outcome == first, f"order {key[0]} at maxConcurrency {key[1]} ended differently"


def test_a_run_stopped_before_its_end_leaves_its_unknown_faces_to_the_next_run(world: TaskWorld) -> None:
    """A stop (or a kill) after the last image and before the unknown faces are decided: the images are
    Scanned and Unidentified, and the next run, with no new image, decides them as the first would have."""
    world.configure(maxConcurrency=1)
    soft = world.stash.add_image(photo(3, blur=SOFT, seed=1))  # seen before anyone could be founded from it
    clean = [world.stash.add_image(photo(3, size=150 + 10 * n, seed=2 + n)) for n in range(2)]
    stopped = world.run("recognizeImagesHQ", stop_at_progress=3)
    assert stopped.error == "stopped on request"
    assert world.stash.performers == {} and world.compreface.subject_names() == []
    assert all(UNIDENTIFIED in image_tags(world, i) for i in (soft, *clean))

    assert world.run("recognizeImagesHQ").error is None
    (performer,) = world.stash.performers
    assert person_of_performer(world, performer) == 3
    assert all(world.stash.images[i].performer_ids == {performer} for i in (soft, *clean))
    assert not any(UNIDENTIFIED in image_tags(world, i) for i in (soft, *clean))


def learned_faces(tmp_path: Path, photos: list[tuple[str, bytes]], *, seed: int, concurrency: int) -> frozenset[str]:
    """The photos Alice's performer page lists as the faces she was learned from, after recognizeImagesHQ over
    the photos added to Stash in a shuffled order."""
    shuffled = list(photos)
    random.Random(seed).shuffle(shuffled)
    with task_world(tmp_path / f"learn-{seed}-{concurrency}") as world:
        alice = enrol(world, "Alice", 1)
        world.configure(maxConcurrency=concurrency)
        label = {world.stash.add_image(data): name for name, data in shuffled}
        assert world.run("recognizeImagesHQ").error is None
        faces = world.run("performerFaces", performerId=alice).output["faces"]
        assert len(faces) == MAX_EXAMPLES_PER_SUBJECT, "her profile face and nine learned ones"
        return frozenset(label[f["source"].removeprefix("image:")] for f in faces if f["source"])


def test_a_person_learns_the_same_faces_in_any_order(tmp_path: Path) -> None:
    """Fifteen clean photos of a known person, more than a subject holds: the nine she learns are her best
    (sharpest, most frontal), not the first nine a worker happened to reach."""
    photos = [(f"alice{n}", photo(1, size=130 + 6 * n, seed=40 + n)) for n in range(15)]
    learned = {(seed, concurrency): learned_faces(tmp_path, photos, seed=seed, concurrency=concurrency)
               for seed, concurrency in ((1, 1), (2, 1), (3, 4))}
    assert len(learned[1, 1]) == MAX_EXAMPLES_PER_SUBJECT - 1
    for key, faces in learned.items():
        assert faces == learned[1, 1], f"order {key[0]} at maxConcurrency {key[1]} taught other faces"


def test_a_new_person_is_founded_on_their_best_face_whatever_order_their_images_came_in(world: TaskWorld) -> None:
    """Three photos of someone unknown, the smallest added first: the subject is founded on the best face (so
    named after its image), not on whichever image the library happened to number first."""
    world.configure(maxConcurrency=1)
    images = [world.stash.add_image(photo(7, size=size, seed=70 + size)) for size in (110, 150, 230)]
    assert world.run("recognizeImagesHQ").error is None
    (performer,) = world.stash.performers.values()
    assert performer.name.startswith(f"Person {images[2]} "), performer.name
    assert all(performer.id in world.stash.images[i].performer_ids for i in images)
