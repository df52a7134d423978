"""identifyImagesAll / identifyImagesNew: match faces to existing performers only; nothing is created."""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from ..stash.queries import Selection
from .context import TaskContext
from .image_recognizer import policy_for, run_images
from .runner import unscanned


def identify_all(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    policy = policy_for(ctx, relaxed=False, create="never", learn=False, track_sightings=False)
    return run_images(ctx, args, selection=Selection(), policy=policy, title="Identify all images")


def identify_new(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    policy = policy_for(ctx, relaxed=False, create="never", learn=False, track_sightings=False)
    return run_images(ctx, args, selection=unscanned(ctx), policy=policy, title="Identify unscanned images")
