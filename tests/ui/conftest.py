"""The plugin's UI in headless Chromium, inside Stash's own web UI (its v0.30.1 build, served over the
doubles by tests/ui/stash_frontend.py): the plugin is loaded, mounted and clicked as in Stash, and each
test reads both the doubles and Stash's own panels. Skipped, with the reason, when Chromium is not
installed (``apt-get install -y --no-install-recommends chromium``) or the build is absent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import CHROMIUM, Browser
from tests.ui.stash_frontend import StashWeb, stash_ui_build
from tests.ui.stash_frontend import handler as stash_handler


@pytest.fixture
def web(world: TaskWorld) -> Iterator[StashWeb]:
    """Stash's own web UI (v0.30.1) over the doubles (tests/ui/stash_frontend.py); skipped, with the reason,
    where its build is absent."""
    build, why = stash_ui_build()
    if build is None:
        pytest.skip(why)
    web = StashWeb(world, build)
    server = ThreadingHTTPServer(("127.0.0.1", 0), stash_handler(web))
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
    b = Browser(tmp_path / "profile", tmp_path / "chromium.log", width=1440, height=900)
    yield b
    b.close()


# The test server refuses the subscription websocket (nothing here pushes job updates): Stash's UI says so
# in a toast and goes on, as it does with a proxy that drops websockets.
_NO_WEBSOCKET = "Unable to make websocket connection"


def page_errors(browser: Browser) -> list[str]:
    """Uncaught exceptions and console errors of the page, but the refused websocket's."""
    return [e for e in browser.errors() if not e.startswith(_NO_WEBSOCKET)]


def stash_panel(browser: Browser, selector: str) -> str:
    """The names Stash's own panel shows (``.image-performers``, ``.scene-performers``…), comma-separated."""
    return str(browser.eval(f"[...document.querySelectorAll({json.dumps(selector)})]"
                            ".map(e => e.textContent).join(',')"))


def pick_performer(browser: Browser, scope: str, typed: str, name: str) -> None:
    """Picks ``name`` in the PerformerSelect (Stash's own, through PluginApi.components) under ``scope``, typing
    ``typed`` as a user would; its menu opens in a portal on the page's body."""
    browser.type(f"{scope} .performer-select input", typed)
    option = ("[...document.querySelectorAll('.react-select__option')]"
              f".find(o => o.textContent.trim() === {json.dumps(name)})")
    browser.wait_for(f"!!{option}")
    browser.eval(f"{option}.classList.add('cf-test-option')")
    browser.click(".cf-test-option")
