"""A Stash double: a real HTTP server speaking Stash's GraphQL dialect, auth rules and media routes.

Why a behavioural double and not canned JSON: the plugin's correctness hinges on Stash's quirks
(1-based pages, ``per_page: -1``, ``EXCLUDES`` keeping untagged items, bulk ``ADD``/``REMOVE``, Go error
texts, auth redirects, ``external_host`` URLs). They are reproduced here from the platform spec (§3,
§4.1, §9). Documents are parsed and validated against the real schema when it is present, then run
by a small generic executor over plain dicts. Anything the double does not model fails loudly with a
GraphQL error (and is recorded in ``unsupported``) instead of silently matching everything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import json
import random
import re
import secrets
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import graphql
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from PIL import Image, ImageDraw

from .server import DoubleHandler, DoubleServer


def _schema_path() -> Path:
    """``shared/reference/stash-schema.graphql`` beside the repository (or any ancestor folder)."""
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "reference" / "stash-schema.graphql"
        if candidate.is_file():
            return candidate
    return Path("shared/reference/stash-schema.graphql")


SCHEMA_PATH = _schema_path()
STASH_VERSION = {"__typename": "Version", "version": "v0.30.1-19-gcf3489efd", "hash": "cf3489efd",
                 "build_time": "2026-01-11 18:07:53"}

Pred = Callable[[Any], bool | None]
_BIG = 1 << 62


# ----------------------------------------------------------------------------------------- errors


class StashError(Exception):
    """A resolver error. The message is what Stash's Go code puts in ``errors[].message``."""


class Unsupported(StashError):
    """Real Stash accepts this, the double does not model it: fail loudly rather than guess."""

    def __init__(self, what: str) -> None:
        super().__init__(f"stash double: {what} is not implemented")


def _panic(what: str) -> StashError:
    """Stash's recover func turns panics into this text (server.go)."""
    return StashError(f"Internal system error. Error <{what}>")


# ------------------------------------------------------------------------- schema and documents


@functools.cache
def load_schema() -> graphql.GraphQLSchema | None:
    """Built once per process (about 0.15 s); None when the shared schema file is absent."""
    if not SCHEMA_PATH.is_file():
        return None
    return graphql.build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class _Prepared:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


def _format_error(error: graphql.GraphQLError, code: str) -> dict[str, Any]:
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["extensions"] = {"code": code}
    return out


@functools.lru_cache(maxsize=1024)
def _prepare(text: str) -> _Prepared:
    """Parse and validate once per distinct document text: the plugin sends the same few documents."""
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError as exc:
        return _Prepared(None, (_format_error(exc, "GRAPHQL_PARSE_FAILED"),))
    schema = load_schema()
    if schema is not None:
        errors = graphql.validate(schema, document)
        if errors:
            return _Prepared(None, tuple(_format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors))
    return _Prepared(document, ())


