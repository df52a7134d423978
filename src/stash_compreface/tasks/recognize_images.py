"""recognizeImagesHQ / recognizeImagesLQ: images not yet scanned; learn from them and find new people.

HQ matches known faces, learns from good matches and turns unknown high-quality faces into candidates
(a candidate becomes a performer once seen in ``minFacesForNewPerformer`` images). LQ then matches what
HQ's gate refused (smaller, blurrier, turned faces) but never creates subjects, so the subject store
stays clean. Each image ends Error (reason logged) or Scanned, plus Matched when a performer was linked.
"""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from .context import TaskContext
from .image_recognizer import policy_for, run_images
from .runner import unscanned


def recognize_hq(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    policy = policy_for(ctx, relaxed=False, create="candidate", learn=True, track_sightings=True)
    return run_images(ctx, args, selection=unscanned(ctx), policy=policy,
                      title="Recognize images (high quality)")


def recognize_lq(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    policy = policy_for(ctx, relaxed=True, create="never", learn=True, track_sightings=True)
    return run_images(ctx, args, selection=unscanned(ctx), policy=policy,
                      title="Recognize images (low quality)")
