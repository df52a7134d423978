"""The plugin's UI in headless Chromium, against a page shaped like Stash's image page.

A small HTTP server plays Stash's web server: it serves the plugin's ui files where Stash serves them
(``/plugin/compreface/javascript`` and ``/css``), an image page with a ``window.PluginApi`` stand-in
(shaped on Stash's pluginApi.tsx: ``Event`` dispatching ``stash:location``, ``register``, ``patch``), the
image file, and ``/graphql``: ``runPluginOperation`` runs the real plugin mode in-process (``tasks.run``
against the Stash and CompreFace doubles, as tests/tasks do), every other document goes to the Stash
double. Skipped, with the reason, when Chromium is not installed
(``apt-get install -y --no-install-recommends chromium``).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.tasks.conftest import COOKIE, TaskWorld
from tests.ui.cdp import CHROMIUM, Browser

UI_DIR = Path(__file__).resolve().parents[2] / "plugin" / "ui"

PLUGIN_API_STANDIN = """
// Shaped on Stash's ui/v2.5/src/pluginApi.tsx; only what a plain-DOM plugin may touch.
window.PluginApi = {
  React: undefined, ReactDOM: undefined, GQL: {}, libraries: {}, components: {}, hooks: {},
  utils: { StashService: {}, loadComponents: async () => {} },
  register: {
    routes: {},
    route(path, component) { this.routes[path] = component; },  // Stash's <Route path element={component}>
    component(name, component) {},
  },
  patch: {
    befores: {},  // Stash's PatchComponent calls these before rendering the component
    before(component, fn) { (this.befores[component] = this.befores[component] || []).push(fn); },
    instead() {}, after() {},
  },
  Event: new EventTarget(),
};
"""


# Stash's React, reduced to what the plugin's route component and navbar entry need, rendering straight to
# DOM: the page "renders" the registered route like Stash's router would, after the plugin's script ran,
# and the navbar's utility items through the patches registered for them (Stash's PatchComponent).
MINI_REACT = """
window.PluginApi.React = (() => {
  const effects = [];
  const Fragment = Symbol("Fragment");
  return {
    Fragment,
    useRef: (value) => ({ current: value }),
    useEffect: (fn) => { effects.push(fn); },
    createElement(tag, props, ...children) {
      const node = tag === Fragment ? document.createDocumentFragment() : document.createElement(tag);
      props = props || {};
      if (props.className) node.className = props.className;
      for (const key of ["href", "title", "type"]) if (props[key]) node.setAttribute(key, props[key]);
      if (props.ref) props.ref.current = node;
      for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
      return node;
    },
    _flush() { effects.splice(0).forEach((fn) => fn()); },
  };
})();
"""


def stash_page(title: str, style: str, render: str, *, base: str, react: bool = False) -> str:
    """A page as Stash serves it: the plugin's css and script loaded with the ``PluginApi`` stand-in; then,
    after the script ran, the page rendered (``render``, JavaScript) and ``stash:location`` dispatched, in
    that order (App.tsx). Stash rewrites ``<base href>`` to its path prefix, and its router's location
    (what ``stash:location`` carries) is relative to it."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><base href="{base}">