def _coerce_variables(op: OperationDefinitionNode, raw: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """Coerce like gqlgen does (IDs to strings, enums checked); works with graphql-core 3.2 and 3.3."""
    schema = load_schema()
    if schema is None:
        values = dict(raw)
        for definition in op.variable_definitions or ():
            name = definition.variable.name.value
            if name not in values and definition.default_value is not None:
                values[name] = _ast_value(definition.default_value, {})
        return values, []
    from graphql.execution.values import get_variable_values

    result = get_variable_values(schema, op.variable_definitions or (), raw)
    if isinstance(result, list):
        errors = []
        for error in result:
            match = re.search(r"Variable '\$(\w+)'", error.message)
            path = ["variable", match.group(1)] if match else ["variable"]
            errors.append({"message": error.message, "path": path,
                           "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}})
        return {}, errors
    return dict(getattr(result, "coerced", result)), []


_MISSING = object()


def _ast_value(node: Any, variables: dict[str, Any]) -> Any:
    """An argument's value from the AST; object fields bound to absent variables are left out."""
    kind = node.kind
    if kind == "variable":
        return variables.get(node.name.value, _MISSING)
    if kind == "int_value":
        return int(node.value)
    if kind == "float_value":
        return float(node.value)
    if kind in ("string_value", "enum_value"):
        return node.value
    if kind == "boolean_value":
        return node.value
    if kind == "null_value":
        return None
    if kind == "list_value":
        return [v for v in (_ast_value(item, variables) for item in node.values) if v is not _MISSING]
    if kind == "object_value":
        out = {}
        for item in node.fields:
            value = _ast_value(item.value, variables)
            if value is not _MISSING:
                out[item.name.value] = value
        return out
    raise Unsupported(f"GraphQL value kind {kind}")


_ABSTRACT = {"VisualFile": {"ImageFile", "VideoFile"},
             "BaseFile": {"ImageFile", "VideoFile", "GalleryFile", "BasicFile"}}


@functools.cache
def _possible_types(name: str) -> frozenset[str]:
    schema = load_schema()
    if schema is None:
        return frozenset(_ABSTRACT.get(name, {name}))
    gtype = schema.get_type(name)
    if isinstance(gtype, graphql.GraphQLUnionType | graphql.GraphQLInterfaceType):
        return frozenset(t.name for t in schema.get_possible_types(gtype))
    return frozenset({name})


# ------------------------------------------------------------------------------ value helpers


def _now() -> float:
    return time.time()


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).isoformat().replace("+00:00", "Z")


def _natural(text: str) -> tuple:
    """NATURAL_CI collation: case-insensitive, digit runs compared as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
                 for part in re.split(r"(\d+)", text) if part)


def _parse_id(value: Any, wrap: str | None = None) -> int:
    """strconv.Atoi with Stash's wrapping ("converting id: ..."); IDs may arrive as ints or strings."""
    text = str(value)
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    message = f'strconv.Atoi: parsing "{text}": invalid syntax'
    raise StashError(f"{wrap}: {message}" if wrap else message)


def _parse_ids(values: Iterable[Any] | None, wrap: str) -> list[int]:
    return [_parse_id(v, wrap) for v in values or ()]


def _norm_id(value: Any) -> str:
    text = str(value).strip()
    return str(int(text)) if re.fullmatch(r"[+-]?\d+", text) else text


@functools.lru_cache(maxsize=4096)
def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for char in pattern:
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    # SQLite LIKE: case-insensitive for ASCII letters only.
    return re.compile("".join(out), re.IGNORECASE | re.ASCII | re.DOTALL)


def _like(value: str | None, pattern: str) -> bool | None:
    if value is None:
        return None
    return _like_regex(pattern).fullmatch(value) is not None


def _not3(value: bool | None) -> bool | None:
    return None if value is None else not value


def _or3(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _and3(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list | set | tuple | dict):
        return not value
    return isinstance(value, str) and value.strip(" ") == ""


def _search_patterns(query: str) -> list[str]:
    """getStringSearchClause: words (or one quoted phrase) wrapped in % wildcards."""
    query = query.strip()
    trimmed = query.strip('"')
    if trimmed != query:
        return [f"%{trimmed}%"]
    return [f"%{word}%" for word in re.sub(r"\s+", " ", query).split(" ")]


# ----------------------------------------------------------------------------------- criteria


def string_predicate(criterion: dict[str, Any], get: Callable[[Any], str | None]) -> Pred:
    """StringCriterionInput over one column, with SQL NULL semantics (three-valued)."""
    value = criterion.get("value") or ""
    modifier = criterion.get("modifier")
    if modifier == "EQUALS":
        return lambda r: _like(get(r), value)
    if modifier == "NOT_EQUALS":
        return lambda r: _not3(_like(get(r), value))
    if modifier in ("INCLUDES", "EXCLUDES"):
        patterns = _search_patterns(value)
        if modifier == "INCLUDES":
            return lambda r: _or3(_like(get(r), p) for p in patterns)
        return lambda r: _and3(_not3(_like(get(r), p)) for p in patterns)
    if modifier in ("MATCHES_REGEX", "NOT_MATCHES_REGEX"):
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise StashError(f"error parsing regexp: {exc}: `{value}`") from exc
        if modifier == "MATCHES_REGEX":
            return lambda r: (v := get(r)) is not None and rx.search(v) is not None
        return lambda r: (v := get(r)) is None or rx.search(v) is None
    if modifier == "IS_NULL":
        return lambda r: _blank(get(r))
    if modifier == "NOT_NULL":
        return lambda r: not _blank(get(r))
    raise _panic("unsupported string filter modifier")


def joined_string_predicate(criterion: dict[str, Any], get_all: Callable[[Any], list[str]]) -> Pred:
    """A string criterion through a LEFT JOIN (aliases): any joined row may match; none means NULL."""
    single = string_predicate(criterion, lambda v: v)
    return lambda r: _or3(single(v) for v in get_all(r)) if get_all(r) else single(None)


def int_range(criterion: dict[str, Any]) -> tuple[int, int] | None:
    """The id span an int criterion allows, so an ``id`` cursor can slice instead of scanning."""
    value, upper = criterion.get("value"), criterion.get("value2") or 0
    return {
        "EQUALS": (value, value),
        "GREATER_THAN": (value + 1, _BIG),
        "LESS_THAN": (-_BIG, value - 1),
        "BETWEEN": (value, upper),
    }.get(criterion.get("modifier"))


def int_predicate(criterion: dict[str, Any], get: Callable[[Any], int | None]) -> Pred:
    value, modifier = criterion.get("value"), criterion.get("modifier")
    upper = criterion.get("value2")
    upper = 0 if upper is None else upper  # Go: a nil value2 becomes 0
    compare: dict[str, Callable[[int], bool]] = {
        "EQUALS": lambda x: x == value,
        "NOT_EQUALS": lambda x: x != value,
        "GREATER_THAN": lambda x: x > value,
        "LESS_THAN": lambda x: x < value,
        "BETWEEN": lambda x: value <= x <= upper,
        "NOT_BETWEEN": lambda x: not value <= x <= upper,
    }
    if modifier == "IS_NULL":
        return lambda r: get(r) is None
    if modifier == "NOT_NULL":
        return lambda r: get(r) is not None
    test = compare.get(modifier)
    if test is None:
        raise _panic(f"unsupported int modifier type {modifier}")
    return lambda r: None if (x := get(r)) is None else test(x)


def multi_predicate(criterion: dict[str, Any], get: Callable[[Any], set[str]], *, hierarchical: bool) -> Pred | None:
    """(Hierarchical)MultiCriterionInput per §9.5; None means "no constraint" (Stash adds no clause).

    Tags have no parents in the double, so ``depth`` changes nothing except the EQUALS check.
    """
    modifier = criterion.get("modifier")
    values = [_norm_id(v) for v in criterion.get("value") or ()]
    excludes = [_norm_id(v) for v in criterion.get("excludes") or ()]
    kind = "hierarchical multi criterion input" if hierarchical else "multi criterion input"
    if modifier == "IS_NULL":
        return lambda r: not get(r)
    if modifier == "NOT_NULL":
        return lambda r: bool(get(r))
    if modifier == "NOT_EQUALS":
        raise StashError(f"not equals modifier is not supported for {kind}")
    if modifier == "EQUALS" and hierarchical and criterion.get("depth"):
        raise StashError("depth is not supported for equals modifier in hierarchical multi criterion input")
    if modifier not in ("INCLUDES", "INCLUDES_ALL", "EXCLUDES", "EQUALS"):
        # Stash silently ignores other modifiers (no clause). That hides plugin bugs, so refuse.
        raise Unsupported(f"modifier {modifier} on a {kind} (Stash would silently ignore it)")
    if not values and not excludes:
        return None
    if modifier == "EXCLUDES":
        modifier, excludes, values = "INCLUDES_ALL", excludes + values, []
    wanted, banned = frozenset(values), frozenset(excludes)
    preds: list[Pred] = []
    if wanted:
        if modifier == "INCLUDES":
            preds.append(lambda r: not wanted.isdisjoint(get(r)))
        elif modifier == "INCLUDES_ALL":
            preds.append(lambda r: wanted <= get(r))
        else:
            preds.append(lambda r: get(r) == wanted)
    if banned:
        preds.append(lambda r: banned.isdisjoint(get(r)))
    return preds[0] if len(preds) == 1 else lambda r: all(p(r) for p in preds)


# ------------------------------------------------------------------------------------ records


@dataclass
class Record:
    id: str
    num: int
    created_at: float
    updated_at: float
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class TagRecord(Record):
    name: str = ""
    aliases: list[str] = field(default_factory=list)


@dataclass
class ImageRecord(Record):
    title: str | None = None
    data: bytes | None = None
    path: str | None = None
    video: bool = False
    width: int = 0
    height: int = 0
    format: str = ""
    content_type: str = "application/octet-stream"
    checksum: str = ""
    tag_ids: set[str] = field(default_factory=set)
    performer_ids: set[str] = field(default_factory=set)
    gallery_ids: set[str] = field(default_factory=set)
    thumbnail: bytes | None = None

    @property
    def has_file(self) -> bool:
        return self.path is not None


@dataclass
class PerformerRecord(Record):
    name: str = ""
    aliases: list[str] = field(default_factory=list)
    image: bytes | None = None
    tag_ids: set[str] = field(default_factory=set)


@dataclass
class GalleryRecord(Record):
    title: str | None = None
    tag_ids: set[str] = field(default_factory=set)
    performer_ids: set[str] = field(default_factory=set)


@dataclass
class SceneRecord(Record):
    title: str | None = None
    path: str = ""
    duration: float = 0.0
    oshash: str = ""
    checksum: str = ""
    stream: bytes = b""
    screenshot: bytes | None = None
    sprite: bytes | None = None
    vtt: str | None = None
    tag_ids: set[str] = field(default_factory=set)
    performer_ids: set[str] = field(default_factory=set)
    gallery_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Kind:
    """What differs between object types in finds and updates."""

    name: str
    plural: str
    type_name: str
    filter_arg: str
    legacy_ids_arg: str | None
    sorts: frozenset[str]
    default_sort: str | None
    scalars: dict[str, Any]
    # input key -> (record attribute, related kind, join table, owner column, related column)
    relations: dict[str, tuple[str, str, str, str, str]]
    search: tuple[str, ...]


_MEDIA_SCALARS = {"code": None, "details": None, "date": None, "rating100": None, "organized": False,
                  "urls": []}
_KINDS = {
    "image": _Kind(
        "image", "images", "Image", "image_filter", "image_ids",
        frozenset({"created_at", "date", "file_count", "file_mod_time", "filesize", "id", "o_counter", "path",
                   "performer_count", "random", "rating", "resolution", "tag_count", "title", "updated_at"}),
        None, {"title": None, "photographer": None, **_MEDIA_SCALARS},
        {"tag_ids": ("tag_ids", "tag", "images_tags", "image_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_images", "image_id", "performer_id"),
         "gallery_ids": ("gallery_ids", "gallery", "galleries_images", "image_id", "gallery_id")},
        ("title", "path", "checksum"),
    ),
    "scene": _Kind(
        "scene", "scenes", "Scene", "scene_filter", "scene_ids",
        frozenset({"bitrate", "created_at", "date", "file_count", "filesize", "duration", "file_mod_time",
                   "framerate", "id", "interactive", "interactive_speed", "last_o_at", "last_played_at",
                   "o_counter", "organized", "performer_count", "play_count", "play_duration", "path",
                   "perceptual_similarity", "random", "rating", "resume_time", "tag_count", "title",
                   "updated_at", "code", "group_scene_number", "movie_scene_number", "studio"}),
        None, {"title": None, "director": None, **_MEDIA_SCALARS},
        {"tag_ids": ("tag_ids", "tag", "scenes_tags", "scene_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_scenes", "scene_id", "performer_id"),
         "gallery_ids": ("gallery_ids", "gallery", "scenes_galleries", "scene_id", "gallery_id")},
        ("title", "details", "path", "code", "oshash", "checksum"),
    ),
    "gallery": _Kind(
        "gallery", "galleries", "Gallery", "gallery_filter", None,
        frozenset({"created_at", "date", "file_count", "file_mod_time", "id", "images_count", "path",
                   "performer_count", "random", "rating", "tag_count", "title", "updated_at"}),
        None, {"title": None, "photographer": None, **_MEDIA_SCALARS},
        {"tag_ids": ("tag_ids", "tag", "galleries_tags", "gallery_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_galleries", "gallery_id", "performer_id")},
        ("title", "details"),
    ),
    "performer": _Kind(
        "performer", "performers", "Performer", "performer_filter", "performer_ids",
        frozenset({"birthdate", "career_length", "created_at", "gallery_count", "height", "id", "image_count",
                   "last_o_at", "last_played_at", "measurements", "name", "o_counter", "penis_length",
                   "play_count", "random", "rating", "scenes_count", "scenes_duration", "tag_count",
                   "updated_at", "weight"}),
        "name",
        {"name": None, "disambiguation": None, "gender": None, "birthdate": None, "ethnicity": None,
         "country": None, "eye_color": None, "height_cm": None, "measurements": None, "fake_tits": None,
         "penis_length": None, "circumcised": None, "career_length": None, "tattoos": None,
         "piercings": None, "favorite": False, "rating100": None, "details": None, "death_date": None,
         "hair_color": None, "weight": None, "ignore_auto_tag": False, "urls": []},
        {"tag_ids": ("tag_ids", "tag", "performers_tags", "performer_id", "tag_id")},
        ("name", "aliases"),
    ),
    "tag": _Kind(
        "tag", "tags", "Tag", "tag_filter", None,
        frozenset({"created_at", "galleries_count", "groups_count", "id", "images_count", "name",
                   "performers_count", "random", "scene_markers_count", "scenes_count", "studios_count",
                   "updated_at"}),
        "name",
        {"name": None, "sort_name": None, "description": None, "favorite": False, "ignore_auto_tag": False},
        {},
        ("name", "sort_name", "aliases"),
    ),
}
_ALIASES = {"images": "image", "scenes": "scene", "galleries": "gallery", "performers": "performer",
            "tags": "tag"}
_TYPE_NAMES = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp", "tiff": "tiff"}


@functools.cache
def placeholder_silhouette() -> bytes:
    """Stash serves a generated silhouette for performers without an image; so does the double."""
    img = Image.new("RGB", (200, 300), (222, 222, 222))
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 40, 140, 130), fill=(150, 150, 150))
    draw.rounded_rectangle((30, 140, 170, 320), radius=60, fill=(150, 150, 150))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def _grey_jpeg(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(out, "JPEG")
    return out.getvalue()


_DATA_URL = re.compile(r"^data:.+/(.+);base64,(.*)$", re.DOTALL)
_LOGIN_HTML = (b"<!DOCTYPE html><html><head><title>Login</title></head><body><form method=\"POST\" "
               b"action=\"/login\"><input name=\"username\"><input name=\"password\" type=\"password\">"
               b"</form></body></html>")
_UI_HTML = b"<!DOCTYPE html><html><head><title>Stash</title></head><body><div id=\"root\"></div></body></html>"


@dataclass
class _Exec:
    variables: dict[str, Any]
    fragments: dict[str, FragmentDefinitionNode]
    base: str
    host: str


@dataclass
class MutationCall:
    name: str
    args: dict[str, Any]
    ok: bool = True


# -------------------------------------------------------------------------------------- double


class StashHandler(DoubleHandler):
    double: ClassVar[StashDouble]

    def handle_request(self, method: str) -> None:
        self.double.serve(self, method)


class StashDouble(DoubleServer):
    """Stash on 127.0.0.1 with sequential integer ids per kind, all state guarded by ``self.lock``.

    Seed state with ``add_tag/add_image/add_performer/add_gallery/add_scene`` (ids returned as strings),
    inspect it through the ``tags/images/performers/galleries/scenes`` dicts, and assert on traffic with
    ``operations``, ``mutations``/``mutation_count()``, ``hooks``, ``unsupported``, ``auth_failures``,
    ``requests_without_cookie`` and ``request_log``. ``graphql_latency_s``/``media_latency_s`` slow
    the respective routes for benchmarks. Setting ``api_key`` or ``session_cookie`` turns auth on;
    ``session_cookie`` always holds a valid value to give the plugin as its SessionCookie.
    """

    handler_class = StashHandler

    def __init__(
        self,
        api_key: str | None = None,
        session_cookie: str | None = None,
        external_host: str | None = None,
        plugin_settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key or None
        self.credentials_configured = bool(api_key or session_cookie)
        # With only an API key configured a session still has to come from somewhere: mint one that
        # tests can hand to the plugin as its SessionCookie.
        self.session_cookie = session_cookie or secrets.token_urlsafe(24)
        self.valid_cookies: set[str] = {self.session_cookie}
        self.external_host = external_host.rstrip("/") if external_host else None
        self.plugin_settings: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (plugin_settings or {}).items()}
        self.graphql_latency_s = 0.0
        self.media_latency_s = 0.0

        self.tags: dict[str, TagRecord] = {}
        self.images: dict[str, ImageRecord] = {}
        self.performers: dict[str, PerformerRecord] = {}
        self.galleries: dict[str, GalleryRecord] = {}
        self.scenes: dict[str, SceneRecord] = {}
        self._stores: dict[str, dict[str, Any]] = {
            "tag": self.tags, "image": self.images, "performer": self.performers,
            "gallery": self.galleries, "scene": self.scenes,
        }
        # Records in id order; ids are never reused or deleted, so seq[num - 1] is record num.
        self._seq: dict[str, list[Any]] = {kind: [] for kind in self._stores}

        self.operations: list[tuple[str, dict[str, Any]]] = []
        self.mutations: list[MutationCall] = []
        self.hooks: list[tuple[str, str]] = []
        self.unsupported: list[str] = []
        self.request_log: list[tuple[str, str, bool]] = []
        self.auth_failures = 0
        self.requests_without_cookie = 0

        self._query_fields: dict[str, Callable[[dict[str, Any], _Exec], Any]] = {
            "configuration": self._q_configuration,
            "version": lambda args, ex: dict(STASH_VERSION),
            "findTags": self._finder("tag"),
            "findTag": self._getter("tag"),
            "findImages": self._finder("image"),
            "findImage": self._getter("image"),
            "findPerformers": self._finder("performer"),
            "findPerformer": self._getter("performer"),
            "findGalleries": self._finder("gallery"),
            "findGallery": self._getter("gallery"),
            "findScenes": self._finder("scene"),
            "findScene": self._getter("scene"),
        }
        self._mutation_fields: dict[str, Callable[[dict[str, Any], _Exec], Any]] = {
            "tagCreate": self._m_tag_create,
            "performerCreate": self._m_performer_create,
            "performerUpdate": self._m_performer_update,
            "bulkPerformerUpdate": self._m_bulk_performer_update,
            "imageUpdate": self._updater("image"),
            "bulkImageUpdate": self._bulk_updater("image"),
            "galleryUpdate": self._updater("gallery"),
            "bulkGalleryUpdate": self._bulk_updater("gallery"),
            "sceneUpdate": self._updater("scene"),
            "bulkSceneUpdate": self._bulk_updater("scene"),
            "configurePlugin": self._m_configure_plugin,
        }
        self._non_null_roots = {"configuration", "version", "findTags", "findImages", "findPerformers",
                                "findGalleries", "findScenes", "configurePlugin"}

    # ------------------------------------------------------------------ test-facing helpers

    def _new(self, kind: str, cls: type, **kwargs: Any) -> Any:
        seq = self._seq[kind]
        num = len(seq) + 1
        now = _now()
        record = cls(id=str(num), num=num, created_at=now, updated_at=now, **kwargs)
        seq.append(record)
        self._stores[kind][record.id] = record
        return record

    def add_tag(self, name: str, *, aliases: Iterable[str] = ()) -> str:
        with self.lock:
            if self.tag_id(name) is not None:
                raise ValueError(f"tag {name!r} already exists")
            return self._new("tag", TagRecord, name=name.strip(), aliases=list(aliases)).id

    @staticmethod
    def _refs(refs: Iterable[str], table: dict[str, Any], find: Callable[[str], str | None],
              create: Callable[[str], str]) -> set[str]:
        """Existing ids, or names (created when missing): tests read better with names."""
        return {ref if ref in table else (find(ref) or create(ref)) for ref in map(str, refs)}

    def _tag_refs(self, refs: Iterable[str]) -> set[str]:
        return self._refs(refs, self.tags, self.tag_id, self.add_tag)

    def _performer_refs(self, refs: Iterable[str]) -> set[str]:
        def find(name: str) -> str | None:
            existing = self.performer_by_name(name)
            return existing.id if existing else None

        return self._refs(refs, self.performers, find, self.add_performer)

    def _gallery_refs(self, refs: Iterable[str]) -> set[str]:
        def find(title: str) -> str | None:
            return next((g.id for g in self.galleries.values() if g.title == title), None)

        return self._refs(refs, self.galleries, find, self.add_gallery)

    def add_image(
        self,
        data: bytes | None,
        *,
        title: str | None = None,
        tags: Iterable[str] = (),
        performers: Iterable[str] = (),
        galleries: Iterable[str] = (),
        path: str | None = None,
        video: bool = False,
        width: int | None = None,
        height: int | None = None,
    ) -> str:
        """An image; ``tags``/``performers``/``galleries`` take ids or names/titles (created if new).

        ``data=None`` without ``path`` is an image with no file (``/image/N/image`` answers 404);
        ``data=None`` with ``path`` is a file Stash lists but cannot read (answers 500).
        """
        fmt, ctype, w, h = "", "application/octet-stream", 0, 0
        if video:
            fmt, ctype = "mp4", "video/mp4"
        elif data is not None:
            try:
                with Image.open(io.BytesIO(data)) as img:
                    fmt = (img.format or "").lower()
                    ctype = Image.MIME.get(img.format or "", ctype)
                    w, h = img.size
            except (OSError, ValueError):
                pass
        with self.lock:
            record = self._new(
                "image", ImageRecord, title=title, data=data, video=video,
                width=width if width is not None else w, height=height if height is not None else h,
                format=fmt, content_type=ctype,
                checksum=hashlib.md5(data).hexdigest() if data is not None else "",
                tag_ids=self._tag_refs(tags), performer_ids=self._performer_refs(performers),
                gallery_ids=self._gallery_refs(galleries),
            )
            if path is None and data is not None:
                ext = "mp4" if video else _TYPE_NAMES.get(fmt, fmt or "bin")
                path = f"/data/images/{record.num:06d}.{ext}"
            record.path = path
            return record.id

    def add_performer(
        self,
        name: str,
        *,
        aliases: Iterable[str] = (),
        image: bytes | None = None,
        tags: Iterable[str] = (),
        disambiguation: str | None = None,
        gender: str | None = None,
    ) -> str:
        with self.lock:
            fields = {"disambiguation": disambiguation, "gender": gender}
            return self._new("performer", PerformerRecord, name=name, aliases=list(aliases), image=image,
                             tag_ids=self._tag_refs(tags), fields=fields).id

    def add_gallery(self, title: str, image_ids: Iterable[str] = (), *, tags: Iterable[str] = (),
                    performers: Iterable[str] = ()) -> str:
        with self.lock:
            record = self._new("gallery", GalleryRecord, title=title, tag_ids=self._tag_refs(tags),
                               performer_ids=self._performer_refs(performers))
            for image_id in image_ids:
                self.images[str(image_id)].gallery_ids.add(record.id)
            return record.id

    def add_scene(
        self,
        title: str,
        *,
        path: str | None = None,
        sprite: bytes | None = None,
        vtt: str | None = None,
        tags: Iterable[str] = (),
        performers: Iterable[str] = (),
        galleries: Iterable[str] = (),
        duration: float = 60.0,
        stream: bytes | None = None,
        screenshot: bytes | None = None,
    ) -> str:
        with self.lock:
            record = self._new("scene", SceneRecord, title=title, duration=duration,
                               stream=stream if stream is not None else b"\x00\x00\x00\x18ftypmp42",
                               screenshot=screenshot, sprite=sprite, vtt=vtt,
                               tag_ids=self._tag_refs(tags), performer_ids=self._performer_refs(performers),
                               gallery_ids=self._gallery_refs(galleries))
            record.path = path or f"/data/scenes/{record.num:06d}.mp4"
            record.oshash = hashlib.sha1(f"oshash:{record.id}:{record.path}".encode()).hexdigest()[:16]
            record.checksum = hashlib.md5(f"md5:{record.id}:{record.path}".encode()).hexdigest()
            return record.id

    def configure_plugin(self, plugin_id: str, settings: dict[str, Any]) -> None:
        with self.lock:
            self.plugin_settings[plugin_id] = dict(settings)

    def _record(self, kind: str, object_id: str) -> Any:
        key = _ALIASES.get(kind, kind)
        if key not in self._stores:
            raise KeyError(f"unknown kind {kind!r}")
        return self._stores[key][str(object_id)]

    def tag_names(self, kind: str, object_id: str) -> set[str]:
        with self.lock:
            return {self.tags[t].name for t in self._record(kind, object_id).tag_ids}

    def tag_id(self, name: str) -> str | None:
        """The id of the tag named exactly ``name`` (case-insensitive), unlike Stash's LIKE lookup."""
        key = name.strip().casefold()
        with self.lock:
            return next((t.id for t in self.tags.values() if t.name.casefold() == key), None)

    def performer_by_name(self, name: str) -> PerformerRecord | None:
        key = name.strip().casefold()
        with self.lock:
            return next((p for p in self.performers.values() if p.name.casefold() == key), None)

    def mutation_count(self, kind_prefix: str | None = None) -> int:
        """Mutation fields Stash was asked to run (failed ones too), by case-insensitive name prefix.

        ``"bulkImage"``, ``"BulkImageUpdate"`` and ``"tagCreate"`` all work.
        """
        with self.lock:
            if kind_prefix is None:
                return len(self.mutations)
            prefix = kind_prefix.casefold()
            return sum(1 for m in self.mutations if m.name.casefold().startswith(prefix))

    def rotate_session_cookie(self, *, expire_old: bool = False) -> str:
        """A fresh session value, sent back in Set-Cookie; the old one stays valid unless expired."""
        with self.lock:
            fresh = secrets.token_urlsafe(24)
            if expire_old:
                self.valid_cookies.clear()
            self.valid_cookies.add(fresh)
            self.session_cookie = fresh
            return fresh

    def reset_log(self) -> None:
        with self.lock:
            self.operations.clear()
            self.mutations.clear()
            self.hooks.clear()
            self.unsupported.clear()
            self.request_log.clear()
            self.auth_failures = 0
            self.requests_without_cookie = 0
            self.calls.clear()

    # --------------------------------------------------------------------------- GraphQL core

    def execute(self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None,
                *, host: str = "127.0.0.1", only_queries: bool = False) -> tuple[str, dict[str, Any]]:
        """Run one request. Returns ("ok" | "invalid" | "not_acceptable", response body)."""
        variables = variables or {}
        name = operation_name or ""
        if not query.strip():
            with self.lock:
                self.operations.append((name, variables))
            return "invalid", _invalid("no operation provided")
        prepared = _prepare(query)
        if prepared.document is None:
            with self.lock:
                self.operations.append((name, variables))
            return "invalid", {"errors": list(prepared.errors), "data": None}
        operations = [d for d in prepared.document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            chosen = [op for op in operations if op.name and op.name.value == operation_name]
        else:
            chosen = operations if len(operations) == 1 else []
        with self.lock:
            self.operations.append((name or (chosen[0].name.value if chosen and chosen[0].name else ""),
                                    variables))
        if not chosen:
            return "invalid", _invalid(f"operation {operation_name} not found" if operation_name
                                       else "operation name is required when sending several operations")
        op = chosen[0]
        if only_queries and op.operation.value != "query":
            return "not_acceptable", {"errors": [{"message": "GET requests only allow query operations"}],
                                      "data": None}
        coerced, errors = _coerce_variables(op, variables)
        if errors:
            return "invalid", {"errors": errors, "data": None}
        fragments = {d.name.value: d for d in prepared.document.definitions
                     if isinstance(d, FragmentDefinitionNode)}
        ex = _Exec(coerced, fragments, self._base_url(host), host)
        if op.operation.value == "subscription":
            return "invalid", _invalid("subscriptions are not supported by the stash double")
        root_type = "Mutation" if op.operation.value == "mutation" else "Query"
        groups = self._collect(op.selection_set, root_type, ex)
        if any(k.startswith("__") and nodes[0].name.value != "__typename" for k, nodes in groups.items()):
            return "ok", self._introspect(prepared.document, variables, operation_name)
        with self.lock:
            return "ok", self._run_root(root_type, groups, ex)

    def _introspect(self, document: DocumentNode, variables: dict[str, Any], name: str | None) -> dict[str, Any]:
        schema = load_schema()
        if schema is None:
            return {"errors": [{"message": str(Unsupported("introspection without the schema file"))}],
                    "data": None}
        result = graphql.execute_sync(schema, document, variable_values=variables, operation_name=name)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message} for e in result.errors]
        return out

    def _run_root(self, root_type: str, groups: dict[str, list[FieldNode]], ex: _Exec) -> dict[str, Any]:
        resolvers = self._mutation_fields if root_type == "Mutation" else self._query_fields
        data: dict[str, Any] | None = {}
        errors: list[dict[str, Any]] = []
        for key, nodes in groups.items():
            name = nodes[0].name.value
            if name == "__typename":
                if data is not None:
                    data[key] = root_type
                continue
            args = self._args(nodes[0], ex)
            call = None
            if root_type == "Mutation":
                call = MutationCall(name, args)
                self.mutations.append(call)
            try:
                resolver = resolvers.get(name)
                if resolver is None:
                    raise Unsupported(f"root field {root_type}.{name}")
                value = self._project(resolver(args, ex), _merged(nodes), [key], ex)
            except Exception as exc:
                if call is not None:
                    call.ok = False
                if isinstance(exc, Unsupported):
                    self.unsupported.append(str(exc))
                # Anything else is a bug in the double or input the schema would have refused; Stash
                # answers panics the same way.
                message = str(exc) if isinstance(exc, StashError) else str(_panic(repr(exc)))
                errors.append({"message": message, "path": getattr(exc, "path", None) or [key]})
                if _root_non_null(root_type, name, self._non_null_roots):
                    data = None
                elif data is not None:
                    data[key] = None
                continue
            if data is not None:
                data[key] = value
        payload: dict[str, Any] = {}
        if errors:
            payload["errors"] = errors
        payload["data"] = data
        return payload

    def _args(self, node: FieldNode, ex: _Exec) -> dict[str, Any]:
        out = {}
        for arg in node.arguments or ():
            value = _ast_value(arg.value, ex.variables)
            if value is not _MISSING:
                out[arg.name.value] = value
        return out

    def _included(self, node: Any, ex: _Exec) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name in ("skip", "include"):
                args = {a.name.value: _ast_value(a.value, ex.variables) for a in directive.arguments or ()}
                flag = args.get("if") is True
                if (name == "skip" and flag) or (name == "include" and not flag):
                    return False
        return True

    def _collect(self, selection_set: SelectionSetNode, typename: str | None, ex: _Exec,
                 out: dict[str, list[FieldNode]] | None = None) -> dict[str, list[FieldNode]]:
        out = {} if out is None else out
        for sel in selection_set.selections:
            if not self._included(sel, ex):
                continue
            if isinstance(sel, FieldNode):
                out.setdefault(sel.alias.value if sel.alias else sel.name.value, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else None
                if cond is None or typename in _possible_types(cond):
                    self._collect(sel.selection_set, typename, ex, out)
            elif isinstance(sel, FragmentSpreadNode):
                frag = ex.fragments.get(sel.name.value)
                if frag is not None and typename in _possible_types(frag.type_condition.name.value):
                    self._collect(frag.selection_set, typename, ex, out)
        return out

    def _project(self, value: Any, selection_set: SelectionSetNode | None, path: list[Any], ex: _Exec) -> Any:
        """Shape a resolved value by the selection set; a callable field is resolved lazily with its args."""
        if value is None or selection_set is None:
            return value
        if isinstance(value, list):
            return [self._project(item, selection_set, [*path, i], ex) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            raise Unsupported(f"a sub-selection on scalar at {'.'.join(map(str, path))}")
        typename = value.get("__typename")
        out = {}
        for key, nodes in self._collect(selection_set, typename, ex).items():
            name = nodes[0].name.value
            if name == "__typename":
                out[key] = typename
                continue
            if name not in value:
                error = Unsupported(f"field {typename}.{name}")
                error.path = [*path, key]  # type: ignore[attr-defined]
                raise error
            item = value[name]
            if callable(item):
                item = item(self._args(nodes[0], ex))
            out[key] = self._project(item, _merged(nodes), [*path, key], ex)
        return out

    def _base_url(self, host: str) -> str:
        if self.external_host:
            return self.external_host if "://" in self.external_host else f"http://{self.external_host}"
        return f"http://{host}"

    # -------------------------------------------------------------------------------- views

    def _scalars(self, kind: _Kind, record: Any) -> dict[str, Any]:
        out = {}
        for key, default in kind.scalars.items():
            if key in ("title", "name"):
                out[key] = getattr(record, key)
            else:
                value = record.fields.get(key, default)
                out[key] = list(value) if isinstance(value, list) else value
        return out

    def _tags_view(self, tag_ids: Iterable[str], ex: _Exec) -> list[dict[str, Any]]:
        tags = [self.tags[t] for t in tag_ids]
        tags.sort(key=lambda t: _natural(t.fields.get("sort_name") or t.name))
        return [self._tag_view(t, ex) for t in tags]

    def _performers_view(self, ids: Iterable[str], ex: _Exec) -> list[dict[str, Any]]:
        return [self._performer_view(self.performers[p], ex) for p in sorted(ids, key=int)]

    def _galleries_view(self, ids: Iterable[str], ex: _Exec) -> list[dict[str, Any]]:
        return [self._gallery_view(self.galleries[g], ex) for g in sorted(ids, key=int)]

    def _common(self, record: Any) -> dict[str, Any]:
        return {"id": record.id, "created_at": _rfc3339(record.created_at),
                "updated_at": _rfc3339(record.updated_at)}

    def _count(self, kind: str, attr: str, object_id: str) -> int:
        return sum(1 for r in self._seq[kind] if object_id in getattr(r, attr))

    def _tag_view(self, tag: TagRecord, ex: _Exec) -> dict[str, Any]:
        return {
            "__typename": "Tag", **self._common(tag), **self._scalars(_KINDS["tag"], tag),
            "aliases": list(tag.aliases), "stash_ids": [], "parents": [], "children": [],
            "parent_count": 0, "child_count": 0,
            "image_path": f"{ex.base}/tag/{tag.id}/image?t={int(tag.updated_at)}&default=true",
            "image_count": lambda a: self._count("image", "tag_ids", tag.id),
            "scene_count": lambda a: self._count("scene", "tag_ids", tag.id),
            "gallery_count": lambda a: self._count("gallery", "tag_ids", tag.id),
            "performer_count": lambda a: self._count("performer", "tag_ids", tag.id),
        }

    def _file_view(self, image: ImageRecord) -> dict[str, Any]:
        path = image.path or ""
        md5 = image.checksum
        view: dict[str, Any] = {
            "__typename": "VideoFile" if image.video else "ImageFile",
            "id": image.id, "path": path, "basename": path.rsplit("/", 1)[-1],
            "width": image.width, "height": image.height, "format": image.format,
            "size": len(image.data or b""), "mod_time": _rfc3339(image.created_at),
            "created_at": _rfc3339(image.created_at), "updated_at": _rfc3339(image.created_at),
            "zip_file": None, "zip_file_id": None,
            "fingerprints": [{"__typename": "Fingerprint", "type": "md5", "value": md5}] if md5 else [],
            "fingerprint": lambda a: md5 if a.get("type") == "md5" and md5 else None,
        }
        if image.video:
            view.update({"duration": 0.0, "video_codec": "h264", "audio_codec": "", "frame_rate": 30.0,
                         "bit_rate": 0})
        return view

    def _image_view(self, image: ImageRecord, ex: _Exec) -> dict[str, Any]:
        stamp = int(image.updated_at)
        files = [self._file_view(image)] if image.has_file else []
        return {
            "__typename": "Image", **self._common(image), **self._scalars(_KINDS["image"], image),
            "o_counter": 0,
            "paths": {"__typename": "ImagePathsType",
                      "image": f"{ex.base}/image/{image.id}/image?t={stamp}",
                      "thumbnail": f"{ex.base}/image/{image.id}/thumbnail?t={stamp}", "preview": ""},
            "visual_files": files,
            "files": [f for f in files if f["__typename"] == "ImageFile"],
            "studio": None,
            "tags": lambda a: self._tags_view(image.tag_ids, ex),
            "performers": lambda a: self._performers_view(image.performer_ids, ex),
            "galleries": lambda a: self._galleries_view(image.gallery_ids, ex),
        }

    def _performer_view(self, performer: PerformerRecord, ex: _Exec) -> dict[str, Any]:
        image_path = f"{ex.base}/performer/{performer.id}/image?t={int(performer.updated_at)}"
        if performer.image is None:
            image_path += "&default=true"
        return {
            "__typename": "Performer", **self._common(performer), **self._scalars(_KINDS["performer"], performer),
            "alias_list": list(performer.aliases), "image_path": image_path, "stash_ids": [],
            "custom_fields": {}, "o_counter": 0,
            "tags": lambda a: self._tags_view(performer.tag_ids, ex),
            "image_count": lambda a: self._count("image", "performer_ids", performer.id),
            "scene_count": lambda a: self._count("scene", "performer_ids", performer.id),
            "gallery_count": lambda a: self._count("gallery", "performer_ids", performer.id),
        }

    def _gallery_view(self, gallery: GalleryRecord, ex: _Exec) -> dict[str, Any]:
        return {
            "__typename": "Gallery", **self._common(gallery), **self._scalars(_KINDS["gallery"], gallery),
            "files": [], "folder": None, "studio": None, "chapters": [],
            "paths": {"__typename": "GalleryPathsType", "cover": f"{ex.base}/gallery/{gallery.id}/cover",
                      "preview": f"{ex.base}/gallery/{gallery.id}/preview"},
            "image_count": lambda a: self._count("image", "gallery_ids", gallery.id),
            "tags": lambda a: self._tags_view(gallery.tag_ids, ex),
            "performers": lambda a: self._performers_view(gallery.performer_ids, ex),
            "scenes": lambda a: [self._scene_view(s, ex) for s in self._seq["scene"] if gallery.id in s.gallery_ids],
        }

    def _scene_view(self, scene: SceneRecord, ex: _Exec) -> dict[str, Any]:
        stamp = int(scene.updated_at)
        stream = f"{ex.base}/scene/{scene.id}/stream"
        if self.api_key:
            stream += f"?apikey={self.api_key}"
        hashes = {"oshash": scene.oshash, "md5": scene.checksum}
        file_view = {
            "__typename": "VideoFile", "id": scene.id, "path": scene.path,
            "basename": scene.path.rsplit("/", 1)[-1], "duration": scene.duration, "width": 1920,
            "height": 1080, "format": "mp4", "video_codec": "h264", "audio_codec": "aac", "frame_rate": 30.0,
            "bit_rate": 0, "size": len(scene.stream), "mod_time": _rfc3339(scene.created_at),
            "created_at": _rfc3339(scene.created_at), "updated_at": _rfc3339(scene.created_at),
            "zip_file": None,
            "fingerprints": [{"__typename": "Fingerprint", "type": k, "value": v} for k, v in hashes.items()],
            "fingerprint": lambda a: hashes.get(a.get("type")),
        }
        return {
            "__typename": "Scene", **self._common(scene), **self._scalars(_KINDS["scene"], scene),
            "o_counter": 0, "interactive": False, "interactive_speed": None, "studio": None,
            "files": [file_view], "stash_ids": [], "scene_markers": [],
            "paths": {
                "__typename": "ScenePathsType",
                "screenshot": f"{ex.base}/scene/{scene.id}/screenshot?t={stamp}",
                "preview": f"{ex.base}/scene/{scene.id}/preview",
                "stream": stream,
                "webp": f"{ex.base}/scene/{scene.id}/webp",
                "vtt": f"{ex.base}/scene/{scene.oshash}_thumbs.vtt",
                "sprite": f"{ex.base}/scene/{scene.oshash}_sprite.jpg",
                "funscript": f"{ex.base}/scene/{scene.id}/funscript",
                "interactive_heatmap": f"{ex.base}/scene/{scene.id}/interactive_heatmap",
                "caption": f"{ex.base}/scene/{scene.id}/caption",
            },
            "tags": lambda a: self._tags_view(scene.tag_ids, ex),
            "performers": lambda a: self._performers_view(scene.performer_ids, ex),
            "galleries": lambda a: self._galleries_view(scene.gallery_ids, ex),
        }

    def _view(self, kind: str, record: Any, ex: _Exec) -> dict[str, Any]:
        return {"tag": self._tag_view, "image": self._image_view, "performer": self._performer_view,
                "gallery": self._gallery_view, "scene": self._scene_view}[kind](record, ex)

    # ------------------------------------------------------------------------------ queries

    def _q_configuration(self, args: dict[str, Any], ex: _Exec) -> dict[str, Any]:
        def plugins(a: dict[str, Any]) -> dict[str, Any]:
            include = a.get("include")
            if include is None:
                return {k: dict(v) for k, v in self.plugin_settings.items()}
            return {k: dict(self.plugin_settings[k]) for k in include if self.plugin_settings.get(k)}

        return {
            "__typename": "ConfigResult",
            "general": {"__typename": "ConfigGeneralResult", "apiKey": self.api_key or "", "pythonPath": "",
                        "pluginsPath": "/root/.stash/plugins", "username": "", "password": ""},
            "plugins": plugins,
            "ui": {},
        }

    def _getter(self, kind: str) -> Callable[[dict[str, Any], _Exec], Any]:
        def find_one(args: dict[str, Any], ex: _Exec) -> Any:
            raw = args.get("id")
            if raw is None:
                checksum = args.get("checksum")
                if checksum is None:
                    return None
                matches = [r for r in self._seq[kind] if checksum in (getattr(r, "checksum", None),
                                                                        getattr(r, "oshash", None))]
                return self._view(kind, matches[0], ex) if matches else None
            record = self._stores[kind].get(str(_parse_id(raw)))
            return None if record is None else self._view(kind, record, ex)

        return find_one

    def _finder(self, kind_name: str) -> Callable[[dict[str, Any], _Exec], Any]:
        kind = _KINDS[kind_name]

        def find_many(args: dict[str, Any], ex: _Exec) -> dict[str, Any]:
            count, matches, page = self._query(kind, args)
            result: dict[str, Any] = {
                "__typename": f"Find{kind.plural.capitalize()}ResultType",
                "count": count,
                kind.plural: [self._view(kind.name, r, ex) for r in page],
            }
            if kind.name == "image":
                result["megapixels"] = lambda a: sum(r.width * r.height for r in matches) / 1e6
                result["filesize"] = lambda a: float(sum(len(r.data or b"") for r in matches))
            if kind.name == "scene":
                result["duration"] = lambda a: float(sum(r.duration for r in matches))
                result["filesize"] = lambda a: float(sum(len(r.stream) for r in matches))
            return result

        return find_many

    def _query(self, kind: _Kind, args: dict[str, Any]) -> tuple[int, list[Any], list[Any]]:
        """Stash's Query: ids short-circuit, else filter, sort, then LIMIT/OFFSET (§9.2-9.3)."""
        store = self._stores[kind.name]
        ids = args.get("ids") or (args.get(kind.legacy_ids_arg) if kind.legacy_ids_arg else None)
        if ids:
            nums = _parse_ids(ids, "converting ids")
            seen: set[int] = set()
            for num in nums:
                if num in seen:
                    raise StashError(f"validating ids: duplicate id found: {num}")
                seen.add(num)
            found = []
            for num in nums:
                record = store.get(str(num))
                if record is None:
                    raise StashError(f"{kind.name} with id {num} not found")
                found.append(record)
            return len(found), found, found
        find = args.get("filter") or {}
        sort, descending = self._sort_spec(kind, find)
        pred, span = self.compile_filter(kind.name, args.get(kind.filter_arg))
        if find.get("q"):
            q_pred = self._q_predicate(kind, find["q"])
            pred = q_pred if pred is None else _both(pred, q_pred)
        seq = self._seq[kind.name]
        if span is not None:
            low, high = max(span[0], 1), min(span[1], len(seq))
            candidates = seq[low - 1:high] if high >= low else []
        else:
            candidates = seq
        matches = candidates if pred is None else [r for r in candidates if pred(r) is True]
        ordered = self._sorted(kind, matches, sort, descending)
        per_page = find.get("per_page")
        per_page = 25 if per_page is None else per_page
        if per_page < 0:
            page = list(ordered)
        else:
            number = find.get("page")
            number = 1 if number is None or number < 1 else number
            start = (number - 1) * per_page
            page = ordered[start:start + per_page]
        return len(matches), matches, page

    def _sort_spec(self, kind: _Kind, find: dict[str, Any]) -> tuple[str | None, bool]:
        sort = find.get("sort") or kind.default_sort
        descending = find.get("direction") == "DESC"
        if sort is not None and sort not in kind.sorts and not re.fullmatch(r"random_\d+", sort):
            raise StashError(f"invalid sort: {sort}")
        return sort, descending

    def _sorted(self, kind: _Kind, records: list[Any], sort: str | None, descending: bool) -> list[Any]:
        """Records arrive in id order, so sort "id" (the paging case) costs nothing."""
        if sort is None or sort == "id":
            return list(reversed(records)) if descending else records
        if sort == "random" or sort.startswith("random_"):
            seed = int(sort[7:]) if sort.startswith("random_") else random.randrange(10**8)
            seed %= 10**8
            key: Callable[[Any], Any] = lambda r: (  # noqa: E731
                (r.num + seed) ** 2 * 52959209 + (r.num + seed) * 1047483763) % 2147483647
            return sorted(records, key=key, reverse=descending)
        key_of = self._sort_key(kind, sort)
        if key_of is None:
            raise Unsupported(f"sort {sort!r} on {kind.plural}")
        ordered = records
        if kind.name in ("image", "gallery"):
            # Stash appends COALESCE(title, id) COLLATE NATURAL_CI ASC as a tiebreaker.
            ordered = sorted(ordered, key=lambda r: _natural(r.title or r.id))

        def nulls_first(r: Any) -> tuple:
            value = key_of(r)
            return (0, 0) if value is None else (1, value)

        return sorted(ordered, key=nulls_first, reverse=descending)

    def _sort_key(self, kind: _Kind, sort: str) -> Callable[[Any], Any] | None:
        counts = {"images_count": ("image", "gallery_ids" if kind.name == "gallery" else "tag_ids"),
                  "image_count": ("image", "performer_ids"), "scenes_count": ("scene", "tag_ids"),
                  "performers_count": ("performer", "tag_ids"), "galleries_count": ("gallery", "tag_ids"),
                  "gallery_count": ("gallery", "performer_ids")}
        simple: dict[str, Callable[[Any], Any]] = {
            "created_at": lambda r: r.created_at,
            "updated_at": lambda r: r.updated_at,
            "file_mod_time": lambda r: r.created_at,
            "rating": lambda r: r.fields.get("rating100"),
            "date": lambda r: r.fields.get("date"),
            "tag_count": lambda r: len(r.tag_ids),
            "performer_count": lambda r: len(r.performer_ids),
            "o_counter": lambda r: 0,
        }
        if sort in simple:
            return simple[sort]
        if sort == "title":
            return lambda r: _natural(r.title or getattr(r, "path", None) or "")
        if sort == "name":
            return lambda r: _natural(r.fields.get("sort_name") or r.name)
        if sort == "path" and kind.name in ("image", "scene"):
            return lambda r: (r.path or "").casefold()
        if sort == "file_count" and kind.name in ("image", "scene"):
            return lambda r: 1 if getattr(r, "has_file", True) else 0
        if sort == "filesize" and kind.name == "image":
            return lambda r: len(r.data or b"")
        if sort == "duration" and kind.name == "scene":
            return lambda r: r.duration
        if sort in counts:
            other, attr = counts[sort]
            tally = Counter(i for r in self._seq[other] for i in getattr(r, attr))
            return lambda r: tally.get(r.id, 0)
        return None

    def _q_predicate(self, kind: _Kind, q: str) -> Pred:
        patterns = _search_patterns(q)
        getters = [self._column(kind, column) for column in kind.search]

        def any_column(record: Any) -> bool:
            values: list[str] = []
            for get in getters:
                value = get(record)
                if isinstance(value, list):
                    values.extend(value)
                elif value is not None:
                    values.append(value)
            return any(_like(v, p) for p in patterns for v in values)

        return any_column

    def _column(self, kind: _Kind, column: str) -> Callable[[Any], Any]:
        if column in ("title", "name", "path", "checksum", "oshash", "aliases"):
            return lambda r: getattr(r, column, None) or None
        return lambda r: r.fields.get(column)

    # ----------------------------------------------------------------------------- filters

    def compile_filter(self, kind_name: str, spec: dict[str, Any] | None, *, top: bool = True
                       ) -> tuple[Pred | None, tuple[int, int] | None]:
        """A predicate for one ``*FilterType`` level plus, at the top, the id span it allows.

        Criteria at one level are ANDed; the single allowed sub-filter joins with AND, OR or AND NOT
        (pkg/sqlite/filter.go). ``None`` means the level adds no SQL clause at all.
        """
        if not spec:
            return None, None
        subs = [k for k in ("AND", "OR", "NOT") if spec.get(k) is not None]
        if len(subs) > 1:
            raise StashError(f"cannot have {subs[0]} and {subs[1]} in the same filter")
        table = self._filters(kind_name)
        preds: list[Pred] = []
        span = None
        for key, value in spec.items():
            if key in ("AND", "OR", "NOT") or value is None:
                continue
            factory = table.get(key)
            if factory is None:
                raise Unsupported(f"{kind_name} filter key {key!r}")
            if key == "id" and top and "OR" not in subs and value.get("modifier") in (
                    "EQUALS", "GREATER_THAN", "LESS_THAN", "BETWEEN"):
                span = int_range(value)
                continue
            pred = factory(value)
            if pred is not None:
                preds.append(pred)
        own: Pred | None
        if not preds:
            own = None
        elif len(preds) == 1:
            own = preds[0]
        else:
            own = lambda r: _and3(p(r) for p in preds)  # noqa: E731
        if not subs:
            return own, span
        op = subs[0]
        sub, _ = self.compile_filter(kind_name, spec[op], top=False)
        if sub is None:
            return own, span
        if op == "NOT":
            negated: Pred = lambda r: _not3(sub(r))  # noqa: E731
            return (negated if own is None else _both(own, negated)), span
        if own is None:
            return sub, span
        if op == "AND":
            return _both(own, sub), span
        return (lambda r: _or3((own(r), sub(r)))), span

    def _filters(self, kind_name: str) -> dict[str, Callable[[Any], Pred | None]]:
        def s(get: Callable[[Any], Any]) -> Callable[[Any], Pred]:
            return lambda c: string_predicate(c, get)

        def n(get: Callable[[Any], Any]) -> Callable[[Any], Pred]:
            return lambda c: int_predicate(c, get)

        def b(get: Callable[[Any], Any]) -> Callable[[Any], Pred]:
            return lambda v: lambda r: bool(get(r)) == bool(v)

        def m(attr: str, hierarchical: bool) -> Callable[[Any], Pred | None]:
            return lambda c: multi_predicate(c, lambda r: getattr(r, attr), hierarchical=hierarchical)

        def field_of(name: str) -> Callable[[Any], Any]:
            return lambda r: r.fields.get(name)

        def counted(other: str, attr: str) -> Callable[[Any], Pred]:
            def make(c: dict[str, Any]) -> Pred:
                tally = Counter(i for r in self._seq[other] for i in getattr(r, attr))
                return int_predicate(c, lambda r: tally.get(r.id, 0))
            return make

        def missing(table: dict[str, Callable[[Any], bool]]) -> Callable[[Any], Pred]:
            def make(value: str) -> Pred:
                if value in table:
                    return table[value]
                raise Unsupported(f"{kind_name} is_missing {value!r}")
            return make

        def blank_field(name: str) -> Callable[[Any], bool]:
            return lambda r: _blank(r.fields.get(name))

        common: dict[str, Callable[[Any], Pred | None]] = {
            "id": n(lambda r: r.num),
            "details": s(field_of("details")),
            "code": s(field_of("code")),
            "rating100": n(field_of("rating100")),
            "organized": b(field_of("organized")),
        }
        media_missing = {
            "tags": lambda r: not r.tag_ids, "performers": lambda r: not r.performer_ids,
            "studio": lambda r: True, "title": lambda r: _blank(r.title), "details": blank_field("details"),
            "date": blank_field("date"), "code": blank_field("code"), "url": blank_field("urls"),
            "rating100": blank_field("rating100"),
        }
        if kind_name == "image":
            return {
                **common,
                "title": s(lambda r: r.title),
                "photographer": s(field_of("photographer")),
                "path": s(lambda r: r.path),
                "checksum": s(lambda r: r.checksum or None),
                "o_counter": n(lambda r: 0),
                "file_count": n(lambda r: 1 if r.has_file else 0),
                "tag_count": n(lambda r: len(r.tag_ids)),
                "performer_count": n(lambda r: len(r.performer_ids)),
                "tags": m("tag_ids", True),
                "performers": m("performer_ids", False),
                "galleries": m("gallery_ids", False),
                "is_missing": missing({**media_missing, "galleries": lambda r: not r.gallery_ids,
                                       "photographer": blank_field("photographer")}),
            }
        if kind_name == "scene":
            return {
                **common,
                "title": s(lambda r: r.title),
                "director": s(field_of("director")),
                "path": s(lambda r: r.path),
                "oshash": s(lambda r: r.oshash),
                "checksum": s(lambda r: r.checksum),
                "duration": n(lambda r: int(r.duration)),
                "o_counter": n(lambda r: 0),
                "file_count": n(lambda r: 1),
                "tag_count": n(lambda r: len(r.tag_ids)),
                "performer_count": n(lambda r: len(r.performer_ids)),
                "tags": m("tag_ids", True),
                "performers": m("performer_ids", False),
                "galleries": m("gallery_ids", False),
                "is_missing": missing({**media_missing, "galleries": lambda r: not r.gallery_ids,
                                       "cover": lambda r: r.screenshot is None, "stash_id": lambda r: True}),
            }
        if kind_name == "gallery":
            return {
                **common,
                "title": s(lambda r: r.title),
                "photographer": s(field_of("photographer")),
                "tag_count": n(lambda r: len(r.tag_ids)),
                "performer_count": n(lambda r: len(r.performer_ids)),
                "image_count": counted("image", "gallery_ids"),
                "tags": m("tag_ids", True),
                "performers": m("performer_ids", False),
                "is_missing": missing({**media_missing,
                                       "scenes": lambda r: not any(r.id in sc.gallery_ids
                                                                   for sc in self._seq["scene"])}),
            }
        if kind_name == "performer":
            return {
                "id": n(lambda r: r.num),
                "name": s(lambda r: r.name),
                "disambiguation": s(field_of("disambiguation")),
                "details": s(field_of("details")),
                "ethnicity": s(field_of("ethnicity")),
                "country": s(field_of("country")),
                "aliases": lambda c: joined_string_predicate(c, lambda r: r.aliases),
                "filter_favorites": b(field_of("favorite")),
                "ignore_auto_tag": b(field_of("ignore_auto_tag")),
                "rating100": n(field_of("rating100")),
                "tag_count": n(lambda r: len(r.tag_ids)),
                "tags": m("tag_ids", True),
                "image_count": counted("image", "performer_ids"),
                "scene_count": counted("scene", "performer_ids"),
                "gallery_count": counted("gallery", "performer_ids"),
                "is_missing": missing({
                    "image": lambda r: r.image is None, "aliases": lambda r: not r.aliases,
                    "tags": lambda r: not r.tag_ids, "stash_id": lambda r: True,
                    "scenes": lambda r: not any(r.id in sc.performer_ids for sc in self._seq["scene"]),
                    "disambiguation": blank_field("disambiguation"), "details": blank_field("details"),
                    "gender": blank_field("gender"), "url": blank_field("urls"),
                }),
            }
        return {  # tags
            "name": s(lambda r: r.name),
            "sort_name": s(field_of("sort_name")),
            "description": s(field_of("description")),
            "aliases": lambda c: joined_string_predicate(c, lambda r: r.aliases),
            "favorite": b(field_of("favorite")),
            "ignore_auto_tag": b(field_of("ignore_auto_tag")),
            "image_count": counted("image", "tag_ids"),
            "scene_count": counted("scene", "tag_ids"),
            "gallery_count": counted("gallery", "tag_ids"),
            "performer_count": counted("performer", "tag_ids"),
            "parent_count": n(lambda r: 0),
            "child_count": n(lambda r: 0),
        }

    # ---------------------------------------------------------------------------- mutations

    def _hook(self, hook: str, object_id: str) -> None:
        self.hooks.append((hook, object_id))

    def _foreign_key(self, spec: tuple[str, str, str, str, str], owner: str, related: str) -> StashError:
        _, _, table, owner_col, related_col = spec
        return StashError(f"error executing `INSERT INTO {table} ({owner_col}, {related_col}) VALUES (?, ?)` "
                          f"[[{owner} {related}]]: FOREIGN KEY constraint failed")

    def _relation_ids(self, key: str, values: Iterable[Any] | None) -> list[str]:
        wrap = f"converting {key.removesuffix('_ids').replace('_', ' ')} ids"
        return [str(n) for n in _parse_ids(values, wrap)]

    def _scalar_changes(self, kind: _Kind, inp: dict[str, Any], handled: set[str]) -> dict[str, Any]:
        """Plain fields present in the input; keys the double does not model fail unless null."""
        changes = {}
        for key, value in inp.items():
            if key in handled or key == "clientMutationId":
                continue
            if key not in kind.scalars:
                if value is None:
                    continue
                raise Unsupported(f"{kind.name} update input field {key!r}")
            if isinstance(value, str):
                value = value.strip()
                if key in ("date", "birthdate", "death_date") and value == "":
                    value = None
            changes[key] = value
        return changes

    def _apply_scalars(self, record: Any, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key in ("title", "name"):
                setattr(record, key, value)
            elif isinstance(value, dict):  # BulkUpdateStrings on urls
                record.fields[key] = _apply_strings(record.fields.get(key) or [], value)
            else:
                record.fields[key] = value

    def _updater(self, kind_name: str) -> Callable[[dict[str, Any], _Exec], Any]:
        kind = _KINDS[kind_name]

        def update_one(args: dict[str, Any], ex: _Exec) -> Any:
            inp = args.get("input") or {}
            num = _parse_id(inp.get("id"), "converting id")
            relations = {key: self._relation_ids(key, inp[key]) for key in kind.relations if key in inp}
            changes = self._scalar_changes(kind, inp, {"id", *kind.relations})
            record = self._stores[kind.name].get(str(num))
            if record is None:
                raise StashError(f"{kind.name} with id {num} not found")
            for key, ids in relations.items():
                spec = kind.relations[key]
                store = self._stores[spec[1]]
                for related in ids:
                    if related not in store:
                        raise self._foreign_key(spec, record.id, related)
            for key, ids in relations.items():  # list fields present replace the whole set (mode SET)
                setattr(record, kind.relations[key][0], set(ids))
            self._apply_scalars(record, changes)
            record.updated_at = _now()
            self._hook(f"{kind.type_name}.Update.Post", record.id)
            return self._view(kind.name, record, ex)

        return update_one

    def _bulk_updater(self, kind_name: str) -> Callable[[dict[str, Any], _Exec], Any]:
        kind = _KINDS[kind_name]

        def update_many(args: dict[str, Any], ex: _Exec) -> Any:
            inp = args.get("input") or {}
            nums = _parse_ids(inp.get("ids"), "converting ids")
            records = self._bulk_plan(kind, inp, nums)
            return [self._view(kind.name, r, ex) for r in records]

        return update_many

    def _bulk_plan(self, kind: _Kind, inp: dict[str, Any], nums: list[int],
                   extra: Callable[[Any], dict[str, Any]] | None = None) -> list[Any]:
        """Validate every object and relation first, then write: one transaction, all or nothing."""
        relations = []
        for key, spec in kind.relations.items():
            change = inp.get(key)
            if change is None:
                continue
            mode = change.get("mode")
            if mode not in ("SET", "ADD", "REMOVE"):
                raise Unsupported(f"BulkUpdateIds mode {mode!r}")
            relations.append((spec, mode, self._relation_ids(key, change.get("ids"))))
        handled = {"ids", "alias_list", *kind.relations} if kind.name == "performer" else {"ids", *kind.relations}
        changes = self._scalar_changes(kind, inp, handled)
        store = self._stores[kind.name]
        plans = []
        for num in nums:
            record = store.get(str(num))
            if record is None:
                raise StashError(f"{kind.name} with id {num} not found")
            new_sets = {}
            for spec, mode, ids in relations:
                current = new_sets.get(spec[0], getattr(record, spec[0]))
                if mode in ("SET", "ADD"):
                    related_store = self._stores[spec[1]]
                    for related in ids:
                        if related not in related_store and (mode == "SET" or related not in current):
                            raise self._foreign_key(spec, record.id, related)
                if mode == "SET":
                    new_sets[spec[0]] = set(ids)
                elif mode == "ADD":
                    new_sets[spec[0]] = current | set(ids)
                else:
                    new_sets[spec[0]] = current - set(ids)
            plans.append((record, new_sets, extra(record) if extra else {}))
        now = _now()
        for record, new_sets, more in plans:
            for attr, value in new_sets.items():
                setattr(record, attr, value)
            for attr, value in more.items():
                setattr(record, attr, value)
            self._apply_scalars(record, changes)
            record.updated_at = now
            self._hook(f"{kind.type_name}.Update.Post", record.id)
        return [record for record, _, _ in plans]

    def _m_tag_create(self, args: dict[str, Any], ex: _Exec) -> Any:
        inp = args.get("input") or {}
        name = (inp.get("name") or "").strip()
        for key in ("parent_ids", "child_ids", "image", "stash_ids"):
            if inp.get(key):
                raise Unsupported(f"tagCreate input {key!r}")
        if not name:
            raise StashError("tag name must not be blank")
        for tag in self._seq["tag"]:
            if _like(tag.name, name):
                raise StashError(f"tag with name '{name}' already exists")
        for tag in self._seq["tag"]:
            if any(_like(alias, name) for alias in tag.aliases):
                raise StashError(f"name '{name}' is used as alias for '{tag.name}'")
        aliases = list(dict.fromkeys(a.strip() for a in inp.get("aliases") or () if a.strip()))
        changes = self._scalar_changes(_KINDS["tag"], inp,
                                       {"name", "aliases", "parent_ids", "child_ids", "image", "stash_ids"})
        record = self._new("tag", TagRecord, name=name, aliases=aliases)
        self._apply_scalars(record, changes)
        self._hook("Tag.Create.Post", record.id)
        return self._tag_view(record, ex)

    def _check_performer_name(self, name: str, disambiguation: str, own_id: str | None) -> None:
        """validateName: LIKE on the name, disambiguation EQUALS (or IS_NULL when empty)."""
        if not name:
            raise StashError("performer name must not be blank")
        for performer in self._seq["performer"]:
            if performer.id == own_id or not _like(performer.name, name):
                continue
            other = performer.fields.get("disambiguation")
            same = _blank(other) if not disambiguation else _like(other, disambiguation)
            if same:
                suffix = f" and disambiguation '{disambiguation}'" if disambiguation else ""
                raise StashError(f"performer with name '{name}'{suffix} already exists")

    def _process_image(self, value: str, ex: _Exec) -> bytes:
        """utils.ProcessImageInput: a base64 data URL, else a URL Stash downloads."""
        match = _DATA_URL.match(value)
        if match:
            try:
                return base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise StashError(f"processing image: illegal base64 data: {exc}") from exc
        own = self._own_media(value, ex)
        if own is not None:
            return own
        try:
            with urllib.request.urlopen(value, timeout=10) as response:
                return response.read()
        except (ValueError, OSError) as exc:
            raise StashError(f"processing image: {exc}") from exc

    def _own_media(self, url: str, ex: _Exec) -> bytes | None:
        """Resolve URLs pointing at this double in-process: fetching ourselves under the lock would deadlock."""
        parts = urlsplit(url)
        ours = {ex.host, f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        if self.external_host:
            ours.add(urlsplit(self._base_url("")).netloc)
        if parts.scheme not in ("http", "https") or parts.netloc not in ours:
            return None
        status, body, _ = self._media(parts.path)
        if status != 200:
            raise StashError(f"processing image: http error {status}")
        return body

    def _m_performer_create(self, args: dict[str, Any], ex: _Exec) -> Any:
        kind = _KINDS["performer"]
        inp = args.get("input") or {}
        name = (inp.get("name") or "").strip()
        aliases = [a.strip() for a in inp.get("alias_list") or ()]
        tag_ids = self._relation_ids("tag_ids", inp.get("tag_ids"))
        changes = self._scalar_changes(kind, inp, {"name", "alias_list", "tag_ids", "image"})
        image = self._process_image(inp["image"], ex) if inp.get("image") is not None else None
        self._check_performer_name(name, changes.get("disambiguation") or "", None)
        _validate_aliases(name, aliases)
        for tag in tag_ids:
            if tag not in self.tags:
                raise self._foreign_key(kind.relations["tag_ids"], str(len(self._seq["performer"]) + 1), tag)
        record = self._new("performer", PerformerRecord, name=name, aliases=aliases, image=image or None,
                           tag_ids=set(tag_ids))
        self._apply_scalars(record, {k: v for k, v in changes.items() if k != "name"})
        self._hook("Performer.Create.Post", record.id)
        return self._performer_view(record, ex)

    def _m_performer_update(self, args: dict[str, Any], ex: _Exec) -> Any:
        kind = _KINDS["performer"]
        inp = args.get("input") or {}
        num = _parse_id(inp.get("id"), "converting id")
        tag_ids = self._relation_ids("tag_ids", inp["tag_ids"]) if "tag_ids" in inp else None
        changes = self._scalar_changes(kind, inp, {"id", "alias_list", "tag_ids", "image"})
        image = None
        if inp.get("image") is not None:
            image = self._process_image(inp["image"], ex)
        record = self.performers.get(str(num))
        if record is None:
            raise StashError(f"performer with id {num} not found")
        name = changes.get("name", record.name)
        if "name" in changes or "disambiguation" in changes:
            disambiguation = changes.get("disambiguation", record.fields.get("disambiguation")) or ""
            self._check_performer_name(name or "", disambiguation, record.id)
        aliases = record.aliases
        if "alias_list" in inp:
            aliases = [a.strip() for a in inp.get("alias_list") or ()]
        if "name" in changes or "alias_list" in inp:
            _validate_aliases(name or "", aliases)
        for tag in tag_ids or ():
            if tag not in self.tags:
                raise self._foreign_key(kind.relations["tag_ids"], record.id, tag)
        if tag_ids is not None:
            record.tag_ids = set(tag_ids)
        record.aliases = list(aliases)
        if "image" in inp:
            record.image = image or None
        self._apply_scalars(record, changes)
        record.updated_at = _now()
        self._hook("Performer.Update.Post", record.id)
        return self._performer_view(record, ex)

    def _m_bulk_performer_update(self, args: dict[str, Any], ex: _Exec) -> Any:
        kind = _KINDS["performer"]
        inp = args.get("input") or {}
        nums = _parse_ids(inp.get("ids"), "converting ids")
        alias_change = inp.get("alias_list")
        if alias_change is not None and alias_change.get("mode") not in ("SET", "ADD", "REMOVE"):
            raise Unsupported(f"BulkUpdateStrings mode {alias_change.get('mode')!r}")

        def aliases_of(record: PerformerRecord) -> dict[str, Any]:
            if alias_change is None:
                return {}
            updated = _apply_strings(record.aliases, alias_change)
            _validate_aliases(record.name, updated)
            return {"aliases": updated}

        for num in nums:  # ValidateUpdate finds the performer before anything else
            if str(num) not in self.performers:
                raise StashError(f"performer with id {num} not found")
        records = self._bulk_plan(kind, inp, nums, extra=aliases_of)
        return [self._performer_view(r, ex) for r in records]

    def _m_configure_plugin(self, args: dict[str, Any], ex: _Exec) -> Any:
        plugin_id = str(args.get("plugin_id"))
        self.plugin_settings[plugin_id] = dict(args.get("input") or {})
        return dict(self.plugin_settings[plugin_id])

    # -------------------------------------------------------------------------------- HTTP

    def serve(self, handler: DoubleHandler, method: str) -> None:
        """Entry point for every request: cookie accounting, auth (§3.1), then routing."""
        path = handler.path_only
        cookie = _session_cookie(handler.headers.get("Cookie"))
        with self.lock:
            self.request_log.append((method, path, cookie is not None))
            if cookie is None:
                self.requests_without_cookie += 1
        if path == "/login" or path.startswith("/login/"):
            handler.read_body()
            handler.send(200, _LOGIN_HTML, "text/html; charset=utf-8")
            return
        headers: dict[str, str] = {}
        verdict = self._authenticate(handler, cookie)
        if verdict != "ok":
            handler.read_body()
            with self.lock:
                self.auth_failures += 1
            ext = Path(path).suffix
            if verdict == "bad_key" or path == "/graphql" or (ext and ext != ".html"):
                handler.send(401, b"", "text/plain; charset=utf-8", {"WWW-Authenticate": "FormBased"})
            else:
                target = "/login?returnURL=" + quote(handler.path, safe="")
                handler.send(302, b"", "text/html; charset=utf-8", {"Location": target})
            return
        if self.credentials_configured and cookie is not None and cookie in self.valid_cookies:
            # Stash re-saves a valid session on every request, re-issuing the cookie.
            headers["Set-Cookie"] = f"session={self.session_cookie}; Path=/; Max-Age=3600; HttpOnly"
        if path == "/graphql":
            self._serve_graphql(handler, method, headers)
        else:
            self._serve_media(handler, method, path, headers)

    def _authenticate(self, handler: DoubleHandler, cookie: str | None) -> str:
        key = handler.headers.get("ApiKey") or handler.q("apikey") or ""
        if key:
            return "ok" if self.api_key and key == self.api_key else "bad_key"
        if not self.credentials_configured:
            return "ok"
        with self.lock:
            return "ok" if cookie in self.valid_cookies else "no_session"

    def _serve_graphql(self, handler: DoubleHandler, method: str, headers: dict[str, str]) -> None:
        headers = {**headers, "Cache-Control": "no-store"}
        if method == "POST":
            body = handler.read_body()
            mime = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if mime != "application/json":
                handler.send_json(400, {"errors": [{"message": "transport not supported"}], "data": None}, headers)
                return
            try:
                params = json.loads(body)
                if not isinstance(params, dict):
                    raise ValueError("expected a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                message = f"json request body could not be decoded: {exc} body:{body.decode('utf-8', 'replace')}"
                handler.send_json(400, {"errors": [{"message": message}], "data": None}, headers)
                return
        elif method == "GET":
            query = handler.query
            params = {k: v[0] for k, v in query.items() if v}
            if params.get("variables"):
                try:
                    params["variables"] = json.loads(params["variables"])
                except ValueError:
                    handler.send_json(400, {"errors": [{"message": "variables could not be decoded"}],
                                            "data": None}, headers)
                    return
        else:
            handler.read_body()
            handler.send_json(400, {"errors": [{"message": "transport not supported"}], "data": None}, headers)
            return
        if self.graphql_latency_s:
            time.sleep(self.graphql_latency_s)
        variables = params.get("variables")
        variables = variables if isinstance(variables, dict) else {}
        outcome, payload = self.execute(str(params.get("query") or ""), variables, params.get("operationName"),
                                        host=handler.headers.get("Host") or f"127.0.0.1:{self.port}",
                                        only_queries=method == "GET")
        content_type = _response_content_type(handler.headers.get("Accept"))
        status = 200
        if outcome == "invalid":
            status = 422 if content_type == "application/json" else 400
        elif outcome == "not_acceptable":
            status = 406
        handler.send(status, json.dumps(payload).encode(), content_type, headers)

    def _serve_media(self, handler: DoubleHandler, method: str, path: str, headers: dict[str, str]) -> None:
        handler.read_body()
        if self.media_latency_s:
            time.sleep(self.media_latency_s)
        if method != "GET":
            handler.send(405, b"", "text/plain; charset=utf-8", headers)
            return
        status, body, content_type = self._media(path)
        handler.send(status, body, content_type, headers)

    def _media(self, path: str) -> tuple[int, bytes, str]:
        not_found = (404, b"404 page not found\n", "text/plain; charset=utf-8")
        with self.lock:
            if match := re.fullmatch(r"/image/(\d+)/(image|thumbnail|preview)", path):
                image = self.images.get(match.group(1))
                if image is None or not image.has_file or match.group(2) == "preview":
                    return not_found
                if image.data is None:
                    return 500, f"open {image.path}: no such file or directory".encode(), "text/plain; charset=utf-8"
                if match.group(2) == "thumbnail":
                    thumb = self._thumbnail(image)
                    return 200, thumb, image.content_type if thumb is image.data else _sniff(thumb)
                return 200, image.data, image.content_type
            if match := re.fullmatch(r"/performer/(\d+)/image", path):
                performer = self.performers.get(match.group(1))
                if performer is None:
                    return not_found
                if performer.image is None:
                    return 200, placeholder_silhouette(), "image/png"
                return 200, performer.image, _sniff(performer.image)
            if match := re.fullmatch(r"/scene/(\d+)/(stream(?:\.\w+)?|screenshot|vtt/sprite|vtt/thumbs)", path):
                scene = self.scenes.get(match.group(1))
                return self._scene_media(scene, match.group(2)) if scene else not_found
            if match := re.fullmatch(r"/scene/([0-9a-f]+)_(sprite\.jpg|thumbs\.vtt)", path):
                scene = next((s for s in self._seq["scene"] if s.oshash == match.group(1)), None)
                what = "vtt/sprite" if match.group(2) == "sprite.jpg" else "vtt/thumbs"
                return self._scene_media(scene, what) if scene else not_found
        if re.match(r"/(image|performer|scene|gallery|tag|studio|group|movie)/", path):
            return not_found
        return 200, _UI_HTML, "text/html; charset=utf-8"  # Stash serves its UI for any other path

    def _scene_media(self, scene: SceneRecord, what: str) -> tuple[int, bytes, str]:
        not_found = (404, b"404 page not found\n", "text/plain; charset=utf-8")
        if what.startswith("stream"):
            return 200, scene.stream, "video/mp4"
        if what == "screenshot":
            return 200, scene.screenshot or _grey_jpeg(), "image/jpeg"
        if what == "vtt/sprite":
            return (200, scene.sprite, "image/jpeg") if scene.sprite is not None else not_found
        return (200, scene.vtt.encode(), "text/vtt") if scene.vtt is not None else not_found

    def _thumbnail(self, image: ImageRecord) -> bytes:
        """640 px JPEG like Stash's on-the-fly thumbnails; small or undecodable files are served as is."""
        if image.thumbnail is None:
            thumb = image.data or b""
            if image.video:
                thumb = _grey_jpeg(64, 36)
            elif max(image.width, image.height) > 640:
                try:
                    with Image.open(io.BytesIO(image.data or b"")) as img:
                        img = img.convert("RGB")
                        img.thumbnail((640, 640))
                        out = io.BytesIO()
                        img.save(out, "JPEG")
                        thumb = out.getvalue()
                except (OSError, ValueError):
                    pass
            image.thumbnail = thumb
        return image.thumbnail


# ------------------------------------------------------------------------------ module helpers


def _merged(nodes: list[FieldNode]) -> SelectionSetNode | None:
    """Fields requested twice under one response key merge their sub-selections (GraphQL spec)."""
    sets = [n.selection_set for n in nodes if n.selection_set is not None]
    if len(sets) <= 1:
        return sets[0] if sets else None
    return SelectionSetNode(selections=tuple(sel for s in sets for sel in s.selections))


def _root_non_null(root_type: str, name: str, fallback: set[str]) -> bool:
    """A failing non-null root field nulls the whole ``data`` (gqlgen), so nullability matters."""
    schema = load_schema()
    if schema is None:
        return name in fallback
    root = schema.mutation_type if root_type == "Mutation" else schema.query_type
    definition = root.fields.get(name) if root is not None else None
    return definition is not None and isinstance(definition.type, graphql.GraphQLNonNull)


def _both(first: Pred, second: Pred) -> Pred:
    return lambda r: _and3((first(r), second(r)))


def _invalid(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}], "data": None}


def _apply_strings(existing: list[str], change: dict[str, Any]) -> list[str]:
    """models.UpdateStrings.Apply: ADD appends unseen values, REMOVE drops exact matches, SET replaces."""
    values = [v.strip() for v in change.get("values") or ()]
    mode = change.get("mode")
    if mode == "SET":
        return values
    if mode == "ADD":
        out = list(existing)
        for value in values:
            if value not in out:
                out.append(value)
        return out
    return [v for v in existing if v not in values]


def _validate_aliases(name: str, aliases: list[str]) -> None:
    """performer.ValidateAliases: an alias may repeat neither the name nor another alias (any case)."""
    seen = {name.lower()}
    for alias in aliases:
        if alias.lower() in seen:
            raise StashError(f"performer contains duplicate alias '{alias}'")
        seen.add(alias.lower())


def _session_cookie(header: str | None) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get("session")
    return morsel.value if morsel is not None and morsel.value else None


def _response_content_type(accept: str | None) -> str:
    """gqlgen's response type rule (§9.1): JSON only when asked for, or when Accept is absent."""
    if not accept:
        return "application/json"
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == "application/json":
            return media
        if media in ("*/*", "application/*", "application/graphql-response+json"):
            return "application/graphql-response+json"
    return "application/graphql-response+json"


def _sniff(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or "", "application/octet-stream")
    except (OSError, ValueError):
        return "application/octet-stream"

