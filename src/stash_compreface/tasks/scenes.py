"""recognizeNewSceneSprites / recognizeAllSceneSprites: who is in a scene, from Stash's sprite sheet.

Stash's sprite sheet holds up to 81 evenly spaced thumbnails of the scene, described by a VTT. The cells
are enlarged and laid out nine to a sheet, so a scene costs nine recognitions. A performer is linked
only when their subject matches in several frames (faces/grouping.py): one stray thumbnail is not
evidence. Thumbnails are too small to start new subjects from, so scenes only link known people.
"""

from __future__ import annotations

import traceback
from typing import Any

from .. import imaging
from ..errors import FatalError, ItemError, MediaError
from ..faces import quality
from ..faces.grouping import Sighting, consistent_subjects
from ..faces.matching import best_match
from ..faces.vtt import parse_vtt
from ..settings import TaskArgs
from ..stash.models import Scene
from .context import Stopped, TaskContext
from .performers import PerformerDirectory
from .recognize_images import unscanned_filter, write_item_outcome
from .runner import Progress, Tally, run_pages, scene_pages

CELLS_PER_SIDE = 3
CELL_WIDTH = 320


class SpriteRecognizer:
    def __init__(self, ctx: TaskContext) -> None:
        s = ctx.settings
        self.ctx = ctx
        self.gate = quality.match_gate(s.min_face_size_px, s.min_confidence, s.min_processing_quality, relaxed=True)
        self.directory = PerformerDirectory(ctx)

    def sightings(self, scene: Scene) -> tuple[list[Sighting], int, int]:
        """Matches per frame, the number of frames with a usable face, and the number of frames."""
        if not scene.vtt_url or not scene.sprite_url:
            raise MediaError("Stash lists no sprite for this scene")
        try:
            vtt = self.ctx.stash.download(scene.vtt_url, what="sprite VTT").decode("utf-8", "replace")
            sheet = imaging.decode_rgb(self.ctx.stash.download(scene.sprite_url, what="sprite image"))
        except MediaError as exc:
            raise MediaError(f"{exc}: generate sprites in Stash (Tasks > Generate > Sprites)") from None
        cues = [c for c in parse_vtt(vtt) if c.x + c.width <= sheet.width and c.y + c.height <= sheet.height]
        if not cues:
            raise MediaError("the sprite VTT lists no thumbnail inside the sprite image")
        cells = [sheet.crop((c.x, c.y, c.x + c.width, c.y + c.height)) for c in cues]
        per_request = CELLS_PER_SIDE * CELLS_PER_SIDE
        sightings: list[Sighting] = []
        with_faces: set[int] = set()
        for start in range(0, len(cells), per_request):
            self.ctx.check_stop()
            tiled, boxes = imaging.tile(cells[start:start + per_request], columns=CELLS_PER_SIDE,
                                        cell_width=CELL_WIDTH)
            faces = self.ctx.faces.recognize(imaging.encode_jpeg(tiled), min_probability=self.gate.min_probability)
            for face in faces:
                frame = next((start + i for i, box in enumerate(boxes) if face.box.iou(box) > 0
                              and box.x_min <= (face.box.x_min + face.box.x_max) / 2 <= box.x_max
                              and box.y_min <= (face.box.y_min + face.box.y_max) / 2 <= box.y_max), None)
                if frame is None:
                    continue
                ok, _ = quality.check(face, imaging.sharpness(tiled, face.box), self.gate)
                if not ok:
                    continue
                with_faces.add(frame)
                match = best_match(face, self.ctx.settings.min_similarity)
                if match is not None:
                    sightings.append(Sighting(frame, match.subject, match.similarity))
        return sightings, len(with_faces), len(cells)

    def performers(self, scene: Scene) -> tuple[set[str], str]:
        sightings, frames_with_faces, frames = self.sightings(scene)
        found: set[str] = set()
        notes = []
        for evidence in consistent_subjects(sightings, frames_with_faces):
            performer = self.directory.for_subject(evidence.subject)
            if performer is None:
                notes.append(f"{evidence.subject} has no performer")
                continue
            found.add(performer)
            notes.append(f"performer {performer} ({self.directory.name_of(performer)}) in {evidence.frames} "
                         f"of {frames_with_faces} frames with faces")
        summary = f"{frames} thumbnails, {frames_with_faces} with faces" + (f"; {'; '.join(notes)}" if notes else "")
        return found, summary


def _run(ctx: TaskContext, args: TaskArgs, *, only_new: bool, title: str) -> dict[str, Any]:
    if ctx.settings.vision_service_url:
        ctx.warning("visionServiceUrl is set, but this release reads sprites itself; the Vision Service is unused")
    ctx.faces.check()
    recognizer = SpriteRecognizer(ctx)
    tally = Tally()
    progress = Progress(ctx)

    def work(scene: Scene) -> None:
        try:
            found, summary = recognizer.performers(scene)
        except (FatalError, Stopped):
            raise
        except ItemError as exc:
            failed, found, summary = str(exc), set(), ""
        except Exception as exc:
            ctx.debug(traceback.format_exc())
            failed, found, summary = f"unexpected {type(exc).__name__}: {exc}", set(), ""
        else:
            failed = ""
        if failed:
            ctx.log("error", f"{scene.label} failed: {failed}")
        else:
            ctx.debug(f"{scene.label}: {summary}")
        write_item_outcome(ctx, label=scene.label, item_id=scene.id, tag_ids=scene.tag_ids,
                           performer_ids=scene.performer_ids, found=found, failed=bool(failed),
                           update=ctx.stash.update_scenes)
        tally.add(failed=int(bool(failed)), processed=int(not failed), matched=int(bool(found)),
                  linked=len(found - scene.performer_ids))
        progress.step()

    scene_filter = unscanned_filter(ctx) if only_new else {}
    run_pages(ctx, scene_pages(ctx, scene_filter, args.limit), work, progress=progress)
    ctx.progress(1.0)
    ctx.info(f"{title} finished: {tally.summary() or 'nothing to do'}")
    return {"mode": args.mode, **tally.as_dict()}


def recognize_new_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _run(ctx, args, only_new=True, title="Recognize new scene sprites")


def recognize_all_scene_sprites(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    return _run(ctx, args, only_new=False, title="Recognize all scene sprites")
