"""A Stash double: a real HTTP server speaking Stash's GraphQL dialect, auth rules and media routes.

Why a behavioural double and not canned JSON: the plugin's correctness hinges on Stash's quirks
(1-based pages, ``per_page: -1``, ``EXCLUDES`` keeping untagged items, bulk ``ADD``/``REMOVE``, Go error
texts, auth redirects, ``external_host`` URLs). They are reproduced here from the platform spec (§3,
§4.1, §9). Documents are parsed and validated against Stash develop's schema (``tests/reference``; the
double refuses to start without it), then run by a small generic executor over plain dicts.

The double models what the plugin sends (its documents in ``stash_compreface/stash/graphql``) and no
more. Anything else Stash would accept (another root field, filter key, modifier, sort, input field, a
bulk ``SET``, GET transport, directives...) fails loudly with a GraphQL error and is recorded in
``unsupported``, instead of silently matching everything.

Faults for resilience tests, on top of :class:`DoubleServer`'s ``fail_next``/``hang``/``go_down``:
``fail_operation(name, message, times=..., status=...)`` fails one named operation.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import graphql
from graphql.language import (
    DocumentNode,
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from PIL import Image, ImageDraw

from .server import DoubleHandler, DoubleServer

# The Stash schemas the plugin's documents are checked against live in the repository (their provenance:
# tests/reference/README.md). The double validates every request against develop's.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "tests" / "reference"
SCHEMA_PATH = SCHEMA_DIR / "stash-schema-develop.graphqls"

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


class SchemaMissing(FileNotFoundError):
    """The Stash schema is not in the repository: the double refuses to start rather than stop validating."""


@functools.cache
def load_schema() -> graphql.GraphQLSchema:
    """Built once per process (about 0.15 s); :class:`SchemaMissing` when the schema file is absent."""
    if not SCHEMA_PATH.is_file():
        raise SchemaMissing(f"the Stash schema {SCHEMA_PATH} is missing: the Stash double validates every request "
                            "against it (see tests/reference/README.md); restore it from git")
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
    errors = graphql.validate(load_schema(), document)
    if errors:
        return _Prepared(None, tuple(_format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors))
    return _Prepared(document, ())


def _coerce_variables(op: OperationDefinitionNode, raw: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """Coerce like gqlgen does (IDs to strings, enums checked); works with graphql-core 3.2 and 3.3."""
    from graphql.execution.values import get_variable_values

    result = get_variable_values(load_schema(), op.variable_definitions or (), raw)
    if isinstance(result, list):
        errors = []
        for error in result:
            match = re.search(r"Variable '\$(\w+)'", error.message)
            path = ["variable", match.group(1)] if match else ["variable"]
            errors.append({"message": error.message, "path": path,
                           "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}})
        return {}, errors
    coerced: Any = getattr(result, "coerced", result)
    return dict(coerced), []


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
    if kind in ("string_value", "enum_value", "boolean_value"):
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


@functools.cache
def _possible_types(name: str) -> frozenset[str]:
    schema = load_schema()
    gtype = schema.get_type(name)
    if isinstance(gtype, graphql.GraphQLUnionType | graphql.GraphQLInterfaceType):
        return frozenset(t.name for t in schema.get_possible_types(gtype))
    return frozenset({name})


# ------------------------------------------------------------------------------ value helpers


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


def _search_patterns(query: str) -> list[str]:
    """getStringSearchClause: words (or one quoted phrase) wrapped in % wildcards."""
    query = query.strip()
    trimmed = query.strip('"')
    if trimmed != query:
        return [f"%{trimmed}%"]
    return [f"%{word}%" for word in re.sub(r"\s+", " ", query).split(" ")]


# ----------------------------------------------------------------------------------- criteria


def string_predicate(criterion: dict[str, Any], get: Callable[[Any], str | None]) -> Pred:
    """StringCriterionInput over one column, with SQL NULL semantics (three-valued): EQUALS and INCLUDES."""
    value = criterion.get("value") or ""
    modifier = criterion.get("modifier")
    if modifier == "EQUALS":
        return lambda r: _like(get(r), value)
    if modifier == "INCLUDES":
        patterns = _search_patterns(value)
        return lambda r: _or3(_like(get(r), p) for p in patterns)
    if modifier in ("NOT_EQUALS", "EXCLUDES", "MATCHES_REGEX", "NOT_MATCHES_REGEX", "IS_NULL", "NOT_NULL"):
        raise Unsupported(f"string modifier {modifier}")
    raise _panic("unsupported string filter modifier")


def joined_string_predicate(criterion: dict[str, Any], get_all: Callable[[Any], list[str]]) -> Pred:
    """A string criterion through a LEFT JOIN (aliases): any joined row may match; none means NULL."""
    single = string_predicate(criterion, lambda v: v)
    return lambda r: _or3(single(v) for v in get_all(r)) if get_all(r) else single(None)


def int_range(criterion: dict[str, Any]) -> tuple[int, int]:
    """The id span an int criterion allows: an ``id`` cursor slices the id-ordered records instead of scanning."""
    value: int = criterion.get("value") or 0
    upper: int = criterion.get("value2") or 0  # Go: a nil value2 becomes 0
    spans = {"EQUALS": (value, value), "GREATER_THAN": (value + 1, _BIG), "LESS_THAN": (-_BIG, value - 1),
             "BETWEEN": (value, upper)}
    modifier = criterion.get("modifier")
    if modifier not in spans:
        raise Unsupported(f"int modifier {modifier} on id")
    return spans[modifier]


def id_predicate(criterion: dict[str, Any]) -> Pred:
    low, high = int_range(criterion)
    return lambda r: low <= r.num <= high


def multi_predicate(criterion: dict[str, Any], get: Callable[[Any], set[str]], *, hierarchical: bool) -> Pred | None:
    """(Hierarchical)MultiCriterionInput per §9.5; None means "no constraint" (Stash adds no clause).

    Tags have no parents in the double, so ``depth`` changes nothing except the EQUALS check.
    """
    modifier = criterion.get("modifier")
    values = [_norm_id(v) for v in criterion.get("value") or ()]
    excludes = [_norm_id(v) for v in criterion.get("excludes") or ()]
    kind = "hierarchical multi criterion input" if hierarchical else "multi criterion input"
    if modifier == "NOT_EQUALS":
        raise StashError(f"not equals modifier is not supported for {kind}")
    if modifier not in ("INCLUDES", "INCLUDES_ALL", "EXCLUDES"):
        # EQUALS/IS_NULL/NOT_NULL are real but unused by the plugin; any other modifier Stash silently
        # ignores (no clause), which would hide a plugin bug. Refuse both.
        raise Unsupported(f"modifier {modifier} on a {kind}")
    if not values and not excludes:
        return None
    if modifier == "EXCLUDES":
        modifier, excludes, values = "INCLUDES_ALL", excludes + values, []
    wanted, banned = frozenset(values), frozenset(excludes)
    preds: list[Pred] = []
    if wanted:
        if modifier == "INCLUDES":
            preds.append(lambda r: not wanted.isdisjoint(get(r)))
        else:
            preds.append(lambda r: wanted <= get(r))
    if banned:
        preds.append(lambda r: banned.isdisjoint(get(r)))
    return preds[0] if len(preds) == 1 else lambda r: all(p(r) for p in preds)


# ------------------------------------------------------------------------------------ records


@dataclass
class Record:
    id: str
    num: int
    updated_at: float


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
    content_type: str = "application/octet-stream"
    tag_ids: set[str] = field(default_factory=set)
    performer_ids: set[str] = field(default_factory=set)
    gallery_ids: set[str] = field(default_factory=set)

    @property
    def has_file(self) -> bool:
        return self.path is not None


@dataclass
class PerformerRecord(Record):
    name: str = ""
    aliases: list[str] = field(default_factory=list)
    image: bytes | None = None
    gender: str | None = None
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
    sprite: bytes | None = None
    vtt: str | None = None
    video: bytes | None = None  # the file served at /scene/{id}/stream (unmodelled: 501 when None)
    tag_ids: set[str] = field(default_factory=set)
    performer_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Kind:
    """What differs between object types in finds and bulk updates."""

    name: str
    plural: str
    type_name: str
    filter_arg: str
    sorts: frozenset[str]  # every sort Stash accepts; the double orders by id and name only
    default_sort: str | None
    # input key -> (record attribute, related kind, join table, owner column, related column)
    relations: dict[str, tuple[str, str, str, str, str]]


_KINDS = {
    "image": _Kind(
        "image", "images", "Image", "image_filter",
        frozenset({"created_at", "date", "file_count", "file_mod_time", "filesize", "id", "o_counter", "path",
                   "performer_count", "random", "rating", "resolution", "tag_count", "title", "updated_at"}),
        None,
        {"tag_ids": ("tag_ids", "tag", "images_tags", "image_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_images", "image_id", "performer_id")},
    ),
    "scene": _Kind(
        "scene", "scenes", "Scene", "scene_filter",
        frozenset({"bitrate", "created_at", "date", "file_count", "filesize", "duration", "file_mod_time",
                   "framerate", "id", "interactive", "interactive_speed", "last_o_at", "last_played_at",
                   "o_counter", "organized", "performer_count", "play_count", "play_duration", "path",
                   "perceptual_similarity", "random", "rating", "resume_time", "tag_count", "title",
                   "updated_at", "code", "group_scene_number", "movie_scene_number", "studio"}),
        None,
        {"tag_ids": ("tag_ids", "tag", "scenes_tags", "scene_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_scenes", "scene_id", "performer_id")},
    ),
    "gallery": _Kind(
        "gallery", "galleries", "Gallery", "gallery_filter", frozenset(), None,
        {"tag_ids": ("tag_ids", "tag", "galleries_tags", "gallery_id", "tag_id"),
         "performer_ids": ("performer_ids", "performer", "performers_galleries", "gallery_id", "performer_id")},
    ),
    "performer": _Kind(
        "performer", "performers", "Performer", "performer_filter",
        frozenset({"birthdate", "career_length", "created_at", "gallery_count", "height", "id", "image_count",
                   "last_o_at", "last_played_at", "measurements", "name", "o_counter", "penis_length",
                   "play_count", "random", "rating", "scenes_count", "scenes_duration", "tag_count",
                   "updated_at", "weight"}),
        "name",
        {"tag_ids": ("tag_ids", "tag", "performers_tags", "performer_id", "tag_id")},
    ),
    "tag": _Kind(
        "tag", "tags", "Tag", "tag_filter",
        frozenset({"created_at", "galleries_count", "groups_count", "id", "images_count", "name",
                   "performers_count", "random", "scene_markers_count", "scenes_count", "studios_count",
                   "updated_at"}),
        "name", {},
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


_DATA_URL = re.compile(r"^data:[^/;,]+/([^;,]+);base64,(.*)$", re.DOTALL)  # no backtracking over the data
_LOGIN_HTML = (b"<!DOCTYPE html><html><head><title>Login</title></head><body><form method=\"POST\" "
               b"action=\"/login\"><input name=\"username\"><input name=\"password\" type=\"password\">"
               b"</form></body></html>")
_UI_HTML = b"<!DOCTYPE html><html><head><title>Stash</title></head><body><div id=\"root\"></div></body></html>"
_NOT_FOUND = (404, b"404 page not found\n", "text/plain; charset=utf-8")


@dataclass
class _Exec:
    variables: dict[str, Any]
    base: str


@dataclass
class MutationCall:
    name: str
    args: dict[str, Any]
    ok: bool = True


@dataclass
class OperationFault:
    """A scripted failure of one named operation (see :meth:`StashDouble.fail_operation`)."""

    operation: str
    message: str
    status: int = 200
    times: int | None = 1


# -------------------------------------------------------------------------------------- double


class StashHandler(DoubleHandler):
    double: ClassVar[StashDouble]

    def handle_request(self, method: str) -> None:
        self.double.serve(self, method)


class StashDouble(DoubleServer):
    """Stash on 127.0.0.1 with sequential integer ids per kind, all state guarded by ``self.lock``.

    Seed state with ``add_tag/add_image/add_performer/add_gallery/add_scene`` (ids returned as strings),
    inspect it through the ``tags/images/performers/galleries/scenes`` dicts, and assert on traffic with
    ``operations``/``operation_count()``, ``mutations``/``mutation_count()``, ``unsupported``,
    ``auth_failures``, ``requests_without_cookie`` and ``calls``. ``graphql_latency_s`` slows GraphQL for
    benchmarks. Setting ``api_key`` or ``session_cookie`` turns auth on; ``session_cookie`` always holds a
    valid value to give the plugin as its SessionCookie.
    """

    handler_class = StashHandler

    def __init__(
        self,
        api_key: str | None = None,
        session_cookie: str | None = None,
        external_host: str | None = None,
        plugin_settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        load_schema()  # before binding a port: no schema, no double (SchemaMissing), never a silent fallback
        super().__init__()
        self.api_key = api_key or None
        self.plugins_path = ""  # Stash's plugins folder, as configuration.general.pluginsPath reports it
        self.database_path = "/root/.stash/stash-go.sqlite"  # configuration.general.databasePath: the library
        self.credentials_configured = bool(api_key or session_cookie)
        # With only an API key configured a session still has to come from somewhere: mint one that
        # tests can hand to the plugin as its SessionCookie.
        self.session_cookie = session_cookie or secrets.token_urlsafe(24)
        self.valid_cookies: set[str] = {self.session_cookie}
        self.external_host = external_host.rstrip("/") if external_host else None
        self.plugin_settings: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (plugin_settings or {}).items()}
        self.graphql_latency_s = 0.0

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
        # runPluginTask requests (plugin_id, task_name, args_map), in order; the job id is the 1-based index.
        self.plugin_tasks: list[dict[str, Any]] = []
        self.unsupported: list[str] = []
        self.operation_faults: list[OperationFault] = []
        self.auth_failures = 0
        self.requests_without_cookie = 0
        # /scene/{id}/stream traffic: the Range header of each request and the body bytes sent in all.
        self.stream_ranges: list[str | None] = []
        self.stream_bytes_sent = 0

        # The root fields of the plugin's documents, and nothing else.
        self._query_fields: dict[str, Callable[[dict[str, Any], _Exec], Any]] = {
            "configuration": self._q_configuration,
            "findTags": self._finder("tag"),
            "findImages": self._finder("image"),
            "findImage": self._getter("image"),
            "findPerformers": self._finder("performer"),
            "findPerformer": self._getter("performer"),
            "findGallery": self._getter("gallery"),
            "findScenes": self._finder("scene"),
            "findScene": self._getter("scene"),
        }
        self._mutation_fields: dict[str, Callable[[dict[str, Any], _Exec], Any]] = {
            "tagCreate": self._m_tag_create,
            "performerCreate": self._m_performer_create,
            "performerDestroy": self._m_performer_destroy,
            "bulkPerformerUpdate": self._bulk_updater("performer"),
            "bulkImageUpdate": self._bulk_updater("image"),
            "bulkGalleryUpdate": self._bulk_updater("gallery"),
            "bulkSceneUpdate": self._bulk_updater("scene"),
            "runPluginTask": self._m_run_plugin_task,
        }

    # ------------------------------------------------------------------ test-facing helpers

    def _new(self, kind: str, cls: type, **kwargs: Any) -> Any:
        seq = self._seq[kind]
        num = max((r.num for r in seq), default=0) + 1  # SQLite's rowid: max + 1, a deleted last id is reused
        record = cls(id=str(num), num=num, updated_at=time.time(), **kwargs)
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

    def add_image(
        self,
        data: bytes | None,
        *,
        title: str | None = None,
        tags: Iterable[str] = (),
        performers: Iterable[str] = (),
        path: str | None = None,
        video: bool = False,
    ) -> str:
        """An image; ``tags``/``performers`` take ids or names (created if new).

        ``data=None`` without ``path`` is an image with no file (``/image/N/image`` answers 404);
        ``data=None`` with ``path`` is a file Stash lists but cannot read (answers 500).
        """
        fmt, ctype, width, height = "", "application/octet-stream", 0, 0
        if video:
            fmt, ctype = "mp4", "video/mp4"
        elif data is not None:
            try:
                with Image.open(io.BytesIO(data)) as img:
                    fmt = (img.format or "").lower()
                    ctype = Image.MIME.get(img.format or "", ctype)
                    width, height = img.size
            except (OSError, ValueError):
                pass
        with self.lock:
            record = self._new("image", ImageRecord, title=title, data=data, video=video, width=width,
                               height=height, content_type=ctype, tag_ids=self._tag_refs(tags),
                               performer_ids=self._performer_refs(performers))
            if path is None and data is not None:
                path = f"/data/images/{record.num:06d}.{_TYPE_NAMES.get(fmt, fmt or 'bin')}"
            record.path = path
            return record.id

    def add_performer(self, name: str, *, aliases: Iterable[str] = (), image: bytes | None = None,
                      tags: Iterable[str] = ()) -> str:
        with self.lock:
            return self._new("performer", PerformerRecord, name=name, aliases=list(aliases), image=image,
                             tag_ids=self._tag_refs(tags)).id

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
        duration: float = 60.0,
        video: bytes | None = None,
    ) -> str:
        """A scene; its sprite sheet and VTT are served at ``paths.sprite``/``paths.vtt`` (404 when None),
        its ``video`` bytes at ``paths.stream`` with HTTP Range as Go's ``http.ServeFile`` does."""
        with self.lock:
            record = self._new("scene", SceneRecord, title=title, duration=duration, sprite=sprite, vtt=vtt,
                               video=video,
                               tag_ids=self._tag_refs(tags), performer_ids=self._performer_refs(performers))
            record.path = path or f"/data/scenes/{record.num:06d}.mp4"
            record.oshash = hashlib.sha1(f"oshash:{record.id}:{record.path}".encode()).hexdigest()[:16]
            return record.id

    def configure_plugin(self, plugin_id: str, settings: dict[str, Any]) -> None:
        with self.lock:
            self.plugin_settings[plugin_id] = dict(settings)

    def tag_names(self, kind: str, object_id: str) -> set[str]:
        key = _ALIASES.get(kind, kind)
        if key not in self._stores:
            raise KeyError(f"unknown kind {kind!r}")
        with self.lock:
            return {self.tags[t].name for t in self._stores[key][str(object_id)].tag_ids}

    def tag_id(self, name: str) -> str | None:
        """The id of the tag named exactly ``name`` (case-insensitive), unlike Stash's LIKE lookup."""
        key = name.strip().casefold()
        with self.lock:
            return next((t.id for t in self.tags.values() if t.name.casefold() == key), None)

    def performer_by_name(self, name: str) -> PerformerRecord | None:
        key = name.strip().casefold()
        with self.lock:
            return next((p for p in self.performers.values() if p.name.casefold() == key), None)

    def operation_count(self, name: str | None = None) -> int:
        """GraphQL requests received with this operation name (all of them when None), failed ones too."""
        with self.lock:
            return sum(1 for op, _ in self.operations if name is None or op == name)

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

    # ------------------------------------------------------------------------------ faults

    def fail_operation(self, operation: str, message: str = "sql: database is locked", *,
                       times: int | None = 1, status: int = 200) -> None:
        """Fail the next ``times`` requests of the named operation (``times=None``: until ``clear_faults()``).

        ``status=200``: a GraphQL error as a failing resolver gives it (``errors[].message`` = ``message``,
        the root field null, nothing written). Any other status: that HTTP status with ``message`` as a
        plain-text body, as Go's ``http.Error`` writes it. The request is still counted in ``operations``.
        """
        with self.lock:
            self.operation_faults.append(OperationFault(operation, message, status, times))

    def clear_faults(self) -> None:
        with self.lock:
            self.operation_faults.clear()
        super().clear_faults()

    def _take_operation_fault(self, name: str) -> OperationFault | None:
        with self.lock:
            for fault in self.operation_faults:
                if fault.operation == name:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.operation_faults.remove(fault)
                    return fault
        return None

    # --------------------------------------------------------------------------- GraphQL core

    def execute(self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None,
                *, host: str = "127.0.0.1") -> tuple[str | int, dict[str, Any] | str]:
        """Run one request. Returns ("ok" | "invalid" | an HTTP status from a fault, response body)."""
        variables = variables or {}
        name = operation_name or ""
        if not query.strip():
            self._record_operation(name, variables)
            return "invalid", _invalid("no operation provided")
        prepared = _prepare(query)
        if prepared.document is None:
            self._record_operation(name, variables)
            return "invalid", {"errors": list(prepared.errors), "data": None}
        operations = [d for d in prepared.document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            chosen = [op for op in operations if op.name and op.name.value == operation_name]
        else:
            chosen = operations if len(operations) == 1 else []
        name = name or (chosen[0].name.value if chosen and chosen[0].name else "")
        self._record_operation(name, variables)
        if not chosen:
            return "invalid", _invalid(f"operation {operation_name} not found" if operation_name
                                       else "operation name is required when sending several operations")
        op = chosen[0]
        coerced, errors = _coerce_variables(op, variables)
        if errors:
            return "invalid", {"errors": errors, "data": None}
        if len(prepared.document.definitions) != len(operations):
            return "ok", self._unsupported_payload("named fragments")
        if op.operation.value == "subscription":
            return "ok", self._unsupported_payload("subscriptions")
        fault = self._take_operation_fault(name)
        if fault is not None and fault.status != 200:
            return fault.status, fault.message
        ex = _Exec(coerced, self._base_url(host))
        root_type = "Mutation" if op.operation.value == "mutation" else "Query"
        with self.lock:
            try:
                groups = self._collect(op.selection_set, root_type)
            except Unsupported as exc:
                return "ok", self._unsupported_payload(str(exc), recorded=False)
            return "ok", self._run_root(root_type, groups, ex, fault.message if fault else None)

    def _record_operation(self, name: str, variables: dict[str, Any]) -> None:
        with self.lock:
            self.operations.append((name, variables))

    def _unsupported_payload(self, what: str, *, recorded: bool = True) -> dict[str, Any]:
        message = str(Unsupported(what)) if recorded else what
        with self.lock:
            self.unsupported.append(message)
        return {"errors": [{"message": message}], "data": None}

    def _run_root(self, root_type: str, groups: dict[str, list[FieldNode]], ex: _Exec,
                  injected: str | None) -> dict[str, Any]:
        """Resolve each root field; ``injected`` fails every one with that message before it runs (a fault)."""
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
                if injected is not None:
                    raise StashError(injected)
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
                if _root_non_null(root_type, name):
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

    def _collect(self, selection_set: SelectionSetNode, typename: str | None) -> dict[str, list[FieldNode]]:
        """Fields by response key; inline fragments apply when the type matches (``... on ImageFile``)."""
        out: dict[str, list[FieldNode]] = {}
        for sel in selection_set.selections:
            if sel.directives:
                raise Unsupported(f"directive @{sel.directives[0].name.value}")
            if isinstance(sel, FieldNode):
                out.setdefault(sel.alias.value if sel.alias else sel.name.value, []).append(sel)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else None
                if cond is None or typename in _possible_types(cond):
                    for key, nodes in self._collect(sel.selection_set, typename).items():
                        out.setdefault(key, []).extend(nodes)
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
        for key, nodes in self._collect(selection_set, typename).items():
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
    # Only the fields the plugin's documents select; any other field fails as Unsupported.

    def _tags_view(self, tag_ids: Iterable[str]) -> list[dict[str, Any]]:
        tags = sorted((self.tags[t] for t in tag_ids), key=lambda t: _natural(t.name))
        return [self._tag_view(t) for t in tags]

    def _performers_view(self, ids: Iterable[str], ex: _Exec) -> list[dict[str, Any]]:
        return [self._performer_view(self.performers[p], ex) for p in sorted(ids, key=int)]

    def _tag_view(self, tag: TagRecord, ex: _Exec | None = None) -> dict[str, Any]:
        return {"__typename": "Tag", "id": tag.id, "name": tag.name}

    def _image_view(self, image: ImageRecord, ex: _Exec) -> dict[str, Any]:
        files = []
        if image.has_file:
            files.append({"__typename": "VideoFile" if image.video else "ImageFile", "path": image.path,
                          "width": image.width, "height": image.height})
        return {
            "__typename": "Image", "id": image.id, "title": image.title,
            "paths": {"__typename": "ImagePathsType",
                      "image": f"{ex.base}/image/{image.id}/image?t={int(image.updated_at)}"},
            "visual_files": files,
            "tags": lambda a: self._tags_view(image.tag_ids),
            "performers": lambda a: self._performers_view(image.performer_ids, ex),
        }

    def _performer_view(self, performer: PerformerRecord, ex: _Exec) -> dict[str, Any]:
        image_path = f"{ex.base}/performer/{performer.id}/image?t={int(performer.updated_at)}"
        if performer.image is None:
            image_path += "&default=true"
        return {
            "__typename": "Performer", "id": performer.id, "name": performer.name,
            "alias_list": list(performer.aliases), "image_path": image_path,
            "tags": lambda a: self._tags_view(performer.tag_ids),
        }

    def _gallery_view(self, gallery: GalleryRecord, ex: _Exec) -> dict[str, Any]:
        return {
            "__typename": "Gallery", "id": gallery.id, "title": gallery.title,
            "image_count": lambda a: sum(1 for r in self._seq["image"] if gallery.id in r.gallery_ids),
            "tags": lambda a: self._tags_view(gallery.tag_ids),
            "performers": lambda a: self._performers_view(gallery.performer_ids, ex),
        }

    def _scene_view(self, scene: SceneRecord, ex: _Exec) -> dict[str, Any]:
        stream = f"{ex.base}/scene/{scene.id}/stream"
        if self.api_key:
            stream += f"?apikey={self.api_key}"
        return {
            "__typename": "Scene", "id": scene.id, "title": scene.title,
            "files": [{"__typename": "VideoFile", "path": scene.path, "duration": scene.duration}],
            "paths": {"__typename": "ScenePathsType", "stream": stream,
                      "vtt": f"{ex.base}/scene/{scene.oshash}_thumbs.vtt",
                      "sprite": f"{ex.base}/scene/{scene.oshash}_sprite.jpg"},
            "tags": lambda a: self._tags_view(scene.tag_ids),
            "performers": lambda a: self._performers_view(scene.performer_ids, ex),
        }

    def _view(self, kind: str, record: Any, ex: _Exec) -> dict[str, Any]:
        views: dict[str, Callable[[Any, _Exec], dict[str, Any]]] = {
            "tag": self._tag_view, "image": self._image_view, "performer": self._performer_view,
            "gallery": self._gallery_view, "scene": self._scene_view}
        return views[kind](record, ex)

    # ------------------------------------------------------------------------------ queries

    def _m_run_plugin_task(self, args: dict[str, Any], ex: _Exec) -> str:
        """Queues nothing: records the request (``plugin_tasks``) and returns a job id, as Stash does."""
        plugin_id = str(args.get("plugin_id") or "")
        if plugin_id not in self.plugin_settings:  # the double knows the plugins configured in it
            raise StashError(f"plugin {plugin_id} not found")
        self.plugin_tasks.append({"plugin_id": plugin_id, "task_name": args.get("task_name"),
                                  "args_map": args.get("args_map")})
        return str(len(self.plugin_tasks))

    def _q_configuration(self, args: dict[str, Any], ex: _Exec) -> dict[str, Any]:
        def plugins(a: dict[str, Any]) -> dict[str, Any]:
            include = a.get("include")
            if include is None:
                return {k: dict(v) for k, v in self.plugin_settings.items()}
            return {k: dict(self.plugin_settings[k]) for k in include if self.plugin_settings.get(k)}

        return {
            "__typename": "ConfigResult",
            "general": {"__typename": "ConfigGeneralResult", "apiKey": self.api_key or "",
                        "pluginsPath": self.plugins_path, "databasePath": self.database_path},
            "plugins": plugins,
        }

    def _getter(self, kind: str) -> Callable[[dict[str, Any], _Exec], Any]:
        def find_one(args: dict[str, Any], ex: _Exec) -> Any:
            if args.get("id") is None:
                raise Unsupported(f"find{kind.capitalize()} without id")
            record = self._stores[kind].get(str(_parse_id(args["id"])))
            return None if record is None else self._view(kind, record, ex)

        return find_one

    def _finder(self, kind_name: str) -> Callable[[dict[str, Any], _Exec], Any]:
        kind = _KINDS[kind_name]

        def find_many(args: dict[str, Any], ex: _Exec) -> dict[str, Any]:
            count, page = self._query(kind, args)
            return {"__typename": f"Find{kind.plural.capitalize()}ResultType", "count": count,
                    kind.plural: [self._view(kind.name, r, ex) for r in page]}

        return find_many

    def _query(self, kind: _Kind, args: dict[str, Any]) -> tuple[int, list[Any]]:
        """Stash's Query: filter, sort, then LIMIT/OFFSET (§9.2-9.3)."""
        extra = set(args) - {"filter", kind.filter_arg}
        if extra:
            raise Unsupported(f"find{kind.plural.capitalize()} argument {sorted(extra)[0]!r}")
        find = args.get("filter") or {}
        if find.get("q"):
            raise Unsupported("filter.q (full-text search)")
        sort, descending = self._sort_spec(kind, find)
        pred, span = self.compile_filter(kind.name, args.get(kind.filter_arg))
        seq = self._seq[kind.name]
        if span is not None:
            low, high = max(span[0], 1), min(span[1], len(seq))
            candidates = seq[low - 1:high] if high >= low else []
        else:
            candidates = seq
        matches = candidates if pred is None else [r for r in candidates if pred(r) is True]
        if sort == "name":
            ordered = sorted(matches, key=lambda r: _natural(r.name), reverse=descending)
        else:  # records are kept in id order
            ordered = list(reversed(matches)) if descending else matches
        per_page = find.get("per_page")
        per_page = 25 if per_page is None else per_page
        if per_page < 0:
            page = list(ordered)
        else:
            number = find.get("page")
            number = 1 if number is None or number < 1 else number
            start = (number - 1) * per_page
            page = ordered[start:start + per_page]
        return len(matches), page

    def _sort_spec(self, kind: _Kind, find: dict[str, Any]) -> tuple[str | None, bool]:
        sort = find.get("sort") or kind.default_sort
        descending = find.get("direction") == "DESC"
        if sort is None or sort == "id" or (sort == "name" and kind.default_sort == "name"):
            return sort, descending
        if sort in kind.sorts or re.fullmatch(r"random_\d+", sort):
            raise Unsupported(f"sort {sort!r} on {kind.plural}")
        raise StashError(f"invalid sort: {sort}")

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
            if key == "id" and top and "OR" not in subs:
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
        """The filter keys the plugin uses, per kind; every other key is Unsupported."""
        def tags(c: dict[str, Any]) -> Pred | None:
            return multi_predicate(c, lambda r: r.tag_ids, hierarchical=True)

        def performers(c: dict[str, Any]) -> Pred | None:
            return multi_predicate(c, lambda r: r.performer_ids, hierarchical=False)

        if kind_name == "image":
            return {"id": id_predicate, "tags": tags, "performers": performers,
                    "galleries": lambda c: multi_predicate(c, lambda r: r.gallery_ids, hierarchical=False)}
        if kind_name == "scene":
            return {"id": id_predicate, "tags": tags, "performers": performers}
        if kind_name == "performer":
            return {"id": id_predicate, "tags": tags,
                    "name": lambda c: string_predicate(c, lambda r: r.name),
                    "aliases": lambda c: joined_string_predicate(c, lambda r: r.aliases)}
        if kind_name == "tag":
            return {"name": lambda c: string_predicate(c, lambda r: r.name)}
        return {}

    # ---------------------------------------------------------------------------- mutations

    def _foreign_key(self, spec: tuple[str, str, str, str, str], owner: str, related: str) -> StashError:
        _, _, table, owner_col, related_col = spec
        return StashError(f"error executing `INSERT INTO {table} ({owner_col}, {related_col}) VALUES (?, ?)` "
                          f"[[{owner} {related}]]: FOREIGN KEY constraint failed")

    @staticmethod
    def _refuse_other_keys(what: str, inp: dict[str, Any], handled: set[str]) -> None:
        """Input fields the double does not model fail unless null (Stash treats null as absent)."""
        for key, value in inp.items():
            if key not in handled and value is not None:
                raise Unsupported(f"{what} input field {key!r}")

    def _bulk_updater(self, kind_name: str) -> Callable[[dict[str, Any], _Exec], Any]:
        kind = _KINDS[kind_name]

        def update_many(args: dict[str, Any], ex: _Exec) -> Any:
            inp = args.get("input") or {}
            nums = _parse_ids(inp.get("ids"), "converting ids")
            handled = {"ids", "clientMutationId", *kind.relations}
            if kind.name == "performer":
                handled.add("alias_list")
                for num in nums:  # ValidateUpdate finds the performer before anything else
                    if str(num) not in self.performers:
                        raise StashError(f"performer with id {num} not found")
            self._refuse_other_keys(f"bulk {kind.name} update", inp, handled)
            records = self._bulk_plan(kind, inp, nums)
            return [self._view(kind.name, r, ex) for r in records]

        return update_many

    def _bulk_plan(self, kind: _Kind, inp: dict[str, Any], nums: list[int]) -> list[Any]:
        """Validate every object and relation first, then write: one transaction, all or nothing.

        Only ADD and REMOVE are modelled: the plugin must never SET (it would erase what the user chose).
        """
        relations = []
        for key, spec in kind.relations.items():
            change = inp.get(key)
            if change is None:
                continue
            mode = change.get("mode")
            if mode not in ("ADD", "REMOVE"):
                raise Unsupported(f"BulkUpdateIds mode {mode!r}")
            wrap = f"converting {key.removesuffix('_ids').replace('_', ' ')} ids"
            relations.append((spec, mode, [str(n) for n in _parse_ids(change.get("ids"), wrap)]))
        alias_change = inp.get("alias_list")
        if alias_change is not None and alias_change.get("mode") not in ("ADD", "REMOVE"):
            raise Unsupported(f"BulkUpdateStrings mode {alias_change.get('mode')!r}")
        store = self._stores[kind.name]
        plans = []
        for num in nums:
            record = store.get(str(num))
            if record is None:
                raise StashError(f"{kind.name} with id {num} not found")
            new_sets: dict[str, Any] = {}
            for spec, mode, ids in relations:
                current = new_sets.get(spec[0], getattr(record, spec[0]))
                if mode == "ADD":
                    related_store = self._stores[spec[1]]
                    for related in ids:
                        if related not in related_store and related not in current:
                            raise self._foreign_key(spec, record.id, related)
                    new_sets[spec[0]] = current | set(ids)
                else:
                    new_sets[spec[0]] = current - set(ids)
            if alias_change is not None:
                new_sets["aliases"] = _apply_strings(record.aliases, alias_change)
                _validate_aliases(record.name, new_sets["aliases"])
            plans.append((record, new_sets))
        now = time.time()
        for record, new_sets in plans:
            for attr, value in new_sets.items():
                setattr(record, attr, value)
            record.updated_at = now
        return [record for record, _ in plans]

    def _m_tag_create(self, args: dict[str, Any], ex: _Exec) -> Any:
        inp = args.get("input") or {}
        self._refuse_other_keys("tagCreate", inp, {"name"})
        name = (inp.get("name") or "").strip()
        if not name:
            raise StashError("tag name must not be blank")
        for tag in self._seq["tag"]:
            if _like(tag.name, name):
                raise StashError(f"tag with name '{name}' already exists")
        for tag in self._seq["tag"]:
            if any(_like(alias, name) for alias in tag.aliases):
                raise StashError(f"name '{name}' is used as alias for '{tag.name}'")
        return self._tag_view(self._new("tag", TagRecord, name=name))

    def _m_performer_create(self, args: dict[str, Any], ex: _Exec) -> Any:
        inp = args.get("input") or {}
        self._refuse_other_keys("performerCreate", inp, {"name", "image", "gender"})
        name = (inp.get("name") or "").strip()
        image = self._process_image(inp["image"]) if inp.get("image") is not None else None
        if not name:
            raise StashError("performer name must not be blank")
        for performer in self._seq["performer"]:  # validateName: LIKE, no disambiguation in the double
            if _like(performer.name, name):
                raise StashError(f"performer with name '{name}' already exists")
        record = self._new("performer", PerformerRecord, name=name, image=image or None, gender=inp.get("gender"))
        return self._performer_view(record, ex)

    def _m_performer_destroy(self, args: dict[str, Any], ex: _Exec) -> Any:
        """The performer goes, and with it every item's link to it (Stash's join rows cascade)."""
        inp = args.get("input") or {}
        self._refuse_other_keys("performerDestroy", inp, {"id"})
        performer_id = str(_parse_id(inp.get("id")))
        record = self._stores["performer"].pop(performer_id, None)
        if record is None:
            raise StashError(f"performer with id {performer_id} not found")
        self._seq["performer"].remove(record)
        for kind in ("image", "scene", "gallery"):
            for item in self._seq[kind]:
                item.performer_ids.discard(performer_id)
        return True

    @staticmethod
    def _process_image(value: str) -> bytes:
        """utils.ProcessImageInput for a base64 data URL (what the plugin sends); URLs are not modelled."""
        match = _DATA_URL.match(value)
        if not match:
            raise Unsupported("an image given by URL")
        try:
            return base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StashError(f"processing image: illegal base64 data: {exc}") from exc

    # -------------------------------------------------------------------------------- HTTP

    def serve(self, handler: DoubleHandler, method: str) -> None:
        """Entry point for every request: cookie accounting, auth (§3.1), then routing."""
        path = handler.path_only
        cookie = _session_cookie(handler.headers.get("Cookie"))
        with self.lock:
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
        body = handler.read_body()
        if method != "POST":
            message = self._unsupported_payload(f"{method} /graphql")["errors"][0]["message"]
            handler.send_json(400, {"errors": [{"message": message}], "data": None}, headers)
            return
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
        if self.graphql_latency_s:
            time.sleep(self.graphql_latency_s)
        variables = params.get("variables")
        variables = variables if isinstance(variables, dict) else {}
        outcome, payload = self.execute(str(params.get("query") or ""), variables, params.get("operationName"),
                                        host=handler.headers.get("Host") or f"127.0.0.1:{self.port}")
        if isinstance(outcome, int):  # a scripted HTTP failure: http.Error's plain text
            handler.send(outcome, f"{payload}\n".encode(), "text/plain; charset=utf-8", headers)
            return
        content_type = _response_content_type(handler.headers.get("Accept"))
        status = 200
        if outcome == "invalid":
            status = 422 if content_type == "application/json" else 400
        handler.send(status, json.dumps(payload).encode(), content_type, headers)

    def _serve_media(self, handler: DoubleHandler, method: str, path: str, headers: dict[str, str]) -> None:
        handler.read_body()
        if method != "GET":
            handler.send(405, b"", "text/plain; charset=utf-8", headers)
            return
        if match := re.fullmatch(r"/scene/(\d+)/stream", path):
            with self.lock:
                scene = self.scenes.get(match.group(1))
                video = scene.video if scene is not None else None
            if scene is not None and video is not None:
                self._serve_stream(handler, video, scene.path, headers)
                return
        status, body, content_type = self._media(path)
        handler.send(status, body, content_type, headers)

    def _serve_stream(self, handler: DoubleHandler, data: bytes, path: str, headers: dict[str, str]) -> None:
        """Go's ``http.ServeFile`` for one file: ``Accept-Ranges``, a single range as 206 with
        ``Content-Range``, 416 for a malformed or unsatisfiable range (multipart ranges are unmodelled)."""
        range_header = handler.headers.get("Range")
        size = len(data)
        content_type = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/x-matroska",
                        ".webm": "video/webm"}.get(Path(path).suffix.lower(), "application/octet-stream")
        headers = {**headers, "Accept-Ranges": "bytes"}
        with self.lock:
            self.stream_ranges.append(range_header)
        if not range_header:
            status, body = 200, data
        else:
            spans, error = _parse_range(range_header, size)
            if error is not None:
                if error == "invalid range: failed to overlap":
                    headers["Content-Range"] = f"bytes */{size}"
                handler.send(416, f"{error}\n".encode(), "text/plain; charset=utf-8", headers)
                return
            if len(spans) > 1:
                message = str(Unsupported(f"multipart Range {range_header}"))
                with self.lock:
                    self.unsupported.append(message)
                handler.send(501, message.encode(), "text/plain; charset=utf-8", headers)
                return
            if not spans:  # Go: every range was ignored (their sum exceeded the file): the whole file
                status, body = 200, data
            else:
                start, length = spans[0]
                status, body = 206, data[start : start + length]
                headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
        with self.lock:
            self.stream_bytes_sent += len(body)
        try:
            handler.send(status, body, content_type, headers)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client read what it wanted and hung up, as ffmpeg does

    def _media(self, path: str) -> tuple[int, bytes, str]:
        """The media routes the plugin fetches: image files, performer images, scene sprites and VTTs."""
        with self.lock:
            if match := re.fullmatch(r"/image/(\d+)/image", path):
                image = self.images.get(match.group(1))
                if image is None or not image.has_file:
                    return _NOT_FOUND
                if image.data is None:
                    return 500, f"open {image.path}: no such file or directory".encode(), "text/plain; charset=utf-8"
                return 200, image.data, image.content_type
            if match := re.fullmatch(r"/performer/(\d+)/image", path):
                performer = self.performers.get(match.group(1))
                if performer is None:
                    return _NOT_FOUND
                if performer.image is None:
                    return 200, placeholder_silhouette(), "image/png"
                return 200, performer.image, _sniff(performer.image)
            if match := re.fullmatch(r"/scene/([0-9a-f]+)_(sprite\.jpg|thumbs\.vtt)", path):
                scene = next((s for s in self._seq["scene"] if s.oshash == match.group(1)), None)
                if scene is None:
                    return _NOT_FOUND
                if match.group(2) == "sprite.jpg":
                    return (200, scene.sprite, "image/jpeg") if scene.sprite is not None else _NOT_FOUND
                return (200, scene.vtt.encode(), "text/vtt") if scene.vtt is not None else _NOT_FOUND
            if re.match(r"/(image|performer|scene|gallery|tag|studio|group|movie)/", path):
                message = str(Unsupported(f"media route {path}"))
                self.unsupported.append(message)
                return 501, message.encode(), "text/plain; charset=utf-8"
        return 200, _UI_HTML, "text/html; charset=utf-8"  # Stash serves its UI for any other path


