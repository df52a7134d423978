"""The one image or scene a mode acts on, named by its ``imageId`` or ``sceneId`` argument."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind, ItemRef, Scene
from .context import TaskContext

Found = TypeVar("Found", Image, Scene)


@dataclass(frozen=True)
class Item:
    record: Image | Scene

    @property
    def ref(self) -> ItemRef:
        """How the state and the journal name it (refusals, learned examples), and its kind."""
        return self.record.ref

    @property
    def label(self) -> str:
        return f"{self.ref.kind.value} {self.ref.id}"


def _named(found: Found | None, kind: ItemKind, item_id: str) -> Found:
    """The item the mode's ``imageId``/``sceneId`` argument names (the mode requires it: tasks.modes); an
    unknown id names the argument."""
    if found is None:
        argument = f"{kind.value}Id"
        raise SettingError(f"{argument} {item_id} names no {kind.value} in Stash", setting=argument)
    return found


def find_image(ctx: TaskContext, args: TaskArgs) -> Image:
    return _named(ctx.stash.find_image(args.image_id), ItemKind.IMAGE, args.image_id)


def find_scene(ctx: TaskContext, args: TaskArgs) -> Scene:
    return _named(ctx.stash.find_scene(args.scene_id), ItemKind.SCENE, args.scene_id)


def find_item(ctx: TaskContext, args: TaskArgs) -> Item:
    """The item of ``imageId`` or ``sceneId`` (the mode requires exactly one of them: tasks.modes)."""
    return Item(find_image(ctx, args) if args.image_id else find_scene(ctx, args))
