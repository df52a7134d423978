"""recognize{New,All}SceneSprites and recognize{New,All}Scenes: link the known performers of scenes.

New = scenes carrying neither Scanned nor Error; All = every scene. The sprite modes read Stash's
sprite sheets; the video modes sample frames locally, or go through the Vision Service when
``visionServiceUrl`` is set (the machinery: ``tasks/scenes/``).
"""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from ..stash.queries import Selection
from .context import TaskContext
from .runner import Tally, unscanned
from .scenes import run_scenes, sprite_recognizer, video_recognizer


def recognize_new_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    tally = Tally()
    return run_scenes(ctx, args, sprite_recognizer(ctx, tally), selection=unscanned(ctx),
                      title="Recognize new scene sprites", tally=tally)


def recognize_all_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    tally = Tally()
    return run_scenes(ctx, args, sprite_recognizer(ctx, tally), selection=Selection(),
                      title="Recognize all scene sprites", tally=tally)


def recognize_new_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    tally = Tally()
    return run_scenes(ctx, args, video_recognizer(ctx, tally), selection=unscanned(ctx), title="Recognize new scenes",
                      tally=tally)


def recognize_all_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    tally = Tally()
    return run_scenes(ctx, args, video_recognizer(ctx, tally), selection=Selection(), title="Recognize all scenes",
                      tally=tally)
