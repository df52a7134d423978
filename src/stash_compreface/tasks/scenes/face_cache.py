"""The faces the scene page showed, kept until the user acts on them.

identifyScene finds each person's best face in the frames it samples, then lets go of the video. The
page's Confirm and "another performer" teach that face to the performer (confirmMatch with the person's
index), as a face of an image is taught. Sampling the video again for it would take as long as the first
look, so the faces of the last look at each scene are kept as JPEG files in the state folder
(``scene-faces/<scene id>/<index>.jpg``), replaced by the next look; only the most recent scenes are kept.
They are a cache: deleting the folder loses nothing but the chance to teach those faces without looking
again. They are written through the state folder's file port (``ctx.files``), which a dry run makes
read-only: a dry look keeps nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..context import TaskContext

FOLDER_NAME = "scene-faces"
KEPT_SCENES = 50


def _root(ctx: TaskContext) -> Path | None:
    return ctx.files.path(FOLDER_NAME)


def keep(ctx: TaskContext, scene_id: str, crops: Sequence[bytes | None]) -> None:
    """Keep the faces of one look at a scene (``crops[i]`` for person ``i``), replacing the last look's (at
    once: another look at the same scene landing meanwhile wins, its faces are as good)."""
    root = _root(ctx)
    if root is None:
        return
    ctx.files.replace_folder(root / scene_id, {f"{index}.jpg": crop for index, crop in enumerate(crops) if crop})
    _prune(ctx, root)


def face(ctx: TaskContext, scene_id: str, index: int) -> bytes | None:
    """Person ``index``'s face from the last look at the scene, or None (no look kept, no face there)."""
    root = _root(ctx)
    if root is None:
        return None
    try:
        return (root / scene_id / f"{index}.jpg").read_bytes()
    except OSError:
        return None


def _prune(ctx: TaskContext, root: Path) -> None:
    """Only the ``KEPT_SCENES`` most recently looked-at scenes keep their faces."""
    if not root.is_dir():  # a dry run kept nothing
        return
    scenes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    scenes.sort(key=_looked_at, reverse=True)
    for stale in scenes[KEPT_SCENES:]:
        ctx.files.remove_tree(stale)


def _looked_at(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:  # pruned by another look meanwhile
        return 0.0
