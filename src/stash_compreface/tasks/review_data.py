"""reviewData: a page of what the review page shows, read in one call: open candidates, the most seen first,
and (on the first page) the recent runs that can be undone, each with its first automatic links (to say
"not this person" to one).

It writes nothing, not even a journal run (tasks.run leaves it out), so opening the page never adds a run
to the list it shows. It reads the local state only (and Stash for the names of linked performers), never
the face service: the page opens when the face service is down, and 10,000 candidates cost one state query
for the page of ``limit`` (default ``PAGE``) after ``offset``, each with its first ``ITEMS_SHOWN`` items, one
count, and on the first page the last ``RUNS_SHOWN`` runs with their first ``LINKS_SHOWN`` links. The faces
come separately, for the cards on screen (candidateFaces).
"""

from __future__ import annotations

from typing import Any

from ..errors import FatalError, MediaError, ServiceError
from ..faceservice import FaceServiceError
from ..settings import TaskArgs
from .context import TaskContext
from .journal import Linked

PAGE = 40  # candidates per page (the answer's candidateCount says how many are open in all)
PAGE_MAX = 200
ITEMS_SHOWN = 5  # per candidate
RUNS_SHOWN = 20
LINKS_SHOWN = 10  # per run


def _names(ctx: TaskContext, links: list[Linked]) -> dict[str, str | None]:
    """The name of each performer the links name, once each (a deleted performer's: None)."""
    names: dict[str, str | None] = {}
    for performer_id in dict.fromkeys(p for link in links for p in link.performers):
        found = ctx.stash.find_performer(performer_id)
        names[performer_id] = found.name if found else None
    return names


def recent_runs(ctx: TaskContext) -> list[dict[str, Any]]:
    """The last ``RUNS_SHOWN`` runs, each with its first links of those not undone: two state queries."""
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
    return listed


def review_data(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    limit = min(args.limit or PAGE, PAGE_MAX)
    candidates = [{"subject": c.subject, "seen": c.seen, "items": [str(item) for item in c.items]}
                  for c in ctx.state.candidates.open(limit, ITEMS_SHOWN, args.offset)]
    output: dict[str, Any] = {"mode": args.mode, "offset": args.offset, "limit": limit, "candidates": candidates,
                              "candidateCount": ctx.state.candidates.open_count()}
    if args.offset == 0:
        output["runs"] = recent_runs(ctx)
    return output


def _crop(ctx: TaskContext, subject: str) -> str | None:
    """The subject's first example face as a small base64 JPEG; None when the face service has none."""
    from .enrolment import face_thumbnail  # Pillow, only where a face is drawn

    examples = ctx.face_service.list_examples(subject)
    return face_thumbnail(ctx.face_service.example_image(examples[0].id)) if examples else None


def candidate_faces(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    """candidateFaces: the face of each candidate given (the cards the review page shows, at most
    ``PAGE_MAX``), or None. A face that cannot be read costs its own card only; a face service that is down
    (or not set up) is asked once, and the answer's ``faceServiceError`` says why, naming the setting, for the
    page's banner: the cards stay, with placeholders."""
    faces: dict[str, str | None] = {}
    error: str | None = None
    for subject in args.subjects[:PAGE_MAX]:
        faces[subject] = None
        if error is not None:
            continue
        try:
            faces[subject] = _crop(ctx, subject)
        except (FaceServiceError, MediaError) as exc:
            if isinstance(exc, FaceServiceError) and exc.retryable:
                error = str(exc)
            else:
                ctx.warning(f"no face for candidate {subject}: {exc}")
        except (ServiceError, FatalError) as exc:
            error = str(exc) + (f" (setting {exc.setting})" if exc.setting else "")
    if error is not None:
        ctx.warning(f"candidate faces not shown: {error}")
    return {"mode": args.mode, "faces": faces, "faceServiceError": error}
