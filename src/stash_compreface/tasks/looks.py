"""The last look at each item (identifyImage, identifyScene): its faces and what the user said of each.

The page's actions name a face by its index in the look the user sees (``faceIndex``); the face actions
(``tasks/face_actions.py``) read here what that face was (its suggested performer, its candidate subject)
and keep here what the user decided for it, so that one operation does all a click means, and "Not this
person" on one face of a group photo knows whether another face of the item is still that performer's. A
user's "not them" for one face is carried over to the same face (same box) in the next look.

The page's Faces shows the kept look at once (identifyImage/identifyScene ``cached``, :func:`answer`): the
boxes, the suggestions and what the user decided, with the item's links read again from Stash, and "Look
again" for a fresh look. That answer needs no face service and imports nothing of the recognition (no numpy,
Pillow or engine), so it is one light process.

Kept as one JSON file per item in the state folder (``looks/image-12/look.json``) through its file port, like
the scene page's faces (``scenes/face_cache.py``): a cache; deleting it loses only the decisions on faces of
items not looked at again. A dry run keeps nothing.
"""

from __future__ import annotations

import json
import time
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


def load_look(ctx: TaskContext, item: ItemRef) -> dict[str, Any] | None:
    """The last look at ``item``: ``faces`` and what :func:`keep` was given beside them (``frame``, ``what``),
    and ``lookedAt`` (seconds since the epoch); None when none is kept."""
    folder = _file(ctx, item)
    try:
        kept = json.loads((folder / "look.json").read_bytes()) if folder else None
    except (OSError, ValueError):
        return None
    if isinstance(kept, list):  # kept before the look had its frame
        kept = {"faces": kept}
    return kept if isinstance(kept, dict) and isinstance(kept.get("faces"), list) else None


def load(ctx: TaskContext, item: ItemRef) -> list[dict[str, Any]] | None:
    """The faces of the last look at ``item``, or None when none is kept."""
    kept = load_look(ctx, item)
    return None if kept is None else list(kept["faces"])


def keep(ctx: TaskContext, item: ItemRef, faces: list[dict[str, Any]], **about: Any) -> None:
    """Keep a look's faces and what the page needs to draw them again (``about``: the analysed ``frame``, a
    scene's ``what``); a face action keeps the faces it changed, and what was kept beside them stays. The
    last look is replaced at once (the later writer wins, its look is as good)."""
    folder = _file(ctx, item)
    if folder is None:
        return
    if not about:
        before = load_look(ctx, item) or {}
        about = {k: v for k, v in before.items() if k not in ("faces", "lookedAt")}
        looked_at = before.get("lookedAt", time.time())
    else:
        looked_at = time.time()
    look = {**about, "faces": faces, "lookedAt": looked_at}
    ctx.files.replace_folder(folder, {"look.json": json.dumps(look, separators=(",", ":")).encode()})
    _prune(ctx, folder.parent)


# A kept face that names no performer: what a face becomes when its suggestion is refused or gone.
NOBODY: dict[str, Any] = {"performer": None, "subject": None, "similarity": None, "linked": False}


def performer_id(face: dict[str, Any]) -> str | None:
    """The id of the performer a kept face suggests or is linked to; None for nobody's face."""
    return (face.get("performer") or {}).get("id")


def answer(ctx: TaskContext, item: ItemRef, performer_ids: set[str] | frozenset[str], key: str) -> \
        dict[str, Any] | None:
    """The kept look as the page's Faces answers it (``faces`` of an image, ``people`` of a scene), each face's
    ``linked`` read again from the item's ``performer_ids`` now in Stash; None when no look is kept. A face
    suggesting a performer who no longer exists (an undone Create, a performer deleted in Stash) is shown as
    nobody's: its Confirm would fail. Only suggestions not linked to the item are asked about, one each."""
    kept = load_look(ctx, item)
    if kept is None:
        return None
    suggested = {pid for f in kept["faces"] if (pid := performer_id(f))} - set(performer_ids)
    gone = {pid for pid in suggested if ctx.stash.find_performer(pid) is None}
    faces = [{**f, **NOBODY} if performer_id(f) in gone else {**f, "linked": performer_id(f) in performer_ids}
             for f in kept["faces"]]
    about = {k: v for k, v in kept.items() if k not in ("faces",)}
    return {**about, key: faces, "cached": True}


def carry_over(ctx: TaskContext, item: ItemRef, faces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new look's faces with the user's "not them" of the last look's same face applied: a face the user
    said is not performer P is not suggested as P again."""
    before = [f for f in load(ctx, item) or [] if f.get("rejectedId") and f.get("box")]
    out = []
    for face in faces:
        same = max(before, key=lambda old: _iou(old["box"], face.get("box")), default=None)
        if same is not None and _iou(same["box"], face.get("box")) >= SAME_FACE_IOU:
            face = {**face, "rejected": same["rejected"], "rejectedId": same["rejectedId"]}
            if performer_id(face) == same["rejectedId"]:
                face.update(NOBODY)
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
