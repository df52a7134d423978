"""Task modes: the one place where Stash's camelCase mode strings appear."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from .confirm_match import confirm_match
from .context import TaskContext
from .create_performer_from_image import create_performer_from_image
from .export_to_compreface import export_to_compreface
from .identify_gallery import identify_gallery
from .identify_image import identify_image
from .identify_images import identify_all, identify_new
from .identify_scene import identify_scene
from .import_from_compreface import import_from_compreface
from .merge_into_performer import merge_into_performer
from .name_candidate import name_candidate
from .recognize_images import recognize_hq, recognize_lq
from .recognize_queued import recognize_queued
from .recognize_scenes import (
    recognize_all_scene_sprites,
    recognize_all_scenes,
    recognize_new_scene_sprites,
    recognize_new_scenes,
)
from .reject_candidate import reject_candidate
from .reject_match import reject_match
from .reset_unmatched import reset_unmatched_images, reset_unmatched_scenes
from .review_data import review_data
from .runner import DRY_RUN_SUMMARY, RunChanges
from .synchronize_performers import synchronize_performers
from .undo_run import undo_run

Task = Callable[[TaskContext, TaskArgs], Any]

MODES: dict[str, Task] = {
    "synchronizePerformers": synchronize_performers,
    "recognizeImagesHQ": recognize_hq,
    "recognizeImagesLQ": recognize_lq,
    "identifyImagesAll": identify_all,
    "identifyImagesNew": identify_new,
    "identifyImage": identify_image,
    "createPerformerFromImage": create_performer_from_image,
    "identifyGallery": identify_gallery,
    "resetUnmatchedImages": reset_unmatched_images,
    "resetUnmatchedScenes": reset_unmatched_scenes,
    "recognizeNewSceneSprites": recognize_new_scene_sprites,
    "recognizeAllSceneSprites": recognize_all_scene_sprites,
    "recognizeNewScenes": recognize_new_scenes,
    "recognizeAllScenes": recognize_all_scenes,
    "importFromCompreFace": import_from_compreface,
    "exportToCompreFace": export_to_compreface,
    "identifyScene": identify_scene,
    "rejectMatch": reject_match,
    "confirmMatch": confirm_match,
    "undoRun": undo_run,
    "recognizeQueued": recognize_queued,
    "nameCandidate": name_candidate,
    "mergeIntoPerformer": merge_into_performer,
    "rejectCandidate": reject_candidate,
    "reviewData": review_data,
}

# Modes Settings > Tasks does not list (plugin/compreface.yml): Stash's UI runs a listed task with its
# defaultArgs only, and these need the id of what to act on, so a click could only fail. The UI plugin
# (plugin/ui) calls them with runPluginOperation, which needs no listed task, and the CLI with
# `stash-compreface run MODE --arg NAME=VALUE`. reviewData needs no id, but is the review page's read.
OPERATIONS: dict[str, str] = {
    "identifyImage": "imageId",
    "createPerformerFromImage": "imageId",
    "identifyScene": "sceneId",
    "identifyGallery": "galleryId",
    "confirmMatch": "performerId, and imageId or sceneId",
    "rejectMatch": "performerId, and imageId or sceneId",
    "undoRun": "runId",
    "nameCandidate": "subject and name",
    "mergeIntoPerformer": "subject and performerId",
    "rejectCandidate": "subject",
    "reviewData": "",  # no id: what the review page shows, read in one call
}
# The modes Settings > Tasks lists: each runs with a click, with its defaultArgs alone.
LISTED = tuple(mode for mode in MODES if mode not in OPERATIONS)

# Modes that revert or correct journalled writes, or only read (reviewData): not runs to be undone.
UNJOURNALLED = frozenset({"rejectMatch", "undoRun", "reviewData"})


def task_for(mode: str) -> Task:
    """The task of a mode; checked before connecting anywhere, so a typo fails at once."""
    task = MODES.get(mode)
    if task is None:
        raise SettingError(f"unknown mode: {mode} (known: {', '.join(sorted(MODES))})", setting="mode")
    return task


def run(mode: str, ctx: TaskContext, args: TaskArgs) -> Any:
    """Run the mode; a run that writes gets a journal, and its id is the output's ``runId`` (for undoRun).

    A journalled run ends with one info line that says what changed in Stash, the run's number and how to
    undo it (:meth:`RunChanges.summary`), and the same counts as the output's ``changes``. A run that fails
    half way says what it changed before its error, so its partial writes can be undone.
    """
    task = task_for(mode)
    if mode in UNJOURNALLED:
        return task(ctx, args)
    ctx.journal.begin(mode)  # the run itself is opened by its first write: a look that writes nothing gets none
    try:
        output = task(ctx, args)
    except BaseException:
        with contextlib.suppress(Exception):  # the error itself is what the user must see
            changes = run_changes(ctx)
            if changes is not None and changes.parts():
                ctx.info(changes.summary(ctx.run_id, ended="ended early"))
        raise
    changes = run_changes(ctx)
    # A look from the UI (an operation that changed nothing) is not a run the user needs to read about.
    quiet = mode in OPERATIONS and changes is not None and not changes.parts()
    ctx.log("debug" if quiet else "info", DRY_RUN_SUMMARY if changes is None else changes.summary(ctx.run_id))
    if isinstance(output, dict):
        output = {**output, "runId": ctx.run_id,
                  "changes": {"dryRun": True} if changes is None else changes.as_dict()}
    return output


def run_changes(ctx: TaskContext) -> RunChanges | None:
    """What this run changed, from its journal; None in a dry run (nothing was written)."""
    if ctx.writes.dry_run:
        return None
    entries = ctx.journal.entries(ctx.run_id) if ctx.run_id is not None else []
    return RunChanges.of(entries, removed=ctx.writes.removed, waiting=ctx.state.open_candidate_count())
