"""Task modes as data: the one place where Stash's camelCase mode strings appear.

Each mode declares its handler, the arguments it cannot run without, whether it needs the face service,
whether it writes, and whether Settings > Tasks lists it. Running a mode (:meth:`Mode.__call__`, which
``tasks.run`` does) checks those arguments, in the order declared, then the face service (once), and only
then calls the handler: a handler never checks either by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SettingError
from ..settings import ARG_ATTRIBUTES, TaskArgs
from .confirm_match import confirm_match, learns_a_face
from .context import TaskContext
from .create_performer_from_image import create_performer_from_image
from .export_to_compreface import export_to_compreface
from .face_actions import assign_face, name_face, not_this_face
from .identify_gallery import identify_gallery
from .identify_image import identify_image
from .identify_images import identify_all, identify_new
from .identify_scene import identify_scene
from .import_from_compreface import import_from_compreface
from .merge_into_performer import merge_into_performer
from .name_candidate import name_candidate
from .recognize_images import recognize_hq, recognize_lq
from .recognize_queued import has_work, recognize_queued
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
from .synchronize_performers import synchronize_performers
from .undo_run import undo_run

Task = Callable[[TaskContext, TaskArgs], Any]


@dataclass(frozen=True)
class Need:
    """An argument a mode cannot run without: one name, or exactly one of several (``imageId`` or
    ``sceneId``), as Stash and the CLI spell them; ``what`` says what it is to the mode, in the message."""

    names: tuple[str, ...]
    what: str

    def check(self, args: TaskArgs) -> None:
        """Raise the :class:`SettingError` naming the argument when ``args`` lacks it (or gives several)."""
        given = [name for name in self.names if getattr(args, ARG_ATTRIBUTES[name])]
        if len(given) == 1:
            return
        wanted = self.names[0] if len(self.names) == 1 else f"{' or '.join(self.names)} (one of them)"
        raise SettingError(f"{args.mode} needs {wanted}: {self.what}", setting=self.names[0])


def need(*names: str, what: str) -> Need:
    unknown = [name for name in names if name not in ARG_ATTRIBUTES]
    if not names or unknown:
        raise ValueError(f"no such task argument: {unknown or names}")
    return Need(names, what)


@dataclass(frozen=True)
class Mode:
    """One mode: ``handler(ctx, args)`` and what must hold before it runs.

    * ``needs``: the arguments it cannot run without, checked in this order.
    * ``face_service``: whether it needs the face service, checked once before the handler (``check()``
      fails fast, naming the setting to fix); a function of ``(ctx, args)`` when only some runs need it.
    * ``writes``: False for a mode that only reads (no run to journal, nothing for a dry run to stop); a
      function of the arguments when only some runs write (a look from the image page). A run that does
      not write never waits for the library's run lock.
    * ``undoable``: False for the corrections (rejectMatch, undoRun): they revert or refuse what other runs
      wrote, so they are no run to be undone themselves.
    * ``listed``: whether Settings > Tasks lists it (plugin/compreface.yml). Stash's UI runs a listed task
      with its defaultArgs only, so a mode that needs the id of what to act on is not listed (a click could
      only fail): the UI plugin (plugin/ui) calls it with runPluginOperation, the CLI with
      ``stash-compreface run MODE --arg NAME=VALUE``. reviewData needs no id but is the review page's read.
    """

    handler: Task
    needs: tuple[Need, ...] = ()
    face_service: bool | Callable[[TaskContext, TaskArgs], bool] = False
    writes: bool | Callable[[TaskArgs], bool] = True
    undoable: bool = True
    listed: bool = True

    def writes_with(self, args: TaskArgs) -> bool:
        """Whether this run may write (then it holds the library's run lock)."""
        return self.writes(args) if callable(self.writes) else self.writes

    def needs_face_service(self, ctx: TaskContext, args: TaskArgs) -> bool:
        return self.face_service(ctx, args) if callable(self.face_service) else self.face_service

    def check(self, ctx: TaskContext, args: TaskArgs) -> None:
        """What must hold before the handler runs: the arguments first (no call anywhere), then the service."""
        for required in self.needs:
            required.check(args)
        if self.needs_face_service(ctx, args):
            ctx.face_service.check()

    def __call__(self, ctx: TaskContext, args: TaskArgs) -> Any:
        self.check(ctx, args)
        return self.handler(ctx, args)


IMAGE = need("imageId", what="the id of the image to look at")
SCENE = need("sceneId", what="the id of the scene to look at")
FACE_ITEM = need("imageId", "sceneId", what="the item the face is in")
SUBJECT = need("subject", what="the candidate's name, like 'Person 12 ABCDEFGHIJKLMNOP'")

MODES: dict[str, Mode] = {
    "synchronizePerformers": Mode(synchronize_performers, face_service=True),
    "recognizeImagesHQ": Mode(recognize_hq, face_service=True),
    "recognizeImagesLQ": Mode(recognize_lq, face_service=True),
    "identifyImagesAll": Mode(identify_all, face_service=True),
    "identifyImagesNew": Mode(identify_new, face_service=True),
    "identifyImage": Mode(identify_image, needs=(IMAGE,), face_service=True, listed=False,
                          writes=lambda args: args.associate_existing or args.create_performer),
    "createPerformerFromImage": Mode(create_performer_from_image, needs=(IMAGE,), face_service=True, listed=False),
    "identifyGallery": Mode(identify_gallery, needs=(need("galleryId", what="the id of the gallery"),),
                            face_service=True, listed=False),
    "resetUnmatchedImages": Mode(reset_unmatched_images),
    "resetUnmatchedScenes": Mode(reset_unmatched_scenes),
    "recognizeNewSceneSprites": Mode(recognize_new_scene_sprites, face_service=True),
    "recognizeAllSceneSprites": Mode(recognize_all_scene_sprites, face_service=True),
    "recognizeNewScenes": Mode(recognize_new_scenes, face_service=True),
    "recognizeAllScenes": Mode(recognize_all_scenes, face_service=True),
    "importFromCompreFace": Mode(import_from_compreface),  # each names the two engines it moves between
    "exportToCompreFace": Mode(export_to_compreface),
    "identifyScene": Mode(identify_scene, needs=(SCENE,), face_service=True, listed=False),
    "rejectMatch": Mode(reject_match, needs=(need("performerId", what="the performer who is not in the item"),
                                             need("imageId", "sceneId", what="the item the performer is not in")),
                        undoable=False, listed=False),
    "confirmMatch": Mode(confirm_match, needs=(need("imageId", "sceneId", what="the item the performer is in"),
                                               need("performerId", what="the performer who is in the item")),
                         face_service=learns_a_face, listed=False),
    "undoRun": Mode(undo_run, needs=(need("runId", what="the runId of the run to revert (in that run's output)"),),
                    undoable=False, listed=False),
    "recognizeQueued": Mode(recognize_queued, face_service=has_work),
    "nameCandidate": Mode(name_candidate,
                          needs=(SUBJECT, need("name", what="the performer name to give the candidate")), listed=False),
    "mergeIntoPerformer": Mode(merge_into_performer,
                               needs=(SUBJECT, need("performerId", what="the id of the performer the candidate is")),
                               listed=False),
    "rejectCandidate": Mode(reject_candidate, needs=(SUBJECT,), listed=False),
    "reviewData": Mode(review_data, writes=False, listed=False),
    # The image and scene pages' clicks, each one run (tasks/face_actions.py); faceIndex as the last look lists it.
    "assignFace": Mode(assign_face, needs=(FACE_ITEM, need("performerId", what="the performer the face is")),
                       face_service=True, listed=False),
    "nameFace": Mode(name_face, needs=(FACE_ITEM, need("name", what="the name of the new performer the face is")),
                     face_service=True, listed=False),
    "notThisFace": Mode(not_this_face, needs=(FACE_ITEM,), undoable=False, listed=False),
}

# The modes Settings > Tasks lists: each runs with a click, with its defaultArgs alone.
LISTED = tuple(name for name, mode in MODES.items() if mode.listed)
# The others: operations the UI plugin and the CLI call with the id of what to act on (see Mode.listed).
OPERATIONS = tuple(name for name, mode in MODES.items() if not mode.listed)
# Modes whose run is no journal to undo: the corrections, and the modes that only read.
UNJOURNALLED = frozenset(name for name, mode in MODES.items() if mode.writes is False or not mode.undoable)


def task_for(mode: str) -> Mode:
    """The task of a mode; checked before connecting anywhere, so a typo fails at once."""
    task = MODES.get(mode)
    if task is None:
        raise SettingError(f"unknown mode: {mode} (known: {', '.join(sorted(MODES))})", setting="mode")
    return task