<style>
  body {{ margin: 0; font-family: sans-serif; background: #202b33; color: #f5f8fa; }}
  .btn {{ padding: 4px 10px; }}
{style}
</style>
<link rel="stylesheet" href="plugin/compreface/css">
<script>{PLUGIN_API_STANDIN}{MINI_REACT if react else ""}</script>
<script src="plugin/compreface/javascript"></script>
</head><body><div id="root"></div>
<script>
  setTimeout(() => {{
{render}
    const route = "/" + window.location.pathname.slice({len(base)});
    PluginApi.Event.dispatchEvent(new CustomEvent("stash:location",
      {{ detail: {{ data: {{ location: {{ pathname: route }} }} }} }}));
  }}, 50);
</script>
</body></html>
"""


def image_page(image_id: str, base: str) -> str:
    """Image.tsx and Images/styles.scss: a details column (.image-tabs with .image-toolbar) beside a padded,
    position: relative .image-container whose img is object-fit: contain."""
    style = """  .image-page { display: flex; padding: 16px; gap: 16px; }
  .image-tabs { width: 360px; }
  .image-container { position: relative; display: flex; width: 500px; height: 500px; padding: 0 15px;
                     background: #10161a; }
  .image-container img { width: 100%; height: 100%; object-fit: contain; }"""
    render = f"""    document.getElementById("root").innerHTML =
      '<div class="image-page"><div class="image-tabs"><h3>Image {image_id}</h3>' +
      '<div class="image-toolbar"><button class="btn">Organized</button></div><p>Details…</p></div>' +
      '<div class="image-container">' +
      '<img class="m-sm-auto no-gutter image-image" alt="" src="image/{image_id}/image"></div></div>';"""
    return stash_page(f"Image {image_id}", style, render, base=base)


def scene_page(scene_id: str, base: str) -> str:
    """Scene.tsx: the details column (.scene-tabs with .scene-toolbar) beside the player, a video.js around
    a <video>."""
    style = """  .scene-page { display: flex; padding: 16px; gap: 16px; }
  .scene-tabs { width: 460px; }
  .scene-player-container { width: 480px; height: 270px; background: #000; }"""
    render = f"""    document.getElementById("root").innerHTML =
      '<div class="scene-page"><div class="scene-tabs"><div class="scene-header-container"><h3>Scene {scene_id}' +
      '</h3></div><div class="scene-toolbar"><span class="scene-toolbar-group"><button class="btn">Edit</button>' +
      '</span></div><p>Details…</p></div>' +
      '<div class="scene-player-container"><div class="video-js"><video class="vjs-tech"></video></div></div></div>';"""
    return stash_page(f"Scene {scene_id}", style, render, base=base)


def review_page(base: str) -> str:
    """The review route rendered as Stash's router renders it, under a navbar whose utility items go through
    the patches registered for them (MainNavbar.tsx's PatchComponent)."""
    render = """    let nav = [{ children: "Settings" }];
    for (const fn of PluginApi.patch.befores["MainNavBar.UtilityItems"] || []) nav = fn(...nav);
    document.getElementById("root").append(PluginApi.React.createElement("nav", { className: "navbar" },
                                                                         nav[0].children));
    const component = PluginApi.register.routes["/plugin/compreface/review"];
    document.getElementById("root").append(component ? component() : "no route registered");
    PluginApi.React._flush();"""
    return stash_page("Compreface review", "", render, base=base, react=True)


@dataclass
class StashWeb:
    """The stand-in web server; ``operations`` lists every (mode, args, output, error) the UI ran. ``base``:
    Stash's path prefix (behind a reverse proxy, "/stash/" say); nothing outside it is served."""

    world: TaskWorld
    url: str = ""
    base: str = "/"
    operations: list[tuple[str, dict[str, Any], Any, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def graphql(self, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        if "runPluginOperation" in query:
            assert 'plugin_id: "compreface"' in query, query
            args = {k: v for k, v in (variables.get("args") or {}).items() if k != "mode"}
            mode = variables["args"]["mode"]
            with self.lock:
                run = self.world.run(mode, **args)
            self.operations.append((mode, args, run.output, run.error))
            if run.error is not None:
                return {"errors": [{"message": run.error, "path": ["runPluginOperation"]}],
                        "data": {"runPluginOperation": None}}
            return {"data": {"runPluginOperation": run.output}}
        request = urllib.request.Request(f"{self.world.stash.url}/graphql", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Cookie": f"session={COOKIE}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.load(response)
            return answer


def _handler(web: StashWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> tuple[str, str]:
            """The base and the path under it; "" for a path outside the base, as a proxy would not pass it."""
            path = self.path.split("?")[0]
            base = web.base
            return base, (path[len(base) - 1:] if path.startswith(base) else "")

        def do_GET(self) -> None:
            base, path = self._route()
            if match := re.fullmatch(r"/images/(\d+)", path):
                page = image_page(match.group(1), base)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif match := re.fullmatch(r"/scenes/(\d+)", path):
                page = scene_page(match.group(1), base)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path == "/plugin/compreface/review":
                page = review_page(base)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path == "/plugin/compreface/javascript":
                self._send(200, (UI_DIR / "compreface.js").read_bytes(), "text/javascript; charset=utf-8")
            elif path == "/plugin/compreface/css":
                self._send(200, (UI_DIR / "compreface.css").read_bytes(), "text/css; charset=utf-8")
            elif match := re.fullmatch(r"/image/(\d+)/image", path):
                image = web.world.stash.images[match.group(1)]
                assert image.data is not None
                self._send(200, image.data, image.content_type)
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            if self._route()[1] != "/graphql":
                self._send(404, b"not found", "text/plain")
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._send(200, json.dumps(web.graphql(body)).encode(), "application/json")

    return Handler


@pytest.fixture
def web(world: TaskWorld) -> Iterator[StashWeb]:
    web = StashWeb(world)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(web))
    web.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield web
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    b = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    yield b
    b.close()
