"""A small typed client for Stash's GraphQL API and media routes.

It only speaks the protocol: documents come from ``graphql/*.graphql``, answers are checked once here
(``_check``, ``_download_once``), transport failures are mapped, retried and counted by ``transport``,
and media URLs from ``paths`` are rebased onto our own base URL because Stash builds them from
``external_host``, which the plugin may not be able to reach.

Reads and bulk ADD/REMOVE writes are idempotent and retried (5xx, resets, timeouts, a locked or busy
database); creates are retried only when Stash positively refused them (a locked database): after a
lost answer the caller looks the object up by name instead of creating it twice.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import AuthError, GraphQLError, MediaError, ServiceError, ServiceUnavailable
from ..media import MemoryBudget, Spool
from ..transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    Breaker,
    Service,
    Transport,
    body_kind,
    origin,
    protocol_error,
)
from .models import Gallery, Image, ItemKind, Performer, Scene

# Creates are not idempotent: sent again only on a definite refusal (see transport.refused).
_NOT_IDEMPOTENT = frozenset({"TagCreate", "PerformerCreate"})
_MEDIA_ROUTE = re.compile(r"/(?:image|performer|scene|gallery|studio|tag|group|movie)/.*$")
MAX_MEDIA_BYTES = 256 * 1024 * 1024
SETTING = "stashHostUrl"
STASH = Service("Stash", "stash", SETTING)
# Gateways in front of Stash; Stash itself answers 500 only when it cannot read the file.
_GATEWAY_STATUSES = frozenset({502, 503, 504})

_BULK_UPDATE = {ItemKind.IMAGE: "BulkImageUpdate", ItemKind.SCENE: "BulkSceneUpdate",
                ItemKind.GALLERY: "BulkGalleryUpdate"}


@cache
def document(name: str) -> str:
    return (files("stash_compreface.stash") / "graphql" / f"{name}.graphql").read_text(encoding="utf-8")


@cache
def is_mutation(name: str) -> bool:
    """Whether the operation writes: its document's first word (comments aside) is ``mutation``."""
    return re.match(r"mutation\b", re.sub(r"#[^\n]*", "", document(name)).lstrip()) is not None


@dataclass(frozen=True)
class StashConfig:
    """What the plugin reads of Stash's configuration in one query."""

    api_key: str  # Stash's own API key ("" when unset): keeps runs longer than the session cookie authenticated
    plugins_path: str  # Stash's plugins folder, where the command line looks for the plugin's state
    plugins: dict[str, Any]  # stored settings by plugin id
    database_path: str = ""  # Stash's database file: which library this is, the same for the plugin and the CLI


