"""The few Stash objects the tasks read, as frozen dataclasses built from GraphQL answers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from ..hookqueue import parse_entry, queue_entry


class ItemKind(Enum):
    """What a mode walks over and tags; the value is how log lines name it."""

    IMAGE = "image"
    SCENE = "scene"
    GALLERY = "gallery"


@dataclass(frozen=True)
class ItemRef:
    """One image, scene or gallery, written one way wherever the plugin keeps it: ``image:12``, ``scene:7``,
    ``gallery:3`` (the state's sightings, learned claims and refusals, the journal's targets, the review
    page's links). It is the hook queue's line format (``hookqueue.queue_entry``: the bootstrap writes the
    queue with bare Python, so the encoding lives there)."""

    kind: ItemKind
    id: str

    def __str__(self) -> str:
        return queue_entry(self.kind.value, self.id)

    @classmethod
    def parse(cls, text: str) -> ItemRef:
        """The reference ``str()`` wrote; ValueError for anything else (a bare id included)."""
        entry = parse_entry(text)
        if entry is None or entry[0] not in _KINDS:
            raise ValueError(f"not an item reference: {text!r}")
        return cls(_KINDS[entry[0]], entry[1])


_KINDS = {kind.value: kind for kind in ItemKind}


class _Item:
    """An image, scene or gallery: its :class:`ItemRef`."""

    KIND: ClassVar[ItemKind]
    id: str

    @property
    def ref(self) -> ItemRef:
        return ItemRef(self.KIND, self.id)


def _ids(items: Any) -> frozenset[str]:
    return frozenset(str(item["id"]) for item in items or ())


@dataclass(frozen=True)
class Image(_Item):
    KIND = ItemKind.IMAGE
    id: str
    title: str
    url: str
    path: str
    is_video: bool
    width: int
    height: int
    tag_ids: frozenset[str]
    performer_ids: frozenset[str]

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Image:
        files = data.get("visual_files") or []
        first = files[0] if files else {}
        return cls(
            id=str(data["id"]),
            title=data.get("title") or "",
            url=(data.get("paths") or {}).get("image") or "",
            path=first.get("path") or "",
            is_video=first.get("__typename") == "VideoFile",
            width=int(first.get("width") or 0),
            height=int(first.get("height") or 0),
            tag_ids=_ids(data.get("tags")),
            performer_ids=_ids(data.get("performers")),
        )

    @property
    def label(self) -> str:
        """How log lines name the image: id plus file name, so users can find it."""
        name = self.path.rsplit("/", 1)[-1] if self.path else self.title
        return f"image {self.id}" + (f" ({name})" if name else "")


@dataclass(frozen=True)
class Performer:
    id: str
    name: str
    aliases: tuple[str, ...]
    image_url: str
    tag_ids: frozenset[str]

    @property
    def has_image(self) -> bool:
        """Stash serves a generated silhouette with ``default=true`` when no image is stored."""
        return bool(self.image_url) and "default=true" not in self.image_url

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Performer:
        return cls(
            id=str(data["id"]),
            name=data.get("name") or "",
            aliases=tuple(data.get("alias_list") or ()),
            image_url=data.get("image_path") or "",
            tag_ids=_ids(data.get("tags")),
        )

    @property
    def label(self) -> str:
        return f"performer {self.id} ({self.name})"


@dataclass(frozen=True)
class Gallery(_Item):
    KIND = ItemKind.GALLERY
    id: str
    title: str
    image_count: int
    tag_ids: frozenset[str]
    performer_ids: frozenset[str]

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Gallery:
        return cls(
            id=str(data["id"]),
            title=data.get("title") or "",
            image_count=int(data.get("image_count") or 0),
            tag_ids=_ids(data.get("tags")),
            performer_ids=_ids(data.get("performers")),
        )

    @property
    def label(self) -> str:
        return f"gallery {self.id}" + (f" ({self.title})" if self.title else "")


@dataclass(frozen=True)
class Scene(_Item):
    KIND = ItemKind.SCENE
    id: str
    title: str
    path: str
    duration_s: float
    stream_url: str
    vtt_url: str
    sprite_url: str
    tag_ids: frozenset[str]
    performer_ids: frozenset[str]

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Scene:
        files = data.get("files") or []
        first = files[0] if files else {}
        paths = data.get("paths") or {}
        return cls(
            id=str(data["id"]),
            title=data.get("title") or "",
            path=first.get("path") or "",
            duration_s=float(first.get("duration") or 0.0),
            stream_url=paths.get("stream") or "",
            vtt_url=paths.get("vtt") or "",
            sprite_url=paths.get("sprite") or "",
            tag_ids=_ids(data.get("tags")),
            performer_ids=_ids(data.get("performers")),
        )

    @property
    def label(self) -> str:
        return f"scene {self.id}" + (f" ({self.title})" if self.title else "")
