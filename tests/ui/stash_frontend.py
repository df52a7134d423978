"""Stash's own web UI (v0.30.1, built from its source) served as Stash serves it, over the test doubles.

The build lives beside the repository (``../shared/stash-ui/v0.30.1/build``, see its README; CI clones the
repository with ``shared/`` beside it); :func:`stash_ui_build` finds it or says why not. The server plays
Stash's Go web server:

* assets exist only as ``X.gz``: ``X`` is served from it with ``Content-Encoding: gzip``;
* any path without an extension is ``index.html`` with ``%COLOR%`` and ``<base href>`` rewritten to the
  path prefix (behind a reverse proxy, ``/stash/``); ``/javascript``, ``/css`` and ``/customlocales`` are
  the user's (empty) customisations; ``/plugin/compreface/javascript|css`` are the plugin's ui files;
* media (``/image/<id>/image|thumbnail``, ``/performer/<id>/image``, ``/scene/<id>/stream|screenshot``)
  come from the Stash double;
* ``POST /graphql`` runs through graphql-core on Stash's v0.30.1 schema: ``runPluginOperation`` runs the
  real plugin mode in-process (``tasks.run`` against the doubles, as tests/tasks do); the find queries
  read the Stash double (its own filter and sort code answers which ids); ``plugins`` lists this plugin;
  every other field the UI asks is filled from the schema (null when nullable, [] for a list, a zero
  value for a scalar), which is all a fresh Stash would say.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol

import graphql
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
)

from tests.tasks.conftest import COOKIE, TaskWorld

REPO = Path(__file__).resolve().parents[2]
UI_DIR = REPO / "plugin" / "ui"
SCHEMA = REPO / "tests" / "reference" / "stash-schema-v0.30.1.graphqls"
VERSION = "v0.30.1"
COLOR = "#202b33"


def stash_ui_build() -> tuple[Path | None, str]:
    """The build folder, or None and why: ``$STASH_UI_DIR``, else ``shared/stash-ui`` beside the repository
    (as CI clones it), else the workspace's ``/work/shared/stash-ui``."""
    candidates = [Path(os.environ["STASH_UI_DIR"])] if os.environ.get("STASH_UI_DIR") else []
    candidates += [REPO.parent / "shared" / "stash-ui", Path("/work/shared/stash-ui")]
    for root in candidates:
        build = root / VERSION / "build"
        if (build / "index.html").is_file():
            return build, ""
    return None, ("Stash's web UI build is absent (looked for " + ", ".join(str(c / VERSION / "build") for c in
                  candidates) + "; set STASH_UI_DIR to the folder holding v0.30.1/build)")


@cache
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ schema-driven answers


def zero(kind: Any) -> Any:
    """What a fresh Stash says for a field it has nothing for: null when nullable, else [] / a zero value
    / an object whose own fields are filled the same way."""
    if not isinstance(kind, GraphQLNonNull):
        return None
    inner = kind.of_type
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    if isinstance(inner, GraphQLScalarType):
        return {"Int": 0, "Float": 0.0, "Boolean": False, "ID": "0", "String": "", "Map": {}, "Any": None,
                "Time": "1970-01-01T00:00:00Z", "Timestamp": "1970-01-01T00:00:00Z"}.get(inner.name, "")
    return {}


def _resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    if isinstance(source, dict) and info.field_name in source:
        value = source[info.field_name]
        return value(args) if callable(value) else value
    return zero(info.return_type)


def _resolve_type(value: Any, info: GraphQLResolveInfo, abstract: Any) -> str:
    if isinstance(value, dict) and "__typename" in value:
        return str(value["__typename"])
    return str(info.schema.get_possible_types(abstract)[0].name)


