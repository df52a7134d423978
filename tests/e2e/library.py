"""Building libraries of synthetic photos in the Stash double, and reading back who is who."""

from __future__ import annotations

from testdoubles.synthetic import SyntheticFace, draw_image
from tests.e2e.world import World


def photo(*persons: int, size: int = 150, blur: float = 0.0, yaw: float = 0.0, probability: float = 0.99,
          width: int = 640, height: int = 480, seed: int = 0, fmt: str = "JPEG", **encode: object) -> bytes:
    """A photo with one face per person, side by side, largest first."""
    faces = []
    x = 30
    for i, person in enumerate(persons):
        face_size = size if i == 0 else max(70, size * 2 // 3)
        faces.append(SyntheticFace(person, x, 60 + 10 * i, face_size, blur=blur, yaw=yaw, probability=probability))
        x += face_size + 40
    return draw_image(width, height, faces, seed=seed, fmt=fmt, **encode)  # type: ignore[arg-type]


def enrol(world: World, name: str, person: int) -> str:
    """A performer the plugin already knows: a subject named after it with one example."""
    performer = world.stash.add_performer(name, aliases=[f"Person 0 {name.upper():A<16.16}"])
    subject = next(a for a in world.stash.performers[performer].aliases if a.startswith("Person "))
    world.compreface.add_subject_example(subject, photo(person, size=200, seed=900 + person))
    return performer


def person_of_subject(world: World, subject: str) -> int:
    examples = world.compreface.subjects[subject]
    return world.compreface.engine.detect(examples[0].image)[0].person


def person_of_performer(world: World, performer_id: str) -> int | None:
    record = world.stash.performers[performer_id]
    for name in (record.name, *record.aliases):
        if name in world.compreface.subjects:
            return person_of_subject(world, name)
    return None


def people_in(world: World, image_id: str) -> set[int | None]:
    return {person_of_performer(world, p) for p in world.stash.images[image_id].performer_ids}


def image_updates(world: World, image_id: str) -> int:
    """How many mutations named this image."""
    count = 0
    for name, variables in world.stash.operations:
        if name == "BulkImageUpdate" and image_id in [str(i) for i in variables["input"]["ids"]]:
            count += 1
    return count
