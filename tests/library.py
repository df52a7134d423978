"""Synthetic photo libraries in the Stash double, and reading back who is who.

Shared by the in-process task tests (tests/tasks) and the subprocess e2e tests (tests/e2e): both hand in
anything with a ``stash`` and a ``compreface`` double.
"""

from __future__ import annotations

import io
from typing import Protocol

from PIL import Image

from testdoubles.compreface import CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.synthetic import SyntheticFace, draw_image, render

SCANNED, MATCHED, ERROR, SYNCED = "Compreface Scanned", "Compreface Matched", "Compreface Error", "Compreface Synced"
UNIDENTIFIED = "Compreface Unidentified"  # a good face that matched nobody: for the user to review


class Doubles(Protocol):
    stash: StashDouble
    compreface: CompreFaceDouble


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


def portrait(person: int, *, extra: SyntheticFace | None = None) -> bytes:
    """A performer profile picture: one large face, optionally a smaller second one."""
    faces = [SyntheticFace(person, 110, 120, 200)]
    if extra is not None:
        faces.append(extra)
    return draw_image(420, 520, faces, seed=person)


def enrol(world: Doubles, name: str, person: int) -> str:
    """A performer the plugin already knows: a subject named after it with one example."""
    performer = world.stash.add_performer(name, aliases=[f"Person 0 {name.upper():A<16.16}"])
    subject = next(a for a in world.stash.performers[performer].aliases if a.startswith("Person "))
    world.compreface.add_subject_example(subject, photo(person, size=200, seed=900 + person))
    return performer


def person_of_subject(world: Doubles, subject: str) -> int:
    examples = world.compreface.subjects[subject]
    return world.compreface.engine.detect(examples[0].image)[0].person


def person_of_performer(world: Doubles, performer_id: str) -> int | None:
    record = world.stash.performers[performer_id]
    for name in (record.name, *record.aliases):
        if name in world.compreface.subjects:
            return person_of_subject(world, name)
    return None


def people_in(world: Doubles, image_id: str) -> set[int | None]:
    return {person_of_performer(world, p) for p in world.stash.images[image_id].performer_ids}


def image_tags(world: Doubles, image_id: str) -> set[str]:
    return world.stash.tag_names("image", image_id)


def created_performers(world: Doubles) -> list[str]:
    """Performers the plugin made for unknown people (named ``Person ...``, no aliases)."""
    return [p for p, r in world.stash.performers.items() if r.name.startswith("Person ") and not r.aliases]


def person_aliases(world: Doubles, performer_id: str) -> list[str]:
    return [a for a in world.stash.performers[performer_id].aliases if a.startswith("Person ")]


def subject_of(world: Doubles, performer_id: str) -> str:
    """The CompreFace subject of a performer: its ``Person ...`` alias, else its name."""
    aliases = person_aliases(world, performer_id)
    return aliases[0] if aliases else world.stash.performers[performer_id].name


def image_updates(world: Doubles, image_id: str) -> int:
    """How many mutations named this image."""
    count = 0
    for name, variables in world.stash.operations:
        if name == "BulkImageUpdate" and image_id in [str(i) for i in variables["input"]["ids"]]:
            count += 1
    return count


def duplicate_tag_names(world: Doubles) -> list[str]:
    names = [t.name for t in world.stash.tags.values()]
    return sorted({n for n in names if names.count(n) > 1})


# ---------------------------------------------------------------------------------------------
# Scenes: Stash-style sprite sheets and video frames for the vision double

CELL_W, CELL_H, GRID = 160, 90, 9


def sprite(cells: list[int | None]) -> tuple[bytes, str]:
    """A Stash-style sprite sheet (9 columns of 160x90 thumbnails) and its VTT; None = no face."""
    rows = -(-len(cells) // GRID)
    sheet = Image.new("RGB", (GRID * CELL_W, rows * CELL_H), (0, 0, 0))
    lines = ["WEBVTT", ""]
    for i, person in enumerate(cells):
        x, y = (i % GRID) * CELL_W, (i // GRID) * CELL_H
        faces = [] if person is None else [SyntheticFace(person, 50, 12, 66)]
        sheet.paste(render(CELL_W, CELL_H, faces, seed=i), (x, y))
        start, end = i * 5, (i + 1) * 5
        lines += [f"00:{start // 60:02d}:{start % 60:02d}.000 --> 00:{end // 60:02d}:{end % 60:02d}.000",
                  f"abc_sprite.jpg#xywh={x},{y},{CELL_W},{CELL_H}", ""]
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=90)
    return out.getvalue(), "\n".join(lines)


def frames(persons: list[int | None]) -> list[tuple[float, bytes]]:
    """One 640x360 frame every 2 s; None = nobody in view."""
    return [(2.0 * i, draw_image(640, 360, [] if p is None else [SyntheticFace(p, 200 + 10 * i, 60, 150)], seed=i))
            for i, p in enumerate(persons)]