class StashClient:
    def __init__(
        self,
        base_url: str,
        *,
        session_cookie: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        verify_tls: bool = True,
        max_connections: int = 16,
        retries: int = DEFAULT_ATTEMPTS - 1,
        backoff_s: float | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        breaker: Breaker | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._cookie = session_cookie or None
        self.api_key = api_key or None
        self._cookie_lock = threading.Lock()
        self._transport = Transport(STASH, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                                    attempts=retries + 1, backoff_s=backoff_s, breaker=breaker, stop=stop,
                                    max_connections=max_connections, verify=verify_tls, follow_redirects=False,
                                    urls=(self.base_url,))

    @property
    def breaker(self) -> Breaker:
        return self._transport.breaker

    def close(self) -> None:
        self._transport.close()

    def resize_pool(self, max_connections: int) -> None:
        """Room for every worker thread once the settings (maxConcurrency) are known."""
        self._transport.resize(max_connections)

    def __enter__(self) -> StashClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        with self._cookie_lock:
            if self._cookie:
                headers["Cookie"] = f"session={self._cookie}"
        if self.api_key:
            headers["ApiKey"] = self.api_key
        return headers

    def auth_headers(self) -> dict[str, str]:
        """The session cookie or API key, for a media reader that opens Stash's URLs itself (video)."""
        return {k: v for k, v in self._headers().items() if k != "Accept"}

    def _remember_cookie(self, response: httpx.Response) -> None:
        """Stash re-issues the session cookie on each request; keep the fresh one for runs over an hour."""
        fresh = response.cookies.get("session")
        if fresh:
            with self._cookie_lock:
                self._cookie = fresh

    def set_api_key(self, api_key: str | None) -> None:
        self.api_key = api_key or None

    def execute(self, operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"operationName": operation, "query": document(operation), "variables": variables or {}}
        return self._transport.call(lambda: self._post(operation, body),
                                    idempotent=operation not in _NOT_IDEMPOTENT, write=is_mutation(operation))

    def _post(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._transport.request("POST", f"{self.base_url}/graphql", what=operation, json=body,
                                           headers=self._headers())
        self._remember_cookie(response)
        return self._check(operation, response)

    def _check(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"Stash refused {operation} (HTTP {status}): the session expired or the API key is wrong. "
                "Run the task again from Stash, or pass a valid --api-key",
                service="stash",
                setting="apiKey",
            )
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            raise ServiceUnavailable(
                f"Stash at {self.base_url} redirects its API to {origin(location) or 'elsewhere'} (HTTP {status}): "
                f"set {SETTING} (or --stash-url) to the address Stash answers on directly, not a login proxy",
                service="stash", setting=SETTING,
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if status >= 500 or (status != 200 and not errors):
            raise ServiceError(f"Stash answered {operation} with HTTP {status}", service="stash", status=status)
        if errors:
            messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                 for e in (errors if isinstance(errors, list) else [errors]))
            raise GraphQLError(f"Stash rejected {operation}: {messages}", service="stash", status=status)
        if payload is None:
            raise protocol_error(STASH, operation, f"{body_kind(response)} instead of JSON: check that {SETTING} "
                                 "points at Stash")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise protocol_error(STASH, operation, "no `data`")
        return payload["data"]

    # -- media -----------------------------------------------------------------------------------

    def rebase(self, url: str) -> str:
        """Keep Stash's route and query, drop its host (and proxy prefix): ours is reachable."""
        parts = urlsplit(url)
        match = _MEDIA_ROUTE.search(parts.path)
        route = match.group(0) if match else parts.path
        return f"{self.base_url}{route}" + (f"?{parts.query}" if parts.query else "")

    def download(self, url: str, *, what: str, budget: MemoryBudget | None = None) -> Spool:
        """Fetch a media file, streamed into a :class:`Spool` (in memory while small, from ``budget``; else a
        temporary file): the caller closes it (``with``). A redirect is Stash's login page, never an image."""
        target = self.rebase(url)
        return self._transport.call(lambda: self._download_once(target, what, budget))

    def _download_once(self, target: str, what: str, budget: MemoryBudget | None) -> Spool:
        with self._transport.stream("GET", target, what=f"the {what}", headers=self._headers()) as response:
            self._remember_cookie(response)
            status = response.status_code
            if 300 <= status < 400 or status in (401, 403):
                raise AuthError(
                    f"Stash sent its login page instead of the {what} (HTTP {status}): the session "
                    "expired or the API key is wrong",
                    service="stash",
                    setting="apiKey",
                )
            if status == 404:
                raise MediaError(f"Stash has no file for the {what} (HTTP 404)", service="stash")
            if status in _GATEWAY_STATUSES or status > 500:
                raise ServiceError(f"Stash could not serve the {what} (HTTP {status})",
                                   service="stash", status=status)
            if status == 500:
                # Stash's media routes answer 500 with the error text when the file cannot be read.
                reason = response.read()[:300].decode("utf-8", "replace").strip()
                raise MediaError(f"Stash could not read the {what} (HTTP 500{': ' + reason if reason else ''})",
                                 service="stash")
            if status != 200:
                raise MediaError(f"Stash answered HTTP {status} for the {what}", service="stash")
            if "text/html" in response.headers.get("content-type", "").lower():
                raise MediaError(f"Stash sent a web page instead of the {what}: the URL is not a media route",
                                 service="stash")
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > MAX_MEDIA_BYTES:
                raise MediaError(f"the {what} is {declared // 2**20} MiB, more than the "
                                 f"{MAX_MEDIA_BYTES // 2**20} MiB this plugin reads")
            spool = Spool(budget, expected=declared or None)
            try:
                for chunk in response.iter_bytes():
                    if spool.size + len(chunk) > MAX_MEDIA_BYTES:
                        raise MediaError(f"the {what} is larger than {MAX_MEDIA_BYTES // 2**20} MiB")
                    spool.write(chunk)
            except BaseException:
                spool.close()
                raise
            return spool.rewind()

    # -- operations ------------------------------------------------------------------------------

    def plugin_configuration(self, plugin_ids: Iterable[str]) -> StashConfig:
        """Stash's own API key, its plugins folder and the stored settings of the given plugins."""
        data = self.execute("PluginConfiguration", {"include": list(plugin_ids)})
        config = data.get("configuration") or {}
        general = config.get("general") or {}
        return StashConfig(api_key=str(general.get("apiKey") or ""), plugins_path=str(general.get("pluginsPath") or ""),
                           plugins=dict(config.get("plugins") or {}),
                           database_path=str(general.get("databasePath") or ""))

    def find_tag(self, name: str) -> str | None:
        data = self.execute("FindTagByName", {"name": name})
        for tag in (data.get("findTags") or {}).get("tags") or []:
            # EQUALS is a LIKE: case-insensitive, and "_"/"%" are wildcards. Confirm exactly.
            if str(tag.get("name", "")).strip().casefold() == name.strip().casefold():
                return str(tag["id"])
        return None

    def create_tag(self, name: str) -> str:
        data = self.execute("TagCreate", {"name": name})
        return str(data["tagCreate"]["id"])

    def find_images(self, filter: dict[str, Any], image_filter: dict[str, Any]) -> tuple[int, list[Image]]:
        data = self.execute("FindImages", {"filter": filter, "image_filter": image_filter})["findImages"]
        return int(data.get("count") or 0), [Image.from_graphql(i) for i in data.get("images") or []]

    def find_image(self, image_id: str) -> Image | None:
        data = self.execute("FindImage", {"id": image_id}).get("findImage")
        return Image.from_graphql(data) if data else None

    def update_items(
        self,
        kind: ItemKind,
        ids: Iterable[str],
        *,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        add_performers: Iterable[str] = (),
    ) -> None:
        """Bulk ADD/REMOVE only: whatever else the user set on the items is never touched."""
        self._bulk(_BULK_UPDATE[kind], ids, add_tags, remove_tags, add_performers)

    def _bulk(
        self,
        operation: str,
        ids: Iterable[str],
        add_tags: Iterable[str],
        remove_tags: Iterable[str],
        add_performers: Iterable[str] = (),
        add_aliases: Iterable[str] = (),
    ) -> None:
        id_list = sorted(set(ids), key=int)
        add, remove = sorted(set(add_tags)), sorted(set(remove_tags))
        performers, aliases = sorted(set(add_performers)), list(dict.fromkeys(add_aliases))
        if not id_list:
            return
        # One mutation carries one mode per relationship; a REMOVE together with an ADD of tags needs two.
        first: dict[str, Any] = {"ids": id_list}
        if add:
            first["tag_ids"] = {"ids": add, "mode": "ADD"}
        if performers:
            first["performer_ids"] = {"ids": performers, "mode": "ADD"}
        if aliases:
            first["alias_list"] = {"values": aliases, "mode": "ADD"}
        if len(first) > 1:
            self.execute(operation, {"input": first})
        if remove:
            self.execute(operation, {"input": {"ids": id_list, "tag_ids": {"ids": remove, "mode": "REMOVE"}}})

    def find_performers(
        self, filter: dict[str, Any], performer_filter: dict[str, Any] | None = None
    ) -> tuple[int, list[Performer]]:
        data = self.execute("FindPerformers", {"filter": filter, "performer_filter": performer_filter or {}})
        result = data["findPerformers"]
        return int(result.get("count") or 0), [Performer.from_graphql(p) for p in result.get("performers") or []]

    def find_performer(self, performer_id: str) -> Performer | None:
        data = self.execute("FindPerformer", {"id": performer_id}).get("findPerformer")
        return Performer.from_graphql(data) if data else None

    def find_performers_named(self, name: str) -> list[Performer]:
        """Performers whose name or one alias equals ``name`` (Stash compares case-insensitively)."""
        criterion = {"value": name, "modifier": "EQUALS"}
        _, by_name = self.find_performers({"per_page": 5}, {"name": criterion})
        _, by_alias = self.find_performers({"per_page": 5}, {"aliases": criterion})
        seen: dict[str, Performer] = {p.id: p for p in by_name + by_alias}
        return list(seen.values())

    def create_performer(self, name: str, *, image_url: str | None = None, gender: str | None = None) -> Performer:
        data: dict[str, Any] = {"name": name}
        if image_url:
            data["image"] = image_url
        if gender:
            data["gender"] = gender
        created = self.execute("PerformerCreate", {"input": data})["performerCreate"]
        return Performer(id=str(created["id"]), name=created.get("name") or name, aliases=(), image_url="",
                         tag_ids=frozenset())

    def update_performers(
        self,
        ids: Iterable[str],
        *,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        add_aliases: Iterable[str] = (),
    ) -> None:
        self._bulk("BulkPerformerUpdate", ids, add_tags, remove_tags, add_aliases=add_aliases)

    def find_gallery(self, gallery_id: str) -> Gallery | None:
        data = self.execute("FindGallery", {"id": gallery_id}).get("findGallery")
        return Gallery.from_graphql(data) if data else None

    def find_scenes(self, filter: dict[str, Any], scene_filter: dict[str, Any]) -> tuple[int, list[Scene]]:
        data = self.execute("FindScenes", {"filter": filter, "scene_filter": scene_filter})["findScenes"]
        return int(data.get("count") or 0), [Scene.from_graphql(s) for s in data.get("scenes") or []]

    def find_scene(self, scene_id: str) -> Scene | None:
        data = self.execute("FindScene", {"id": scene_id}).get("findScene")
        return Scene.from_graphql(data) if data else None

    # -- reverting the plugin's own writes (undoRun, rejectMatch) ----------------------------------

    def remove_from_items(self, kind: ItemKind, ids: Iterable[str], *, tags: Iterable[str] = (),
                          performers: Iterable[str] = ()) -> None:
        """Bulk REMOVE of exactly these tags and performers: the items' other links stay."""
        id_list = sorted(set(ids), key=int)
        inp: dict[str, Any] = {"ids": id_list}
        if tag_ids := sorted(set(tags)):
            inp["tag_ids"] = {"ids": tag_ids, "mode": "REMOVE"}
        if performer_ids := sorted(set(performers)):
            inp["performer_ids"] = {"ids": performer_ids, "mode": "REMOVE"}
        if id_list and len(inp) > 1:
            self.execute(_BULK_UPDATE[kind], {"input": inp})

    def remove_from_performers(self, ids: Iterable[str], *, tags: Iterable[str] = (),
                               aliases: Iterable[str] = ()) -> None:
        """Bulk REMOVE of these tags and aliases from the performers."""
        inp: dict[str, Any] = {"ids": sorted(set(ids), key=int)}
        if tag_ids := sorted(set(tags)):
            inp["tag_ids"] = {"ids": tag_ids, "mode": "REMOVE"}
        if alias_values := list(dict.fromkeys(aliases)):
            inp["alias_list"] = {"values": alias_values, "mode": "REMOVE"}
        if inp["ids"] and len(inp) > 1:
            self.execute("BulkPerformerUpdate", {"input": inp})

    def destroy_performer(self, performer_id: str) -> None:
        self.execute("PerformerDestroy", {"input": {"id": performer_id}})
