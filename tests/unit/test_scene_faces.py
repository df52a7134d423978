"""The scene page's faces, kept between the look (identifyScene) and the user's action (confirmMatch)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stash_compreface.ports import StateFiles
from stash_compreface.tasks.scenes import face_cache as scene_faces


def ctx_in(folder: Path) -> Any:
    return SimpleNamespace(files=StateFiles(folder))


def test_the_last_look_at_a_scene_is_kept_and_replaced_by_the_next(tmp_path: Path) -> None:
    ctx = ctx_in(tmp_path)
    scene_faces.keep(ctx, "7", [b"alice", None, b"stranger"])
    assert [scene_faces.face(ctx, "7", i) for i in range(4)] == [b"alice", None, b"stranger", None]
    scene_faces.keep(ctx, "7", [b"alice again"])
    assert [scene_faces.face(ctx, "7", i) for i in range(3)] == [b"alice again", None, None]
    assert scene_faces.face(ctx, "8", 0) is None
    assert sorted(p.name for p in (tmp_path / "scene-faces").iterdir()) == ["7"]  # nothing half-written left


def test_only_the_most_recent_scenes_keep_their_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scene_faces, "KEPT_SCENES", 2)
    ctx = ctx_in(tmp_path)
    for age, scene in enumerate(["1", "2", "3"]):
        scene_faces.keep(ctx, scene, [scene.encode()])
        when = 1_000_000 + age * 60
        os.utime(tmp_path / "scene-faces" / scene, (when, when))
    scene_faces.keep(ctx, "4", [b"4"])
    assert [scene_faces.face(ctx, s, 0) for s in "1234"] == [None, None, b"3", b"4"]


def test_without_a_state_folder_nothing_is_kept() -> None:
    ctx: Any = SimpleNamespace(files=StateFiles(None))
    scene_faces.keep(ctx, "1", [b"x"])
    assert scene_faces.face(ctx, "1", 0) is None
