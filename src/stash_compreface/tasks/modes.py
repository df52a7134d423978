"""Task modes as data: the one place where Stash's camelCase mode strings appear.

Each mode declares its handler, the arguments it cannot run without, whether it needs the face service,
whether it writes, and whether Settings > Tasks lists it. Running a mode (:meth:`Mode.__call__`, which
``tasks.run`` does) checks those arguments, in the order declared, then the face service (once), and only
then calls the handler: a handler never checks either by hand.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import SettingError
from ..settings import ARG_ATTRIBUTES, TaskArgs
from .context import TaskContext

Task = Callable[[TaskContext, TaskArgs], Any]


def lazy(path: str) -> Task:
    """The function ``tasks.<path>`` ("module.function"), imported when first called: a run imports only its
    own mode's modules, so an answer from a kept look (``cached``) starts without numpy, Pillow or an engine."""

    module, name = path.rsplit(".", 1)

    def call(ctx: TaskContext, args: TaskArgs) -> Any:
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(ctx, args)

    call.__qualname__ = call.__name__ = name
    call.__module__ = f"{__package__}.{module}"
    return call


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
PERFORMER = need("performerId", what="the performer whose faces these are")
SUBJECT = need("subject", "subjects", what="the candidate's name, like 'Person 12 ABCDEFGHIJKLMNOP' (or the "
               "candidates', subjects)")

MODES: dict[str, Mode] = {
    "synchronizePerformers": Mode(lazy("synchronize_performers.synchronize_performers"), face_service=True),
    "recognizeImagesHQ": Mode(lazy("recognize_images.recognize_hq"), face_service=True),
    "recognizeImagesLQ": Mode(lazy("recognize_images.recognize_lq"), face_service=True),
    "identifyImagesAll": Mode(lazy("identify_images.identify_all"), face_service=True),
    "identifyImagesNew": Mode(lazy("identify_images.identify_new"), face_service=True),
    "identifyImage": Mode(lazy("identify_image.identify_image"), needs=(IMAGE,), listed=False,
                          face_service=lazy("identify_image.needs_a_look"),
                          writes=lambda args: args.associate_existing or args.create_performer),
    "createPerformerFromImage": Mode(lazy("create_performer_from_image.create_performer_from_image"), needs=(IMAGE,),
                                     face_service=True, listed=False),
    "identifyGallery": Mode(lazy("identify_gallery.identify_gallery"),
                            needs=(need("galleryId", what="the id of the gallery"),), face_service=True, listed=False),
    "resetUnmatchedImages": Mode(lazy("reset_unmatched.reset_unmatched_images")),
    "resetUnmatchedScenes": Mode(lazy("reset_unmatched.reset_unmatched_scenes")),
    "recognizeNewSceneSprites": Mode(lazy("recognize_scenes.recognize_new_scene_sprites"), face_service=True),
    "recognizeAllSceneSprites": Mode(lazy("recognize_scenes.recognize_all_scene_sprites"), face_service=True),
    "recognizeNewScenes": Mode(lazy("recognize_scenes.recognize_new_scenes"), face_service=True),
    "recognizeAllScenes": Mode(lazy("recognize_scenes.recognize_all_scenes"), face_service=True),
    # each names the two engines it moves between
    "importFromCompreFace": Mode(lazy("import_from_compreface.import_from_compreface")),
    "exportToCompreFace": Mode(lazy("export_to_compreface.export_to_compreface")),
    "identifyScene": Mode(lazy("identify_scene.identify_scene"), needs=(SCENE,), listed=False,
                          face_service=lazy("identify_scene.needs_a_look")),
    "rejectMatch": Mode(lazy("reject_match.reject_match"),
                        needs=(need("performerId", what="the performer who is not in the item"),
                               need("imageId", "sceneId", what="the item the performer is not in")),
                        undoable=False, listed=False),
    "confirmMatch": Mode(lazy("confirm_match.confirm_match"),
                         needs=(need("imageId", "sceneId", what="the item the performer is in"),
                                need("performerId", what="the performer who is in the item")),
                         face_service=lazy("confirm_match.learns_a_face"), listed=False),
    "undoRun": Mode(lazy("undo_run.undo_run"),
                    needs=(need("runId", what="the runId of the run to revert (in that run's output)"),),
                    undoable=False, listed=False),
    "recognizeQueued": Mode(lazy("recognize_queued.recognize_queued"), face_service=lazy("recognize_queued.has_work")),
    "nameCandidate": Mode(lazy("name_candidate.name_candidate"),
                          needs=(SUBJECT, need("name", what="the performer name to give the candidate")), listed=False),
    "mergeIntoPerformer": Mode(lazy("merge_into_performer.merge_into_performer"),
                               needs=(SUBJECT, need("performerId", what="the id of the performer the candidate is")),
                               listed=False),
    "rejectCandidate": Mode(lazy("reject_candidate.reject_candidate"), needs=(SUBJECT,), listed=False),
    "reviewData": Mode(lazy("review_data.review_data"), writes=False, listed=False),
    # The review page: the faces of the cards on screen (read-only), and two unknown people who are one.
    "candidateFaces": Mode(lazy("review_data.candidate_faces"),
                           needs=(need("subjects", what="the candidates whose faces to show"),),
                           writes=False, listed=False),
    "mergeCandidates": Mode(lazy("merge_candidates.merge_candidates"),
                            needs=(need("subjects", what="the candidates that are one person (two or more)"),),
                            face_service=True, listed=False),
    # The performer page: the faces a performer was learned from, and removing one (undoable).
    "performerFaces": Mode(lazy("performer_faces.performer_faces"), needs=(PERFORMER,), face_service=True,
                           writes=False, listed=False),
    "removeFace": Mode(lazy("performer_faces.remove_face"),
                       needs=(PERFORMER, need("subject", what="the subject the face is an example of"),
                              need("exampleId", what="the face (example) to remove")),
                       face_service=True, listed=False),
    # The image and scene pages' clicks, each one run (tasks/face_actions.py); faceIndex as the last look lists it.
    "assignFace": Mode(lazy("face_actions.assign_face"),
                       needs=(FACE_ITEM, need("performerId", what="the performer the face is")),
                       face_service=True, listed=False),
    "nameFace": Mode(lazy("face_actions.name_face"),
                     needs=(FACE_ITEM, need("name", what="the name of the new performer the face is")),
                     face_service=True, listed=False),
    "notThisFace": Mode(lazy("face_actions.not_this_face"), needs=(FACE_ITEM,), undoable=False, listed=False),
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
