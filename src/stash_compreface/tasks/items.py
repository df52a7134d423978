"""The one image or scene a correction mode acts on, named by its ``imageId`` or ``sceneId`` argument."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind, Scene
from .context import TaskContext
from .image_recognizer import find_image
from .performers import scene_item


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    record: Image | Scene
    key: str  # how the state records it (refusals, learned examples): the image id, or scene:<id>

    @property
    def label(self) -> str:
        return f"{self.kind.value} {self.record.id}"


def find_scene(ctx: TaskContext, args: TaskArgs) -> Scene:
    """The scene named by the ``sceneId`` argument (the mode requires it: tasks.modes); an unknown id names
    the argument."""
    scene = ctx.stash.find_scene(args.scene_id)
    if scene is None:
        raise SettingError(f"sceneId {args.scene_id} names no scene in Stash", setting="sceneId")
    return scene


def find_item(ctx: TaskContext, args: TaskArgs) -> Item:
    """The item of ``imageId`` or ``sceneId`` (the mode requires exactly one of them: tasks.modes)."""
    if args.image_id:
        image = find_image(ctx, args)
        return Item(ItemKind.IMAGE, image, image.id)
    scene = find_scene(ctx, args)
    return Item(ItemKind.SCENE, scene, scene_item(scene.id))
