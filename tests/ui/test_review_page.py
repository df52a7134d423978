"""The review page (PluginApi.register.route) in Stash's own frontend: a grid of face cards paged from the
server, bulk Name / Merge into a performer / Merge together / Reject, each undone, and after each click
Stash's own image page shows the truth without a reload; the page works with the face service down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks.state import STATE_FILE, StateStore
from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors, pick_performer, stash_panel
from tests.ui.stash_frontend import StashWeb

# Stash's navbar renders its utility items twice (the collapsed menu and the button bar): the one shown.
NAV_ENTRY = "[...document.querySelectorAll('a.nav-utility')].filter(a => a.textContent === 'Faces')"
PERFORMERS = ".image-performers .performer-name"  # Stash's own panel of the image's performers

WIDTH, HEIGHT = 800, 600


def wait_idle(browser: Browser) -> str:
    browser.wait_for("document.querySelector('.cf-review') && "
                     "!document.querySelector('.cf-review').classList.contains('cf-busy')")
    return str(browser.eval("document.querySelector('.cf-review .cf-status').textContent"))


def review_data(web: StashWeb) -> dict[str, Any]:
    _mode, _args, output, error = next(op for op in reversed(web.operations) if op[0] == "reviewData")
    assert error is None, error
    return dict(output)


def card(subject: str) -> str:
    return f'.cf-card[data-subject="{subject}"]'


def cards(browser: Browser) -> list[str]:
    return list(browser.eval("[...document.querySelectorAll('.cf-card')].map(c => c.dataset.subject)"))


def select(browser: Browser, *subjects: str) -> None:
    for subject in subjects:
        browser.click(f"{card(subject)} .cf-select")


def run_of(web: StashWeb, mode: str) -> int:
    output = next(op[2] for op in reversed(web.operations) if op[0] == mode)
    return int(output["runId"])


def undo(browser: Browser, run_id: int) -> None:
    browser.click(f'.cf-run[data-run="{run_id}"] .cf-undo')
    assert wait_idle(browser) == f"Run {run_id} undone"


def stash_image_page_shows(browser: Browser, expected: str) -> None:
    """Back (in the app, no reload) to the image page Stash showed before: its own performers panel reads the
    truth, not what its cache held; then forward to the review page again."""
    browser.eval("history.back()")
    browser.wait_for("!!document.querySelector('.image-tabs')")
    browser.wait_for(f"[...document.querySelectorAll({json.dumps(PERFORMERS)})].map(e => e.textContent).join(',')"
                     f" === {json.dumps(expected)}", timeout=10)
    assert stash_panel(browser, PERFORMERS) == expected
    browser.eval("history.forward()")
    wait_idle(browser)


def test_bulk_name_merge_and_reject_each_undone_and_stash_shows_the_truth(world: TaskWorld, web: StashWeb,
                                                                         browser: Browser, tmp_path: Path) -> None:
    world.configure(minFacesForNewPerformer=5)
    alice = enrol(world, "Alice", 1)
    wrong = world.stash.add_image(photo(1, size=190, width=WIDTH, height=HEIGHT, seed=9))
    twice = [world.stash.add_image(photo(42, size=180 + 10 * i, width=WIDTH, height=HEIGHT, seed=i))
             for i in range(2)]
    once = {person: world.stash.add_image(photo(person, size=190, width=WIDTH, height=HEIGHT, seed=person))
            for person in (43, 44, 45)}
    frank = world.stash.add_performer("Frank")
    assert world.run("recognizeImagesHQ").error is None
    assert world.stash.images[wrong].performer_ids == {alice}
    runs_before = world.run("reviewData").output["runs"]

    # Stash shows the image page first (its cache now holds the image without performers), then, inside the
    # app, the review page.
    browser.goto(f"{web.url}/images/{twice[0]}")
    browser.wait_for("!!document.querySelector('.cf-faces-button')")
    assert stash_panel(browser, PERFORMERS) == ""
    browser.eval("window.cfNoReload = true")
    browser.click("a.nav-utility .cf-nav")
    assert wait_idle(browser) == "4 candidates"
    assert browser.eval(f"{NAV_ENTRY}.map(a => a.getAttribute('href'))")[0] == "/plugin/compreface/review"
    data = review_data(web)
    assert data["runs"] == runs_before  # opening the page journals nothing
    by_item = {item: c["subject"] for c in data["candidates"] for item in c["items"]}
    carol, p43, p44, p45 = (by_item[f"image:{i}"] for i in (twice[0], once[43], once[44], once[45]))
    shown = cards(browser)
    assert shown[0] == carol  # the most seen first
    assert browser.eval(f"document.querySelector('{card(carol)} .cf-seen').textContent").startswith(
        "seen in 2 items")
    # Each card's face comes once it is on screen, in one call for the cards shown.
    browser.wait_for("document.querySelectorAll('.cf-card img.cf-crop').length === 4")
    faces_asked = [op[1]["subjects"] for op in web.operations if op[0] == "candidateFaces"]
    assert sorted(s for asked in faces_asked for s in asked) == sorted([carol, p43, p44, p45])

    # The run's automatic links are listed under it, each with "not this person".
    link = '.cf-run[data-run="1"] .cf-run-link'
    assert browser.eval(f"document.querySelector('{link}').textContent").startswith(f"image {wrong} → Alice")
    browser.click(f"{link} .cf-reject")
    assert wait_idle(browser) == f"Alice removed from image {wrong} and will not be linked to it again"
    assert world.stash.images[wrong].performer_ids == set()

    # Bulk Name: two cards are one new performer; a name typed on another card stays.
    browser.type(f"{card(p45)} .cf-name", "Typed but not sent")
    select(browser, carol, p44)
    assert browser.eval("document.querySelector('.cf-selected-count').textContent") == "2 selected"
    browser.type(".cf-bulk-name", "Carol")
    reads = [op[0] for op in web.operations].count("reviewData")
    browser.click(".cf-bulk-name-button")
    assert wait_idle(browser) == "Carol created from 2 candidates: 3 images, 0 scenes linked"
    (performer,) = [p for p in world.stash.performers.values() if p.name == "Carol"]
    assert sorted(performer.aliases) == sorted([carol, p44])
    assert all(world.stash.images[i].performer_ids == {performer.id} for i in (*twice, once[44]))
    assert cards(browser) == [c for c in shown if c in (p43, p45)]  # only the named cards left, as they were
    assert browser.eval(f"document.querySelector('{card(p45)} .cf-name').value") == "Typed but not sent"
    assert [op[0] for op in web.operations].count("reviewData") == reads  # only its cards changed: no reload
    browser.screenshot(tmp_path / "1-named.png")
    stash_image_page_shows(browser, "Carol")
    undo(browser, run_of(web, "nameCandidate"))
    assert world.stash.performer_by_name("Carol") is None
    assert all(world.stash.images[i].performer_ids == set() for i in twice)
    assert sorted(cards(browser)) == sorted([carol, p43, p44, p45])
    stash_image_page_shows(browser, "")

    # Merge into a performer (Stash's PerformerSelect in the bulk bar).
    select(browser, p43)
    pick_performer(browser, ".cf-bulk-bar", "fra", "Frank")
    assert wait_idle(browser) == f"{p43} merged into Frank"
    assert p43 in world.stash.performers[frank].aliases
    assert world.stash.images[once[43]].performer_ids == {frank}
    assert p43 not in cards(browser)
    undo(browser, run_of(web, "mergeIntoPerformer"))
    assert p43 not in world.stash.performers[frank].aliases and world.stash.images[once[43]].performer_ids == set()
    assert p43 in cards(browser)

    # Merge together: two unknown people are one; the keeper's card says where both were seen.
    select(browser, p43, p45)
    browser.click(".cf-merge-together")
    assert wait_idle(browser) == f"{p45} merged into {p43}: seen in 2 items"
    assert p45 not in cards(browser) and p45 not in world.compreface.subject_names()
    assert browser.eval(f"document.querySelector('{card(p43)} .cf-seen').textContent").startswith(
        "seen in 2 items")
    undo(browser, run_of(web, "mergeCandidates"))
    assert p45 in world.compreface.subject_names() and p45 in cards(browser)
    assert browser.eval(f"document.querySelector('{card(p43)} .cf-seen').textContent").startswith(
        "seen in 1 item")

    # Reject keeps the stranger's face, retired; Undo brings the card back.
    select(browser, p44)
    browser.click(".cf-bulk-reject")
    assert wait_idle(browser).startswith(f"{p44} rejected: it never becomes a performer")
    assert p44 not in cards(browser) and p44 in world.compreface.subject_names()
    undo(browser, run_of(web, "rejectCandidate"))
    assert p44 in cards(browser)
    assert world.run("nameCandidate", subject=p44, name="Dora").error is None  # a candidate again
    assert browser.eval("window.cfNoReload") is True
    assert page_errors(browser) == []


def test_a_large_review_is_paged_from_the_server_and_works_with_the_face_service_down(
        world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    store = StateStore(world.state_dir / STATE_FILE)
    for n in range(100):  # Person 99 is seen most
        store.candidates.record_sighting(f"Person {n} LONG", ItemRef(ItemKind.IMAGE, str(1000 + n)))
        if n >= 50:
            store.candidates.record_sighting(f"Person {n} LONG", ItemRef(ItemKind.IMAGE, str(2000 + n)))
    store.close()
    world.configure(comprefaceUrl="http://127.0.0.1:9")  # CompreFace is down
    browser.goto(f"{web.url}/plugin/compreface/review")
    assert wait_idle(browser) == "100 candidates, 1\u201340 shown"
    assert len(cards(browser)) == 40 and cards(browser)[0] == "Person 50 LONG"
    assert all(len(op[1]["subjects"]) <= 40 for op in web.operations if op[0] == "candidateFaces")
    browser.wait_for("!document.querySelector('.cf-banner').hidden")
    banner = browser.eval("document.querySelector('.cf-banner').textContent")
    assert "comprefaceUrl" in banner and "Naming, merging and rejecting still work" in banner
    assert browser.eval("document.querySelector('.cf-banner .cf-settings-link').pathname") == "/settings"
    assert browser.eval("document.querySelectorAll('.cf-card .cf-no-crop').length") == 40  # placeholders

    browser.click(".cf-next")
    assert wait_idle(browser) == "100 candidates, 41\u201380 shown"
    assert cards(browser)[0] == "Person 90 LONG" and cards(browser)[-1] == "Person 29 LONG"
    browser.click(f"{card('Person 29 LONG')} .cf-reject-candidate")  # the local state alone: works offline
    assert wait_idle(browser).startswith("Person 29 LONG rejected")
    assert "Person 29 LONG" not in cards(browser)
    assert browser.eval("document.querySelector('.cf-page').textContent") == "Page 2 of 3"

    world.configure()  # CompreFace is back: Retry asks again, the banner goes
    browser.click(".cf-retry")
    browser.wait_for("document.querySelector('.cf-banner').hidden")
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


def test_enter_in_a_cards_name_field_names_it(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    world.configure(minFacesForNewPerformer=3)
    seen = [world.stash.add_image(photo(42, size=180 + 10 * i, width=WIDTH, height=HEIGHT, seed=i)) for i in range(2)]
    assert world.run("recognizeImagesHQ").error is None
    browser.goto(f"{web.url}/plugin/compreface/review")
    assert wait_idle(browser) == "1 candidate"
    (subject,) = cards(browser)
    browser.type(f"{card(subject)} .cf-name", "Carol")
    browser.key("Enter")  # as on the image page: Enter in Name does what the card's Name button does
    assert wait_idle(browser) == f"Carol created from {subject}: 2 images, 0 scenes linked"
    assert [op[0] for op in web.operations].count("nameCandidate") == 1
    (carol,) = world.stash.performers.values()
    assert all(world.stash.images[i].performer_ids == {carol.id} for i in seen) and cards(browser) == []
    assert page_errors(browser) == []
