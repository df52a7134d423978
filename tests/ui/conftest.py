"""The plugin's UI in headless Chromium, inside Stash's own web UI (its v0.30.1 build, served over the
doubles by tests/ui/stash_frontend.py): the plugin is loaded, mounted and clicked as in Stash, and each
test reads both the doubles and Stash's own panels. Skipped, with the reason, when Chromium is not
installed (``apt-get install -y --no-install-recommends chromium``) or the build is absent.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import CHROMIUM, Browser
from tests.ui.stash_frontend import StashWeb, stash_ui_build
from tests.ui.stash_frontend import handler as stash_handler


class _Site:
    """The StashWeb the worker's one web server answers for: the current test's. A request is served whole by
    the test that was current when it arrived, and a test's StashWeb goes only once its requests are answered,
    so a late request of one test's page never reaches the next test's doubles."""

    def __init__(self) -> None:
        self._web: StashWeb | None = None
        self._busy = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def serving(self) -> Iterator[StashWeb | None]:
        """The current StashWeb (None between tests) for the span of one request."""
        with self._cond:
            web = self._web
            self._busy += 1
        try:
            yield web
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def switch(self, web: StashWeb | None) -> None:
        """Serve ``web`` from now on, once the requests in flight are answered."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._busy == 0, timeout=30):
                raise AssertionError("the last test's page still has requests in flight after 30 s")
            self._web = web


@pytest.fixture(scope="session")
def _web_server() -> Iterator[tuple[str, _Site]]:
    """One server (one origin) for the worker's UI tests, so Chromium keeps its cache of Stash's app."""
    site = _Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), stash_handler(site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site
    server.shutdown()
    server.server_close()


@pytest.fixture
def web(world: TaskWorld, _web_server: tuple[str, _Site]) -> Iterator[StashWeb]:
    """Stash's own web UI (v0.30.1) over this test's doubles (tests/ui/stash_frontend.py); skipped, with the
    reason, where its build is absent."""
    build, why = stash_ui_build()
    if build is None:
        pytest.skip(why)
    url, site = _web_server
    web = StashWeb(world, build, url=url)
    site.switch(web)
    yield web
    site.switch(None)


@pytest.fixture(scope="session")
def _chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium per worker (its start and first load of Stash's app cost ~3 CPU-s)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    root = tmp_path_factory.mktemp("chromium")
    b = Browser(root / "profile", root / "chromium.log", width=1440, height=900)
    yield b
    b.close()


@pytest.fixture
def browser(_chromium: Browser, web: StashWeb) -> Iterator[Browser]:
    """The worker's Chromium, its one tab blank for this test, at 1440x900. It leaves its page before the
    test's ``web`` goes away (it depends on it), so no late request of the page finds no site."""
    _chromium.new_page()
    yield _chromium
    _chromium.leave()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every UI test on one xdist worker (group ``ui``): one Chromium starts and loads Stash's app once, not
    once per worker (about 10 CPU-s a run)."""
    for item in items:
        if item.nodeid.startswith("tests/ui/"):
            item.add_marker(pytest.mark.xdist_group("ui"))
