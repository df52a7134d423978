"""The one image or scene a correction mode acts on, named by its ``imageId`` or ``sceneId`` argument."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SettingError
from ..settings import TaskArgs
from ..stash.models import Image, ItemKind, Scene
from .context import TaskContext
from .image_recognizer import find_image
from .performers import scene_item
from .scene_recognizer import find_scene


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    record: Image | Scene
    key: str  # how the state records it (refusals, learned examples): the image id, or scene:<id>

    @property
    def label(self) -> str:
        return f"{self.kind.value} {self.record.id}"


def find_item(ctx: TaskContext, args: TaskArgs, *, role: str) -> Item:
    """The item of ``imageId`` or ``sceneId`` (exactly one of them); ``role`` says what it is to the mode."""
    if bool(args.image_id) == bool(args.scene_id):
        raise SettingError(f"{args.mode} needs imageId or sceneId (one of them): {role}", setting="imageId")
    if args.image_id:
        image = find_image(ctx, args)
        return Item(ItemKind.IMAGE, image, image.id)
    scene = find_scene(ctx, args)
    return Item(ItemKind.SCENE, scene, scene_item(scene.id))
