"""reviewData: what the review page shows, read in one call: open candidates with a face crop, and the
recent runs that can be undone, each with its first automatic links (to say "not this person" to one).

It writes nothing, not even a journal run (tasks.run leaves it out), so opening the page never adds a run
to the list it shows. What it reads is bounded, however large the state: the ``CANDIDATES_SHOWN`` most seen
candidates (``candidateCount`` says how many are open in all), each with its first ``ITEMS_SHOWN`` items,
and the last ``RUNS_SHOWN`` runs with their first ``LINKS_SHOWN`` links, in one state query per list. Per
candidate shown, the face service is asked for its crop; per performer the links name, Stash for its name.
"""

from __future__ import annotations

from typing import Any

from ..errors import MediaError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .enrolment import face_thumbnail
from .journal import Linked

CANDIDATES_SHOWN = 100  # the most seen first; the answer's candidateCount says how many are open in all
ITEMS_SHOWN = 5  # per candidate
RUNS_SHOWN = 20
LINKS_SHOWN = 10  # per run


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


def _names(ctx: TaskContext, links: list[Linked]) -> dict[str, str | None]:
    """The name of each performer the links name, once each (a deleted performer's: None)."""
    names: dict[str, str | None] = {}
    for performer_id in dict.fromkeys(p for link in links for p in link.performers):
        found = ctx.stash.find_performer(performer_id)
        names[performer_id] = found.name if found else None
    return names


def review_data(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    """Three state queries, whatever the number of candidates and runs: the open candidates with their first
    items, the recent runs, and the first links of those not undone."""
    candidates = [{"subject": c.subject, "seen": c.seen, "items": [str(item) for item in c.items],
                   "crop": _crop(ctx, c.subject)}
                  for c in ctx.state.candidates.open(CANDIDATES_SHOWN, ITEMS_SHOWN)]
    runs = ctx.state.runs.recent(RUNS_SHOWN)
    links = ctx.journal.links([run.run_id for run in runs if not run.undone], LINKS_SHOWN)
    names = _names(ctx, [link for shown, _ in links.values() for link in shown])
    listed = []
    for run in runs:
        shown, count = links.get(run.run_id, ([], 0))
        listed.append({"runId": run.run_id, "mode": run.mode, "started_at": run.started_at, "undone": run.undone,
                       "writes": run.writes, "linkCount": count,
                       "links": [{"item": str(link.item), "performers": [{"id": p, "name": names[p]}
                                                                        for p in link.performers]}
                                 for link in shown]})
    total = len(candidates) if len(candidates) < CANDIDATES_SHOWN else ctx.state.candidates.open_count()
    return {"mode": args.mode, "candidates": candidates, "candidateCount": total, "runs": listed}