def _keywords(fn: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
    """A root resolver called with the field's arguments as keywords."""
    return lambda args: fn(**args)


_FINDS = {"Image": "image", "Scene": "scene", "Performer": "performer", "Tag": "tag", "Gallery": "gallery"}
_PLURALS = {"images": "image", "scenes": "scene", "performers": "performer", "tags": "tag",
            "galleries": "gallery"}


@dataclass
class StashWeb:
    """The web server in front of the doubles; ``operations`` lists every (mode, args, output, error) the UI
    ran, ``queries`` every GraphQL operation name the UI sent. ``base``: Stash's path prefix."""

    world: TaskWorld
    build: Path
    url: str = ""
    base: str = "/"
    operations: list[tuple[str, dict[str, Any], Any, str | None]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delays: dict[str, float] = field(default_factory=dict)  # seconds before answering a GraphQL operation, by name

    # -------------------------------------------------------------------- GraphQL

    def graphql(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.queries.append(str(body.get("operationName") or ""))
        if self.delays.get(str(body.get("operationName"))):
            time.sleep(self.delays[str(body.get("operationName"))])  # a slow Stash
        roots: dict[str, Callable[..., Any]] = {"runPluginOperation": self._run_plugin_operation,
                                                "plugins": self._plugins, "configuration": self._configuration,
                                                "systemStatus": self._system_status, "version": self._version}
        query_type = schema().query_type
        assert query_type is not None
        root = {name: self._root_find(name, f.type) for name, f in query_type.fields.items()
                if name.startswith("find")}
        root.update({name: _keywords(fn) for name, fn in roots.items()})
        result = graphql.graphql_sync(schema(), body.get("query") or "", root_value=root,
                                      variable_values=body.get("variables"),
                                      operation_name=body.get("operationName"),
                                      field_resolver=_resolve_field, type_resolver=_resolve_type)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        return answer

    def _run_plugin_operation(self, plugin_id: str, args: dict[str, Any] | None = None) -> Any:
        assert plugin_id == "compreface", plugin_id
        args = dict(args or {})
        mode = args.pop("mode")
        with self.lock:
            run = self.world.run(mode, **args)
        self.operations.append((mode, args, run.output, run.error))
        if run.error is not None:
            raise graphql.GraphQLError(run.error)
        return run.output

    def _plugins(self) -> list[dict[str, Any]]:
        prefix = f"{self.url}{self.base}plugin/compreface/"
        return [{"id": "compreface", "name": "CompreFace", "enabled": True, "version": "test",
                 "paths": {"javascript": [prefix + "javascript"], "css": [prefix + "css"]}}]

    def _configuration(self) -> dict[str, Any]:
        settings = dict(self.world.stash.plugin_settings)
        return {"plugins": lambda a: {k: v for k, v in settings.items() if not a.get("include")
                                      or k in a["include"]},
                "ui": {"lastNoteSeen": 99999999}, "general": {"databasePath": "/data/stash-go.sqlite", "apiKey": ""}}

    def _system_status(self) -> dict[str, Any]:
        return {"status": "OK", "appSchema": 71, "databaseSchema": 71}

    def _version(self) -> dict[str, Any]:
        return {"version": VERSION, "hash": "test", "build_time": "2025-12-18"}

    def _root_find(self, name: str, kind: Any) -> Callable[[dict[str, Any]], Any]:
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        single = _FINDS.get(getattr(inner, "name", ""))
        if single:
            def find_one(args: dict[str, Any]) -> Any:
                record = self._store(single).get(str(args.get("id")))
                return self._view(single, record) if record is not None else None
            return find_one
        plural = next((p for p in _PLURALS if isinstance(inner, GraphQLObjectType) and p in inner.fields), None)
        if plural is None:
            return lambda args: zero(kind)
        kind_name = _PLURALS[plural]

        def find_many(args: dict[str, Any]) -> dict[str, Any]:
            ids = self._double_ids(name, plural, args)
            records = [self._store(kind_name)[i] for i in ids if i in self._store(kind_name)]
            return {"count": len(records), plural: [self._view(kind_name, r) for r in records]}
        return find_many

    def _store(self, kind: str) -> dict[str, Any]:
        return {"image": self.world.stash.images, "scene": self.world.stash.scenes,
                "performer": self.world.stash.performers, "tag": self.world.stash.tags,
                "gallery": self.world.stash.galleries}[kind]

    def _double_ids(self, name: str, plural: str, args: dict[str, Any]) -> list[str]:
        """Which ids the double's own filter and sort code answers for these arguments; every id when it
        does not model an argument the UI sent (a sort it ignores, say)."""
        field_def = schema().query_type.fields[name]  # type: ignore[union-attr]
        declared = {a: str(field_def.args[a].type) for a in args if a in field_def.args}
        params = ", ".join(f"${a}: {t}" for a, t in declared.items())
        call = ", ".join(f"{a}: ${a}" for a in declared)
        query = f"query UiFind({params}) {{ {name}({call}) {{ {plural} {{ id }} }} }}" if params else \
            f"query UiFind {{ {name} {{ {plural} {{ id }} }} }}"
        outcome, payload = self.world.stash.execute(query.replace("UiFind()", "UiFind"),
                                                    {a: args[a] for a in declared})
        if outcome == "ok" and isinstance(payload, dict) and not payload.get("errors"):
            return [r["id"] for r in payload["data"][name][plural]]
        return sorted(self._store(_PLURALS[plural]), key=int)

    # -------------------------------------------------------------------- the double's records as Stash shows them

    def _view(self, kind: str, record: Any) -> dict[str, Any]:
        return getattr(self, f"_{kind}_view")(record)

    def _link(self, path: str) -> str:
        return f"{self.url}{self.base}{path}"

    def _performers(self, ids: Any) -> list[dict[str, Any]]:
        stash = self.world.stash
        return [self._performer_view(stash.performers[p]) for p in sorted(ids, key=int) if p in stash.performers]

    def _tags(self, ids: Any) -> list[dict[str, Any]]:
        return [self._tag_view(self.world.stash.tags[t]) for t in sorted(ids, key=int)]

    def _image_view(self, image: Any) -> dict[str, Any]:
        media = self._link(f"image/{image.id}/image?t={int(image.updated_at)}")
        file = {"__typename": "VideoFile" if image.video else "ImageFile", "id": image.id,
                "path": image.path or "", "basename": Path(image.path or "").name, "width": image.width,
                "height": image.height, "format": "mp4" if image.video else "jpeg", "size": len(image.data or b"")}
        return {"__typename": "Image", "id": image.id, "title": image.title,
                "paths": {"image": media, "thumbnail": self._link(f"image/{image.id}/thumbnail"),
                          "preview": None},
                "visual_files": [file] if image.has_file else [],
                "files": [file] if image.has_file and not image.video else [],
                "performers": lambda a: self._performers(image.performer_ids),
                "tags": lambda a: self._tags(image.tag_ids)}

    def _scene_view(self, scene: Any) -> dict[str, Any]:
        stream = self._link(f"scene/{scene.id}/stream")
        return {"__typename": "Scene", "id": scene.id, "title": scene.title,
                "files": [{"__typename": "VideoFile", "id": scene.id, "path": scene.path,
                           "basename": Path(scene.path).name, "duration": scene.duration, "width": 640,
                           "height": 360, "video_codec": "h264", "format": "mp4"}],
                "paths": {"stream": stream, "screenshot": self._link(f"scene/{scene.id}/screenshot")},
                "sceneStreams": [{"url": stream, "mime_type": "video/mp4", "label": "Direct stream"}],
                "performers": lambda a: self._performers(scene.performer_ids),
                "tags": lambda a: self._tags(scene.tag_ids)}

    def _performer_view(self, performer: Any) -> dict[str, Any]:
        return {"__typename": "Performer", "id": performer.id, "name": performer.name,
                "alias_list": list(performer.aliases),
                "image_path": self._link(f"performer/{performer.id}/image?t={int(performer.updated_at)}"),
                "tags": lambda a: self._tags(performer.tag_ids)}

    def _tag_view(self, tag: Any) -> dict[str, Any]:
        return {"__typename": "Tag", "id": tag.id, "name": tag.name, "aliases": list(tag.aliases)}

    def _gallery_view(self, gallery: Any) -> dict[str, Any]:
        return {"__typename": "Gallery", "id": gallery.id, "title": gallery.title,
                "performers": lambda a: self._performers(gallery.performer_ids),
                "tags": lambda a: self._tags(gallery.tag_ids)}

    # -------------------------------------------------------------------- HTTP

    def get(self, path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        """One GET under the base (``path`` starts with "/"): status, body, headers."""
        if path == "/plugin/compreface/javascript":
            return 200, (UI_DIR / "compreface.js").read_bytes(), {"Content-Type": "text/javascript; charset=utf-8"}
        if path == "/plugin/compreface/css":
            return 200, (UI_DIR / "compreface.css").read_bytes(), {"Content-Type": "text/css; charset=utf-8"}
        if path in ("/javascript", "/css"):
            return 200, b"", {"Content-Type": "text/javascript" if path == "/javascript" else "text/css"}
        if path == "/customlocales":
            return 200, b"{}", {"Content-Type": "application/json"}
        if re.match(r"/(image|scene|performer)/\d+/", path):
            return self._media(path, headers)
        name = path.lstrip("/")
        if "." not in Path(name).name:  # the app's routes
            html = (self.build / "index.html").read_text(encoding="utf-8").replace("%COLOR%", COLOR)
            html = html.replace('<base href="/" />', f'<base href="{self.base}" />')
            return 200, html.encode(), {"Content-Type": "text/html; charset=utf-8"}
        target = (self.build / name).resolve()
        if self.build.resolve() not in target.parents:
            return 404, b"not found", {"Content-Type": "text/plain"}
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if target.is_file():
            return 200, target.read_bytes(), {"Content-Type": ctype}
        if target.with_name(target.name + ".gz").is_file():
            headers = {"Content-Type": ctype, "Content-Encoding": "gzip"}
            if name.startswith("assets/"):  # hashed names: Stash lets browsers keep them
                headers["Cache-Control"] = "max-age=604800000"
            return 200, target.with_name(target.name + ".gz").read_bytes(), headers
        return 404, b"not found", {"Content-Type": "text/plain"}

    def _media(self, path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        """An image, thumbnail, performer image or stream of the Stash double, never cached: the next test's
        world, behind the same origin, has other pictures under the same ids."""
        status, body, answer = self._media_of_the_double(path, headers)
        return status, body, {**answer, "Cache-Control": "no-store"}

    def _media_of_the_double(self, path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        stash = self.world.stash
        if match := re.fullmatch(r"/image/(\d+)/(image|thumbnail)", path):
            image = stash.images.get(match.group(1))
            if image is None or image.data is None:
                return 404, b"not found", {"Content-Type": "text/plain"}
            return 200, image.data, {"Content-Type": image.content_type}
        if re.fullmatch(r"/scene/\d+/screenshot", path):
            return 404, b"not found", {"Content-Type": "text/plain"}
        # The double serves performer images and scene streams (with HTTP Range) as Stash does.
        forward = {"Cookie": f"session={COOKIE}"}
        if headers.get("Range"):
            forward["Range"] = headers["Range"]
        request = urllib.request.Request(f"{stash.url}{path}", headers=forward)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                keep = {k: v for k, v in response.headers.items()
                        if k in ("Content-Type", "Content-Range", "Accept-Ranges")}
                return response.status, response.read(), keep
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), {"Content-Type": "text/plain"}


class Site(Protocol):
    def serving(self) -> contextlib.AbstractContextManager[StashWeb | None]: ...


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    """The HTTP handler of the web server in front of the current test's StashWeb (``site.serving()``): one
    server, so one origin, serves one test after another (Chromium then keeps its cache of Stash's app). A
    request between two tests (none current) is answered 503."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        @staticmethod
        def _path(web: StashWeb, raw: str) -> str | None:
            """The path under the base; None outside it, as a proxy would not pass it."""
            path = raw.split("?")[0]
            return "/" + path[len(web.base):] if path.startswith(web.base) else None

        def do_GET(self) -> None:
            with site.serving() as web:
                try:
                    if web is None:
                        self._send(503, b"between tests", {"Content-Type": "text/plain"})
                        return
                    path = self._path(web, self.path)
                    if path is None or path == "/graphql":  # no subscriptions: the UI shows a toast and goes on
                        self._send(404, b"not found", {"Content-Type": "text/plain"})
                        return
                    self._send(*web.get(path, self.headers))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        def do_POST(self) -> None:
            with site.serving() as web:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if web is None:
                    self._send(503, b"between tests", {"Content-Type": "text/plain"})
                    return
                if self._path(web, self.path) != "/graphql":
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                body = json.loads(raw)
                answer = [web.graphql(b) for b in body] if isinstance(body, list) else web.graphql(body)
                self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    return Handler
