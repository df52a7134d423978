"""The last look at each item (identifyImage, identifyScene): its faces and what the user said of each.

The page's actions name a face by its index in the look the user sees (``faceIndex``); the face actions
(``tasks/face_actions.py``) read here what that face was (its suggested performer, its candidate subject)
and keep here what the user decided for it, so that one operation does all a click means, and "Not this
person" on one face of a group photo knows whether another face of the item is still that performer's. A
user's "not them" for one face is carried over to the same face (same box) in the next look.

Kept as one JSON file per item in the state folder (``looks/image-12.json``) through its file port, like the
scene page's faces (``scenes/face_cache.py``): a cache; deleting it loses only the decisions on faces of
items not looked at again. A dry run keeps nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SettingError
from ..stash.models import ItemRef
from .context import TaskContext

FOLDER_NAME = "looks"
KEPT_LOOKS = 500
SAME_FACE_IOU = 0.5  # boxes of two looks overlapping this much are the same face


def _file(ctx: TaskContext, item: ItemRef) -> Path | None:
    root = ctx.files.path(FOLDER_NAME)
    return None if root is None else root / f"{item.kind.value}-{item.id}"


def load(ctx: TaskContext, item: ItemRef) -> list[dict[str, Any]] | None:
    """The faces of the last look at ``item``, or None when none is kept."""
    folder = _file(ctx, item)
    try:
        return list(json.loads((folder / "look.json").read_bytes())) if folder else None
    except (OSError, ValueError):
        return None


def keep(ctx: TaskContext, item: ItemRef, faces: list[dict[str, Any]]) -> None:
    """Keep a look's faces (replacing the last one at once; the later writer wins, its look is as good)."""
    folder = _file(ctx, item)
    if folder is None:
        return
    ctx.files.replace_folder(folder, {"look.json": json.dumps(faces, separators=(",", ":")).encode()})
    _prune(ctx, folder.parent)


def carry_over(ctx: TaskContext, item: ItemRef, faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new look's faces with the user's "not them" of the last look's same face applied: a face the user
    said is not performer P is not suggested as P again."""
    before = [f for f in load(ctx, item) or [] if f.get("rejectedId") and f.get("box")]
    out = []
    for face in faces:
        same = max(before, key=lambda old: _iou(old["box"], face.get("box")), default=None)
        if same is not None and _iou(same["box"], face.get("box")) >= SAME_FACE_IOU:
            face = {**face, "rejected": same["rejected"], "rejectedId": same["rejectedId"]}
            if (face.get("performer") or {}).get("id") == same["rejectedId"]:
                face.update(performer=None, subject=None, similarity=None, linked=False)
        out.append(face)
    return out


def face_of(ctx: TaskContext, item: ItemRef, label: str, faces: list[dict[str, Any]] | None,
            index: int) -> dict[str, Any]:
    """Face ``index`` of the look, or the error telling the user to look first."""
    found = next((f for f in faces or [] if f.get("index") == index), None)
    if found is None:
        raise SettingError(f"faceIndex {index}: no such face in the last look at {label}: look at it again "
                           "(the page's Faces) and use the index it lists", setting="faceIndex")
    return found


def _iou(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float:
    if not a or not b:
        return 0.0
    w = min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"])
    h = min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"])
    if w <= 0 or h <= 0:
        return 0.0
    area = (a["x_max"] - a["x_min"]) * (a["y_max"] - a["y_min"]) + (b["x_max"] - b["x_min"]) * (b["y_max"] - b["y_min"])
    return float(w * h / (area - w * h))


def _prune(ctx: TaskContext, root: Path) -> None:
    """Only the ``KEPT_LOOKS`` most recent looks are kept."""
    if not root.is_dir():
        return
    looks = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(looks) <= KEPT_LOOKS:
        return
    looks.sort(key=lambda p: p.stat().st_mtime if p.exists() else 0.0, reverse=True)
    for stale in looks[KEPT_LOOKS:]:
        ctx.files.remove_tree(stale)
