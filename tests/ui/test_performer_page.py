"""The performer page's faces (PluginApi.patch.after("PerformerPage")) in Stash's own frontend: the faces a
performer was learned from, each with where it came from, one removed and put back with Undo."""

from __future__ import annotations

from pathlib import Path

from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors
from tests.ui.stash_frontend import StashWeb

SECTION = ".cf-performer-faces"


def wait_idle(browser: Browser) -> str:
    browser.wait_for(f"document.querySelector('{SECTION}') && "
                     f"!document.querySelector('{SECTION}').classList.contains('cf-busy')")
    return str(browser.eval(f"document.querySelector('{SECTION} .cf-status').textContent"))


def test_the_performer_page_lists_her_faces_and_one_is_removed_then_put_back(
        world: TaskWorld, web: StashWeb, browser: Browser, tmp_path: Path) -> None:
    alice = enrol(world, "Alice", 1)
    image = world.stash.add_image(photo(1, size=220, width=800, height=600, seed=70))
    assert world.run("recognizeImagesHQ").error is None
    (subject,) = world.stash.performers[alice].aliases
    assert world.compreface.example_count(subject) == 2

    browser.goto(f"{web.url}/performers/{alice}")
    browser.wait_for(f"!!document.querySelector('{SECTION} .cf-performer-faces-button')")
    assert browser.eval("!!document.querySelector('#performer-page')")  # under Stash's own page
    browser.click(".cf-performer-faces-button")
    assert wait_idle(browser) == "2 faces learned"
    sources = browser.eval(f"[...document.querySelectorAll('{SECTION} .cf-face-card')].map(c => "
                           "c.querySelector('a.cf-item') ? c.querySelector('a.cf-item').pathname : 'own')")
    assert sorted(sources) == sorted([f"/images/{image}", "own"])
    browser.screenshot(tmp_path / "performer-faces.png")

    learned = browser.eval(f"[...document.querySelectorAll('{SECTION} .cf-face-card')]"
                           ".find(c => c.querySelector('a.cf-item')).dataset.example")
    browser.click(f'{SECTION} .cf-face-card[data-example="{learned}"] .cf-remove-face')
    assert wait_idle(browser).startswith("Face removed")
    assert world.compreface.example_count(subject) == 1
    assert browser.eval(f"document.querySelectorAll('{SECTION} .cf-face-card').length") == 1

    browser.click(f"{SECTION} .cf-undo")
    assert wait_idle(browser) == "Face put back"
    assert world.compreface.example_count(subject) == 2
    assert browser.eval(f"document.querySelectorAll('{SECTION} .cf-face-card').length") == 2
    assert page_errors(browser) == []
