"""reviewData: what the review page shows, read in one call: open candidates with a face crop, and the
recent runs that can be undone, each with its first automatic links (to say "not this person" to one).

It writes nothing, not even a journal run (tasks.run leaves it out), so opening the page never adds a run
to the list it shows.
"""

from __future__ import annotations

from typing import Any

from ..errors import MediaError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .enrolment import face_thumbnail
from .performers import SCENE_PREFIX

ITEMS_SHOWN = 5
RUNS_SHOWN = 20
LINKS_SHOWN = 10  # per run


def _item_ref(item: str) -> str:
    """A sighting as the page links it: ``image:<id>`` or ``scene:<id>``."""
    return f"scene:{item[len(SCENE_PREFIX):]}" if item.startswith(SCENE_PREFIX) else f"image:{item}"


def _crop(ctx: TaskContext, subject: str) -> str | None:
    """The subject's first example face as a small base64 JPEG; None when the face service has none (or
    cannot be read: the page still lists the candidate, with its name and sightings)."""
    try:
        examples = ctx.face_service.list_examples(subject)
        if not examples:
            return None
        return face_thumbnail(ctx.face_service.example_image(examples[0].id))
    except (FaceServiceError, MediaError) as exc:
        ctx.warning(f"no face crop for candidate {subject}: {exc}")
        return None


def _links(ctx: TaskContext, run_id: int, names: dict[str, str | None]) -> tuple[list[dict[str, Any]], int]:
    """The run's first links (item and performers, a deleted performer's name None), and how many in all."""
    links, count = ctx.journal.links(run_id, LINKS_SHOWN)
    for performer_id in {p for link in links for p in link.performers} - names.keys():
        found = ctx.stash.find_performer(performer_id)
        names[performer_id] = found.name if found else None
    return [{"item": link.target, "performers": [{"id": p, "name": names[p]} for p in link.performers]}
            for link in links], count


def review_data(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    candidates = [
        {"subject": subject, "seen": seen, "items": [_item_ref(i) for i in items[:ITEMS_SHOWN]],
         "crop": _crop(ctx, subject)}
        for subject, seen, items in ctx.state.open_candidates()
    ]
    names: dict[str, str | None] = {}
    runs = []
    for run in ctx.state.recent_runs(RUNS_SHOWN):
        links, count = ([], 0) if run.undone else _links(ctx, run.run_id, names)
        runs.append({"runId": run.run_id, "mode": run.mode, "started_at": run.started_at, "undone": run.undone,
                     "writes": run.writes, "links": links, "linkCount": count})
    return {"mode": args.mode, "candidates": candidates, "runs": runs}
