"""The performer page's faces: what the plugin learned a performer from, and "remove this face".

performerFaces (read-only) lists the examples of the performer's subjects (its name and aliases the face
service knows, ``Person …`` aliases among them), each with a small crop and the item it came from (the
journal files each learned example under its item; a performer's own image and faces learned before the
journal's runs have none). removeFace deletes one example, so a wrong face stops pulling the performer into
other pictures; the example's bytes go into the journal first (neither CompreFace nor the built-in engine can
bring a deleted example back), so undoRun adds the same face again. The item's claim stays, so a later run
does not learn that face from that item again.
"""

from __future__ import annotations

import base64
from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Performer
from .context import TaskContext
from .enrolment import face_thumbnail
from .journal import ExampleRemoved
from .performers import find_performer

FACES_SHOWN = 60  # per performer (each subject holds at most MAX_EXAMPLES_PER_SUBJECT)


def _subjects(ctx: TaskContext, performer: Performer) -> list[str]:
    """The performer's names the face service holds as subjects, as it spells them."""
    known = {s.casefold(): s for s in ctx.face_service.list_subjects()}
    return list(dict.fromkeys(known[n.casefold()] for n in (performer.name, *performer.aliases)
                              if n.casefold() in known))


def _faces(ctx: TaskContext, performer: Performer) -> list[dict[str, Any]]:
    subjects = _subjects(ctx, performer)
    sources = ctx.journal.example_sources(subjects)
    faces: list[dict[str, Any]] = []
    for subject in subjects:
        for example in ctx.face_service.list_examples(subject):
            if len(faces) >= FACES_SHOWN:
                return faces
            source = sources.get(example.id)
            faces.append({"subject": subject, "exampleId": example.id,
                          "face": face_thumbnail(ctx.face_service.example_image(example.id)),
                          "source": None if source is None else str(source)})
    return faces


def performer_faces(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    performer = find_performer(ctx, args.performer_id)
    return {"mode": args.mode, "performer": {"id": performer.id, "name": performer.name},
            "faces": _faces(ctx, performer)}


def remove_face(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    performer = find_performer(ctx, args.performer_id)
    subjects = {s.casefold(): s for s in _subjects(ctx, performer)}
    subject = subjects.get(args.subject.casefold())
    if subject is None:
        raise SettingError(f"subject {args.subject} is not a face subject of performer {performer.id} "
                           f"({performer.name})", setting="subject")
    if args.example_id not in {e.id for e in ctx.face_service.list_examples(subject)}:
        raise SettingError(f"example {args.example_id} is not a face of subject {subject} (removed already?)",
                           setting="exampleId")
    image = ctx.face_service.example_image(args.example_id)
    source = ctx.journal.example_sources([subject]).get(args.example_id)
    ctx.writes.delete_example(args.example_id, subject=subject)
    if not ctx.writes.dry_run:
        ctx.journal.record(ExampleRemoved(subject=subject, example_id=args.example_id, engine=ctx.settings.engine,
                                          image=base64.b64encode(image).decode("ascii"), item=source))
        ctx.info(f"removed face {args.example_id} from {subject} ({performer.name}); undo the run to put it back")
    return {"mode": args.mode, "performer": {"id": performer.id, "name": performer.name},
            "removed": args.example_id, "faces": _faces(ctx, performer), "dryRun": ctx.writes.dry_run}
