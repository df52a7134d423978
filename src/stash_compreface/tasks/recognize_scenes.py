"""recognize{New,All}SceneSprites and recognize{New,All}Scenes: link the known performers of scenes.

New = scenes carrying neither Scanned nor Error; All = every scene. The sprite modes read Stash's
sprite sheets; the video modes sample frames locally, or go through the Vision Service when
``visionServiceUrl`` is set.
"""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from ..stash.models import ItemKind, Scene
from ..stash.queries import Selection
from .context import TaskContext
from .runner import Tally, item_pages, run_items, unscanned
from .scene_recognizer import (
    FrameRecognizer,
    SceneRecognizer,
    SpriteRecognizer,
    VideoRecognizer,
)


def _video_recognizer(ctx: TaskContext, tally: Tally) -> SceneRecognizer:
    """The Vision Service when configured, else frames sampled here from the video."""
    if ctx.settings.vision_service_url:
        return VideoRecognizer(ctx)
    recognizer = FrameRecognizer(ctx, ctx.frames, tally)
    recognizer.directory.complete_pending()
    return recognizer


def _run(ctx: TaskContext, args: TaskArgs, recognizer: SceneRecognizer, *, only_new: bool,
         title: str, tally: Tally | None = None) -> dict[str, Any]:
    tally = tally or Tally()

    def work(scene: Scene) -> None:
        found, summary = recognizer.performers(scene)
        ctx.debug(f"{scene.label}: {summary}")
        linked = ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=False, performers=found)
        tally.add(processed=1, matched=int(bool(found)), linked=linked)

    pages = item_pages(ctx, ItemKind.SCENE, unscanned(ctx) if only_new else Selection(), args.limit)
    run_items(ctx, pages, work, title=title, noun="scene", label=lambda scene: scene.label,
              mark_failed=lambda scene: ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=True),
              tally=tally)
    return {"mode": args.mode, **tally.as_dict()}


def recognize_new_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.face_service.check()
    return _run(ctx, args, SpriteRecognizer(ctx), only_new=True, title="Recognize new scene sprites")


def recognize_all_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.face_service.check()
    return _run(ctx, args, SpriteRecognizer(ctx), only_new=False, title="Recognize all scene sprites")


def recognize_new_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.face_service.check()
    tally = Tally()
    return _run(ctx, args, _video_recognizer(ctx, tally), only_new=True, title="Recognize new scenes",
                tally=tally)


def recognize_all_scenes(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    ctx.face_service.check()
    tally = Tally()
    return _run(ctx, args, _video_recognizer(ctx, tally), only_new=False, title="Recognize all scenes",
                tally=tally)