# ------------------------------------------------------------------------------ module helpers


def _merged(nodes: list[FieldNode]) -> SelectionSetNode | None:
    """Fields requested twice under one response key merge their sub-selections (GraphQL spec)."""
    sets = [n.selection_set for n in nodes if n.selection_set is not None]
    if len(sets) <= 1:
        return sets[0] if sets else None
    return SelectionSetNode(selections=tuple(sel for s in sets for sel in s.selections))


def _root_non_null(root_type: str, name: str) -> bool:
    """A failing non-null root field nulls the whole ``data`` (gqlgen), so nullability matters."""
    schema = load_schema()
    root = schema.mutation_type if root_type == "Mutation" else schema.query_type
    definition = root.fields.get(name) if root is not None else None
    return definition is not None and isinstance(definition.type, graphql.GraphQLNonNull)


def _both(first: Pred, second: Pred) -> Pred:
    return lambda r: _and3((first(r), second(r)))


def _invalid(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}], "data": None}


def _apply_strings(existing: list[str], change: dict[str, Any]) -> list[str]:
    """models.UpdateStrings.Apply: ADD appends unseen values, REMOVE drops exact matches."""
    values = [v.strip() for v in change.get("values") or ()]
    if change.get("mode") == "ADD":
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


def _parse_range(header: str, size: int) -> tuple[list[tuple[int, int]], str | None]:
    """Go's ``net/http.parseRange`` plus ``serveContent``'s checks: (start, length) spans, or an error text."""
    if not header.startswith("bytes="):
        return [], "invalid range"
    spans: list[tuple[int, int]] = []
    no_overlap = False
    for part in header[len("bytes="):].split(","):
        part = part.strip(" \t")
        if not part:
            continue
        first, sep, last = part.partition("-")
        first, last = first.strip(" \t"), last.strip(" \t")
        if not sep:
            return [], "invalid range"
        if not first:
            if not last or last.startswith("-") or not last.isdigit():
                return [], "invalid range"
            suffix = min(int(last), size)
            spans.append((size - suffix, suffix))
            continue
        if not first.isdigit():
            return [], "invalid range"
        start = int(first)
        if start >= size:
            no_overlap = True  # Go skips a range that starts past the end
            continue
        if not last:
            spans.append((start, size - start))
            continue
        if not last.isdigit() or int(last) < start:
            return [], "invalid range"
        end = min(int(last), size - 1)
        spans.append((start, end - start + 1))
    if no_overlap and not spans:
        return [], "invalid range: failed to overlap"
    if sum(length for _, length in spans) > size:
        return [], None
    return spans, None


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
        if part.split(";")[0].strip().lower() == "application/json":
            return "application/json"
    return "application/graphql-response+json"


def _sniff(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or "", "application/octet-stream")
    except (OSError, ValueError):
        return "application/octet-stream"

