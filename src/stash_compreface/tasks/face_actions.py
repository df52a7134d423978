"""What the image and scene pages do with one face, each click one run: assignFace, nameFace, notThisFace.

The page names the face by its index in the last look (``tasks/looks.py``), which says what the face was:
the performer it was suggested as, the candidate subject it belongs to. One operation then does all the
click means, on the server, in one run, where the page used to chain up to three operations:

* assignFace: "this face is performer P" (Confirm, or another performer picked): a suggestion of someone
  else is refused for this face, a candidate subject without a performer becomes P's (its other sightings
  follow), and P is linked, the face learned as theirs.
* nameFace: "this face is someone new called N": the face's candidate is named (nameCandidate), or, on an
  image, the face becomes a subject and a performer (createPerformerFromImage); then linked.
* notThisFace: "this face is not P": P leaves the item, and is never linked to it again, unless another face
  of the item is still P's: then only this face is refused (the look remembers it for the next look).

Each step is idempotent, so running the operation again (after a kill, say) completes it. The output is
the item's faces after the action (``faces`` of an image, ``people`` of a scene), what the page redraws.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import ItemKind
from . import looks
from .confirm_match import confirm_match
from .context import TaskContext
from .create_performer_from_image import create_performer_from_image
from .items import Item, find_item
from .merge_into_performer import merge_into_performer
from .name_candidate import name_candidate
from .performers import PerformerDirectory
from .reject_match import reject_match
from .scenes import face_cache


class _Look:
    """The item, its last look, and the face the action is about."""

    def __init__(self, ctx: TaskContext, args: TaskArgs) -> None:
        if args.face_index is None:  # 0 is a face: Need (which wants a truthy value) cannot require it
            raise SettingError(f"{args.mode} needs faceIndex: the index of the face in the last look at the item",
                               setting="faceIndex")
        self.ctx = ctx
        self.args = args
        self.item: Item = find_item(ctx, args)
        self.faces = looks.load(ctx, self.item.ref) or []
        self.face = looks.face_of(ctx, self.item.ref, self.item.label, self.faces, args.face_index)

    @property
    def key(self) -> str:
        return "faces" if self.item.ref.kind is ItemKind.IMAGE else "people"

    def with_args(self, **changes: Any) -> TaskArgs:
        return dataclasses.replace(self.args, **changes)

    def others_of(self, performer_id: str) -> list[dict[str, Any]]:
        """The item's other faces that are this performer's (suggested or linked, not refused)."""
        return [f for f in self.faces if f is not self.face and looks.performer_id(f) == performer_id
                and f.get("rejectedId") != performer_id]

    def learnable(self) -> bool:
        """Whether the face can be learned: an image's always; a scene's when its crop was kept."""
        return self.item.ref.kind is ItemKind.IMAGE or face_cache.face(self.ctx, self.item.ref.id,
                                                                       self.args.face_index or 0) is not None

    def refuse(self, performer: dict[str, Any]) -> str:
        """This face is not ``performer``: refused for the item when no other face of it is theirs, else for
        this face only. Says which."""
        others = self.others_of(performer["id"])
        if others:
            self.ctx.info(f"face {self.face['index']} of {self.item.label} is not performer {performer['id']} "
                          f"({performer.get('name')}); they stay linked: face {others[0]['index']} is theirs")
        else:
            reject_match(self.ctx, self.with_args(performer_id=performer["id"], face_index=None))
        self.face.update(looks.NOBODY, status="rejected", rejected=performer.get("name"), rejectedId=performer["id"])
        return "face" if others else "item"

    def link(self, performer: dict[str, Any]) -> None:
        """``performer`` is linked to the item and learned from this face (when it can be)."""
        face_index = self.args.face_index if self.learnable() else None
        confirm_match(self.ctx, self.with_args(performer_id=performer["id"], face_index=face_index))
        self.face.update(performer={"id": performer["id"], "name": performer["name"]}, linked=True,
                         status="matched", similarity=None)
        if self.face.get("rejectedId") == performer["id"]:
            self.face.update(rejected=None, rejectedId=None)

    def done(self, message: str) -> dict[str, Any]:
        looks.keep(self.ctx, self.item.ref, self.faces)
        self.ctx.info(message)
        self.ctx.progress(1.0)
        return {"mode": self.args.mode, "item": self.item.label, "message": message, self.key: self.faces}


def assign_face(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    look = _Look(ctx, args)
    performer = ctx.stash.find_performer(args.performer_id)
    if performer is None:
        raise SettingError(f"performerId {args.performer_id}: no such performer in Stash", setting="performerId")
    chosen = {"id": performer.id, "name": performer.name}
    suggested = look.face.get("performer")
    message = f"{performer.name} linked to {_face_label(look)}"
    if suggested and suggested["id"] != performer.id:
        look.refuse(suggested)
        message += f"; not {suggested['name']}"
    subject = look.face.get("subject")
    if subject and PerformerDirectory(ctx).for_subject(subject) is None:
        merge_into_performer(ctx, look.with_args(subject=subject))
    look.link(chosen)
    return look.done(message)


def name_face(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    look = _Look(ctx, args)
    suggested = look.face.get("performer")
    if suggested and not look.face.get("linked"):
        look.refuse(suggested)  # typed a new name for a face suggested as someone else: not them
    subject = look.face.get("subject")
    if subject and PerformerDirectory(ctx).for_subject(subject) is None:
        named = name_candidate(ctx, look.with_args(subject=subject))["performer"]
        look.link(named)
        return look.done(f"{named['name']} created from {subject} and linked where it was seen")
    if look.item.ref.kind is not ItemKind.IMAGE:
        raise SettingError(f"person {args.face_index} of {look.item.label} has no face to make a performer of: "
                           "pick an existing performer instead", setting="faceIndex")
    output = create_performer_from_image(ctx, args)
    made: dict[str, Any] = next((f for f in output["faces"] if f["index"] == args.face_index), {})
    if not made.get("performer"):
        if ctx.writes.dry_run:
            return look.done(output["message"])
        raise SettingError(output.get("message") or "no performer was created", setting="faceIndex")
    look.face.update(subject=made.get("subject"))
    look.link(made["performer"])
    return look.done(f"{made['performer']['name']} linked to {_face_label(look)}")


def not_this_face(ctx: TaskContext, args: TaskArgs) -> dict[str, Any]:
    look = _Look(ctx, args)
    current = look.face.get("performer")
    if current is None and look.face.get("rejectedId"):  # said before: run again, it completes
        current = {"id": look.face["rejectedId"], "name": look.face.get("rejected")}
    if current is None:
        raise SettingError(f"{_face_label(look)} of {look.item.label} is nobody's: nothing to refuse",
                           setting="faceIndex")
    where = look.refuse(current)
    if where == "item":
        message = f"{current['name']} removed from this {look.item.ref.kind.value} and will not be linked to it again"
    else:
        message = f"not {current['name']} on {_face_label(look)}; {current['name']} stays linked by another face"
    return look.done(message)


def _face_label(look: _Look) -> str:
    return f"face {look.face['index'] + 1}" if look.item.ref.kind is ItemKind.IMAGE else \
        f"this {look.item.ref.kind.value}"
