"""A scene recognized and recorded, and the batch modes' loop: the glue to the item runner and the writer.

A scene's outcome (its performers, Scanned/Matched/Unidentified or Error) is written in one go, after the
look, so a run killed mid-scene leaves the scene untagged and the next run looks again.
"""

from __future__ import annotations

from typing import Any

from ...settings import TaskArgs
from ...stash.models import ItemKind, Scene
from ...stash.queries import Selection
from ..context import TaskContext
from ..runner import Tally, item_pages, run_items
from .findings import SceneReport
from .recognizer import SceneRecognizer


def record_scene(ctx: TaskContext, recognizer: SceneRecognizer, scene: Scene, tally: Tally) -> SceneReport:
    """Recognize the scene, then write its outcome (performers, tags) in one go."""
    report = recognizer.recognize(scene)
    ctx.debug(f"{scene.label}: {report.describe()}")
    linked = ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=False, performers=report.performers,
                                       unidentified=report.unidentified)
    tally.add(processed=1, matched=int(bool(report.performers)), linked=linked)
    return report


def mark_scene_failed(ctx: TaskContext, scene: Scene) -> None:
    ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=True)


def run_scenes(ctx: TaskContext, args: TaskArgs, recognizer: SceneRecognizer, *, selection: Selection, title: str,
               tally: Tally | None = None) -> dict[str, Any]:
    """A batch scene mode: every selected scene recognized and recorded through the item runner."""
    tally = tally or Tally()

    def work(scene: Scene) -> None:
        record_scene(ctx, recognizer, scene, tally)

    run_items(ctx, item_pages(ctx, ItemKind.SCENE, selection, args.limit), work, title=title, noun="scene",
              label=lambda scene: scene.label, mark_failed=lambda scene: mark_scene_failed(ctx, scene), tally=tally)
    return {"mode": args.mode, **tally.as_dict()}
