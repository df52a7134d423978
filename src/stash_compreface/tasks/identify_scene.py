"""identifyScene: everyone seen in one scene, with the evidence (frames and their times, best similarity)
and what became of each person; what the scene page's Faces panel shows.

Without ``associateExisting`` (the panel) nothing is linked, promoted or tagged in Stash. An unknown person
seen in enough frames still becomes a candidate (a face-service subject, journalled like any run's), so
the user can name it from the panel at once. With it, the scene is recognized and recorded as a
recognition run records it. The frames come from the video (or the Vision Service), as in
recognizeAllScenes. Each person's best face is kept (``scenes.face_cache``) under the ``index`` the output gives
it, so that confirmMatch can teach it to the performer the user confirms or picks.

``cached`` (the page's Faces) answers the scene's kept last look when there is one (``looks.answer``: no
frames, no face service), as identifyImage does; the page's "Look again" looks anew.
"""

from __future__ import annotations

from typing import Any

from ..settings import TaskArgs
from ..stash.models import ItemKind, ItemRef, Scene
from . import looks
from .context import TaskContext
from .items import find_scene


def kept_look_answers(ctx: TaskContext, args: TaskArgs) -> bool:
    """Whether this run answers from the kept look (``cached``, a look is kept, and the run links nothing)."""
    return args.cached and not args.associate_existing and \
        looks.load_look(ctx, ItemRef(ItemKind.SCENE, args.scene_id)) is not None


def needs_a_look(ctx: TaskContext, args: TaskArgs) -> bool:
    """The face service is needed unless the kept look answers."""
    return not kept_look_answers(ctx, args)


def identify_scene(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    scene = find_scene(ctx, args)
    if kept_look_answers(ctx, args):
        kept = looks.answer(ctx, scene.ref, scene.performer_ids, "people")
        if kept is not None:
            ctx.info(f"{scene.label}: {len(kept['people'])} people, as last looked at")
            ctx.progress(1.0)
            return {"mode": args.mode, "sceneId": scene.id, **kept}
    from .runner import Tally, run_one
    from .scenes import SceneReport, face_cache, mark_scene_failed, record_scene, video_recognizer

    tally = Tally()
    recognizer = video_recognizer(ctx, tally, look_only=not args.associate_existing)

    def work(item: Scene) -> SceneReport:
        if args.associate_existing:
            return record_scene(ctx, recognizer, item, tally)
        return recognizer.recognize(item)

    def mark_failed(item: Scene) -> None:
        if args.associate_existing:
            mark_scene_failed(ctx, item)

    report = run_one(ctx, scene, work, label=lambda item: item.label, mark_failed=mark_failed)
    # Only a recording look changed the scene's performers: read them again then.
    linked = (ctx.stash.find_scene(scene.id) or scene).performer_ids if args.associate_existing else scene.performer_ids
    face_cache.keep(ctx, scene.id, [f.crop for f in report.findings])
    people = [{**f.as_dict(), "index": i, "linked": f.performer_id in linked} for i, f in enumerate(report.findings)]
    looks.keep(ctx, scene.ref, people, what=report.what)  # the face actions' and the next Faces'
    ctx.info(f"{scene.label}: {report.describe()}")
    ctx.progress(1.0)
    return {"mode": args.mode, "sceneId": scene.id, "what": report.what, "people": people,
            "performersFound": sorted(report.performers, key=int)}
