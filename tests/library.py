"""Synthetic photo libraries in the Stash double, and reading back who is who.

Shared by the in-process task tests (tests/tasks) and the subprocess e2e tests (tests/e2e): both hand in
anything with a ``stash`` and a ``compreface`` double.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, Protocol

from PIL import Image

from testdoubles.compreface import DETECTION_KEY, RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.synthetic import SyntheticFace, draw_image, render

SCANNED, MATCHED, ERROR, SYNCED = "Compreface Scanned", "Compreface Matched", "Compreface Error", "Compreface Synced"
UNIDENTIFIED = "Compreface Unidentified"  # a good face that matched nobody: for the user to review

# The session cookie Stash hands the plugin (the doubles check it), and every secret a run must never show.
COOKIE = "MTczNjk1ODQwMHxEdi1CQkFFQ180SUFBUkFCRUFBQVpQLUNBQUVHYzNSeWFXNW5EQXdBQ25WelpYSmZhV1FHYzNSeWFXNW58"
SECRETS = (COOKIE, RECOGNITION_KEY, DETECTION_KEY)


def assert_no_secrets(texts: Iterable[str]) -> None:
    """No log line, output or error of a run (in-process or as Stash runs it) may carry a secret."""
    texts = list(texts)
    for secret in SECRETS:
        leaked = [t for t in texts if secret in t]
        assert not leaked, f"secret leaked into {len(leaked)} text(s): {leaked[0][:200]}"


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


def snapshot(world: Doubles) -> dict[str, Any]:
    """Everything a user could notice: each image's and scene's tags and performers, each performer's name,
    aliases and tags, and each face-service subject with the ids of its examples."""
    s, c = world.stash, world.compreface
    return {
        "images": {i: (image_tags(world, i), set(r.performer_ids)) for i, r in s.images.items()},
        "scenes": {i: (s.tag_names("scene", i), set(r.performer_ids)) for i, r in s.scenes.items()},
        "performers": {p: (r.name, tuple(r.aliases), s.tag_names("performer", p)) for p, r in s.performers.items()},
        "subjects": {name: sorted(e.image_id for e in c.subjects[name]) for name in c.subject_names()},
    }


def user_adds(world: Doubles, kind: str, item_id: str, *, performers: tuple[str, ...] = (),
              tags: tuple[str, ...] = (), aliases: tuple[str, ...] = ()) -> None:
    """A user's edit saved through Stash's GraphQL API: ``kind`` is image, scene or performer."""
    changes = []
    if performers:
        changes.append(f"performer_ids: {{ids: {_ids(performers)}, mode: ADD}}")
    if tags:
        changes.append(f"tag_ids: {{ids: {_ids(tags)}, mode: ADD}}")
    if aliases:
        changes.append(f"alias_list: {{values: {_ids(aliases)}, mode: ADD}}")
    mutation = f"bulk{kind.capitalize()}Update"
    _user_mutation(world, f'mutation {{ {mutation}(input: {{ids: ["{item_id}"], {", ".join(changes)}}}) {{ id }} }}')


def delete_performer(world: Doubles, performer_id: str) -> None:
    """The user's "Delete performer" in Stash: the performer and its links go."""
    _user_mutation(world, f'mutation {{ performerDestroy(input: {{id: "{performer_id}"}}) }}')


def _ids(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _user_mutation(world: Doubles, mutation: str) -> None:
    status, body = world.stash.execute(mutation)
    assert status == "ok" and isinstance(body, dict) and not body.get("errors"), body


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


def assert_synchronized_once(world: Doubles, performers: list[str]) -> None:
    """After Synchronize Performers (however often stopped and rerun): one alias, one subject with one
    example and the Synced tag per performer, and no tag created twice."""
    names = [subject_of(world, p) for p in performers]
    assert all(len(person_aliases(world, p)) == 1 for p in performers)
    assert sorted(world.compreface.subject_names()) == sorted(names)
    assert all(world.compreface.example_count(n) == 1 for n in names)
    assert all(world.stash.tag_names("performer", p) == {SYNCED} for p in performers)
    assert duplicate_tag_names(world) == []
