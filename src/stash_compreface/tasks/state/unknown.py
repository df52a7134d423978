"""What a batch image run decides once every image is seen (``tasks/unknown_faces.py``): the faces nobody
matched, and the candidates seen often enough to become performers.

Both outlive the run until decided: a run killed (or stopped) before its end leaves them here, and the next
batch run decides them first. A face is kept as its vector (float32), not its picture: the state stays small,
and recognising a vector again costs no download and no detection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ...stash.models import ItemKind, ItemRef
from .shared import Repository


@dataclass(frozen=True)
class UnknownFace:
    """Face ``face`` (identifyImage's numbering) of ``item``, which matched nobody; ``founding``: it passed the
    founding gate, so it may start a new person; ``score``: its quality score (faces.scoring)."""

    item: ItemRef
    face: int
    founding: bool
    embedding: tuple[float, ...]
    score: float = 0.0


def item_order(item: ItemRef) -> tuple[str, int, str]:
    """Items in a fixed order (kind, then id as a number): what is decided at a run's end never depends on
    the order the run happened to see them in."""
    return item.kind.value, int(item.id) if item.id.isdigit() else -1, item.id


class UnknownFaces(Repository):
    def add(self, item: ItemRef, face: int, *, founding: bool, embedding: tuple[float, ...],
            score: float = 0.0) -> None:
        vector = struct.pack(f"<{len(embedding)}f", *embedding)
        with self._shared.write() as db:
            db.execute("INSERT OR REPLACE INTO unknown_faces(item, face, founding, embedding, score) "
                       "VALUES (?, ?, ?, ?, ?)", (str(item), face, int(founding), vector, score))

    def faces(self) -> list[UnknownFace]:
        """Every face left to decide, in :func:`item_order` and face number."""
        with self._shared.read() as db:
            rows = db.execute("SELECT item, face, founding, embedding, score FROM unknown_faces").fetchall()
        faces = [UnknownFace(ItemRef.parse(item), int(face), bool(founding),
                             struct.unpack(f"<{len(vector) // 4}f", vector), float(score))
                 for item, face, founding, vector, score in rows]
        return sorted(faces, key=lambda f: (item_order(f.item), f.face))

    def done(self, face: UnknownFace) -> None:
        """The face was decided (matched, founded a person, or stays unknown): not looked at again."""
        with self._shared.write() as db:
            db.execute("DELETE FROM unknown_faces WHERE item = ? AND face = ?", (str(face.item), face.face))

    def forget_item(self, item: ItemRef) -> None:
        """The item is recognised afresh (its faces are recorded again, or it is gone)."""
        with self._shared.write() as db:
            db.execute("DELETE FROM unknown_faces WHERE item = ?", (str(item),))

    def mark_due(self, subject: str) -> None:
        """The candidate was seen often enough: decide at the run's end whether it is someone known."""
        with self._shared.write() as db:
            db.execute("INSERT OR IGNORE INTO due_candidates(subject) VALUES (?)", (subject,))

    def due(self) -> list[tuple[str, tuple[ItemRef, ...]]]:
        """The due candidates with their items (each in :func:`item_order`), the one whose first item comes
        first first: the order they are decided in. One query."""
        with self._shared.read() as db:
            rows = db.execute("SELECT d.subject, s.item FROM due_candidates d "
                              "LEFT JOIN sightings s ON s.subject = d.subject").fetchall()
        found: dict[str, list[ItemRef]] = {}
        for subject, item in rows:
            items = found.setdefault(subject, [])
            if item is not None:
                items.append(ItemRef.parse(item))
        ordered = [(subject, tuple(sorted(items, key=item_order))) for subject, items in found.items()]
        last = (ItemKind.SCENE.value, 1 << 62, "")
        return sorted(ordered, key=lambda entry: (item_order(entry[1][0]) if entry[1] else last, entry[0]))

    def decided(self, subject: str) -> None:
        with self._shared.write() as db:
            db.execute("DELETE FROM due_candidates WHERE subject = ?", (subject,))
