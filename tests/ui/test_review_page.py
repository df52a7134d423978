"""The review page (PluginApi.register.route) in headless Chromium: candidates are named and rejected, a
run is undone, and each click changes the library the way the user meant (checked in the doubles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks import review_data as review_data_mode
from stash_compreface.tasks.state import STATE_FILE, StateStore
from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors, pick_performer
from tests.ui.stash_frontend import StashWeb

# Stash's navbar renders its utility items twice (the collapsed menu and the button bar): the one shown.
NAV_ENTRY = "[...document.querySelectorAll('a.nav-utility')].filter(a => a.textContent === 'Faces')"

WIDTH, HEIGHT = 800, 600


def wait_idle(browser: Browser) -> str:
    browser.wait_for("document.querySelector('.cf-review') && "
                     "!document.querySelector('.cf-review').classList.contains('cf-busy')")
    return str(browser.eval("document.querySelector('.cf-review .cf-status').textContent"))


def review_data(web: StashWeb) -> dict[str, Any]:
    _mode, _args, output, error = next(op for op in reversed(web.operations) if op[0] == "reviewData")
    assert error is None, error
    return dict(output)


def row(subject: str) -> str:
    return f'.cf-candidate[data-subject="{subject}"]'


def test_name_reject_and_undo_from_the_review_page(world: TaskWorld, web: StashWeb, browser: Browser,
                                                   tmp_path: Path) -> None:
    world.configure(minFacesForNewPerformer=3)
    alice = enrol(world, "Alice", 1)
    wrong = world.stash.add_image(photo(1, size=190, width=WIDTH, height=HEIGHT, seed=9))
    twice = [world.stash.add_image(photo(42, size=180 + 10 * i, width=WIDTH, height=HEIGHT, seed=i))
             for i in range(2)]
    once = world.stash.add_image(photo(43, size=190, width=WIDTH, height=HEIGHT, seed=7))
    frank_image = world.stash.add_image(photo(44, size=190, width=WIDTH, height=HEIGHT, seed=8))
    frank = world.stash.add_performer("Frank")
    assert world.run("recognizeImagesHQ").error is None
    assert [p.name for p in world.stash.performers.values()] == ["Alice", "Frank"]  # candidates, no new performer
    assert world.stash.images[wrong].performer_ids == {alice}
    runs_before = world.run("reviewData").output["runs"]

    browser.goto(f"{web.url}/plugin/compreface/review")
    assert wait_idle(browser) == "3 candidates"
    # Stash's navbar gets a "Faces" entry leading here, beside its own utility items.
    assert browser.eval(f"{NAV_ENTRY}.map(a => a.getAttribute('href'))")[0] == "/plugin/compreface/review"
    data = review_data(web)
    assert data["runs"] == runs_before  # opening the page journals nothing
    by_item = {item: c["subject"] for c in data["candidates"] for item in c["items"]}
    carol, stranger, franks = (by_item[f"image:{i}"] for i in (twice[0], once, frank_image))
    by_seen = {c["seen"]: c for c in data["candidates"] if c["subject"] != franks}
    assert sorted(by_seen[2]["items"]) == sorted(f"image:{i}" for i in twice)
    assert by_seen[1]["items"] == [f"image:{once}"]
    assert browser.eval("document.querySelectorAll('.cf-candidate img.cf-crop').length") == 3  # face crops shown
    assert browser.eval(f"document.querySelector('{row(carol)} .cf-seen').textContent").startswith("seen in 2 items")
    assert sorted(browser.eval(f"[...document.querySelectorAll('{row(carol)} a.cf-item')].map(a => a.pathname)")
                  ) == sorted(f"/images/{i}" for i in twice)  # each sighting links to its page
    browser.screenshot(tmp_path / "1-review.png")

    # The run's automatic links are listed under it, each with "not this person".
    link = '.cf-run[data-run="1"] .cf-run-link'
    assert browser.eval(f"document.querySelector('{link}').textContent").startswith(f"image {wrong} → Alice")
    browser.click(f"{link} .cf-reject")
    assert wait_idle(browser) == f"Alice removed from image {wrong} and will not be linked to it again"
    assert world.stash.images[wrong].performer_ids == set()

    browser.type(f"{row(carol)} .cf-name", "Carol")
    browser.click(f"{row(carol)} .cf-name-button")
    assert wait_idle(browser).startswith(f"Carol created from {carol}: 2 images")
    (performer,) = [p for p in world.stash.performers.values() if p.name == "Carol"]
    assert performer.name == "Carol" and carol in performer.aliases
    assert all(world.stash.images[i].performer_ids == {performer.id} for i in twice)
    assert browser.eval(f"!!document.querySelector('{row(carol)}')") is False  # no longer a candidate

    browser.click(f"{row(stranger)} .cf-reject-candidate")
    assert wait_idle(browser) == f"{stranger} rejected: it never becomes a performer"
    assert stranger not in world.compreface.subjects

    pick_performer(browser, row(franks), "fra", "Frank")
    assert wait_idle(browser) == f"{franks} merged into Frank"
    assert franks in world.stash.performers[frank].aliases
    assert world.stash.images[frank_image].performer_ids == {frank}
    assert browser.eval("document.querySelectorAll('.cf-candidate').length") == 0
    assert world.stash.images[once].performer_ids == set()

    name_run = next(r for r in review_data(web)["runs"] if r["mode"] == "nameCandidate")
    assert name_run["writes"] > 0 and not name_run["undone"]
    browser.screenshot(tmp_path / "2-named-and-rejected.png")
    browser.click(f'.cf-run[data-run="{name_run["runId"]}"] .cf-undo')
    assert wait_idle(browser) == f"Run {name_run['runId']} undone"
    assert all(world.stash.images[i].performer_ids == set() for i in twice)  # the run's links are gone
    assert browser.eval(f"document.querySelector('.cf-run[data-run=\"{name_run['runId']}\"]').textContent"
                        ).endswith("undone")
    assert browser.eval(f"!!document.querySelector('{row(carol)}')") is True  # a candidate to review again
    browser.screenshot(tmp_path / "3-undone.png")
    assert page_errors(browser) == []


def test_behind_a_reverse_proxy_path_prefix_links_keep_the_prefix(world: TaskWorld, web: StashWeb,
                                                                  browser: Browser) -> None:
    seen = world.stash.add_image(photo(42, size=190, width=WIDTH, height=HEIGHT, seed=1))
    assert world.run("recognizeImagesHQ").error is None
    web.base = "/stash/"  # Stash behind a reverse proxy: its <base href>, and nothing served outside it
    browser.goto(f"{web.url}/stash/plugin/compreface/review")
    assert wait_idle(browser) == "1 candidate"
    assert browser.eval(f"{NAV_ENTRY}.map(a => a.pathname)")[0] == "/stash/plugin/compreface/review"
    assert browser.eval("document.querySelector('a.cf-item').pathname") == f"/stash/images/{seen}"
    assert page_errors(browser) == []


def test_a_long_candidate_list_shows_the_most_seen_and_says_how_many_more(
        world: TaskWorld, web: StashWeb, browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(world.state_dir / STATE_FILE)
    for n in range(3):  # Person 2 is seen most, Person 0 least
        for i in range(n + 1):
            store.candidates.record_sighting(f"Person {n} LONGLIST", ItemRef(ItemKind.IMAGE, str(100 + i)))
    store.close()
    monkeypatch.setattr(review_data_mode, "CANDIDATES_SHOWN", 2)
    browser.goto(f"{web.url}/plugin/compreface/review")
    assert wait_idle(browser) == "3 candidates"
    assert browser.eval("[...document.querySelectorAll('.cf-candidate')].map(c => c.dataset.subject)") == [
        "Person 2 LONGLIST", "Person 1 LONGLIST"]
    assert browser.eval("document.querySelector('.cf-candidates .cf-more').textContent") == "and 1 more"
