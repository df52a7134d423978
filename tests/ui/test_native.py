"""The plugin's UI as part of Stash (issue 17, item 7), in Stash's own frontend: faces numbered in reading
order with labels that stay inside their boxes, the keyboard (Enter creates, ↑/↓ move, Y confirms), busy
means disabled (a second Enter starts nothing), the navbar entry once, links that stay in the app, AA
contrast, the control on images shown as <video>, and a mount that waits for a slow page."""

from __future__ import annotations

import json
from pathlib import Path

from testdoubles.synthetic import SyntheticFace, draw_image
from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors
from tests.ui.stash_frontend import StashWeb
from tests.ui.test_image_page import drawn_boxes, open_faces, status, wait_idle, wait_stash_shows

GROUP_W, GROUP_H = 900, 700


def rects(browser: Browser, selector: str) -> list[dict[str, float]]:
    return list(browser.eval(f"[...document.querySelectorAll({json.dumps(selector)})].map(e => {{"
                             " const r = e.getBoundingClientRect();"
                             " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })"))


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_faces_are_numbered_in_reading_order_and_labels_never_overlap(world: TaskWorld, web: StashWeb,
                                                                        browser: Browser) -> None:
    # Two lines of two faces, the larger ones below (detection lists the larger first).
    faces = [SyntheticFace(11, 60, 40, 110), SyntheticFace(12, 480, 50, 120),
             SyntheticFace(13, 70, 360, 170), SyntheticFace(14, 470, 370, 150)]
    group = world.stash.add_image(draw_image(GROUP_W, GROUP_H, faces, seed=2))
    output = open_faces(browser, web, group, count=4)
    by_index = {f["index"]: f["box"] for f in output["faces"]}
    boxes = drawn_boxes(browser)
    reading = sorted(boxes, key=lambda b: (by_index[b["index"]]["y_min"] > GROUP_H / 2, by_index[b["index"]]["x_min"]))
    assert [b["number"] for b in reading] == ["1", "2", "3", "4"]
    assert [b["label"].split(".")[0] for b in reading] == ["1", "2", "3", "4"]  # full label: hover and focus
    # The rows are listed in the same order.
    rows = browser.eval("[...document.querySelectorAll('.cf-face')].map(r => +r.dataset.index)")
    assert rows == [b["index"] for b in reading]
    labels = rects(browser, ".cf-box .cf-label")
    overlay = rects(browser, ".cf-overlay")[0]
    assert len(labels) == 4 and not any(overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1:])
    assert all(overlay["left"] <= r["left"] and r["right"] <= overlay["right"] and overlay["top"] <= r["top"]
               and r["bottom"] <= overlay["bottom"] for r in labels)
    assert page_errors(browser) == []


def test_keyboard_moves_confirms_and_creates_and_busy_means_disabled(world: TaskWorld, web: StashWeb,
                                                                     browser: Browser) -> None:
    alice = enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, 2, size=200, width=800, height=600, seed=3))
    open_faces(browser, web, image_id, count=2)
    browser.eval("document.querySelector('.cf-face[data-index=\"0\"]').focus()")
    browser.key("y")  # Y on the row: Confirm
    assert wait_idle(browser) == "Alice linked to face 1"
    assert world.stash.images[image_id].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")
    assert browser.eval("document.activeElement.dataset.index") == "0"  # focus stays on the row
    browser.key("ArrowDown")
    assert browser.eval("document.activeElement.dataset.index") == "1"
    assert browser.eval("document.querySelector('.cf-box.cf-current').dataset.index") == "1"  # its box stands out

    operations = len(web.operations)
    name = '.cf-face[data-index="1"] .cf-name'
    browser.type(name, "Bea")
    browser.key("Enter")
    browser.key("Enter")  # while "Creating Bea…" runs: the field is disabled, nothing starts
    assert browser.eval(f"document.querySelector('{name}') === null || document.querySelector('{name}').disabled "
                        "|| !document.querySelector('.cf-panel').classList.contains('cf-busy')")
    assert wait_idle(browser) == "Bea linked to face 2"
    assert [op[0] for op in web.operations[operations:]] == ["nameFace"]
    wait_stash_shows(browser, "Alice,Bea")
    assert page_errors(browser) == []


def test_the_navbar_entry_is_there_once_and_links_stay_in_the_app(world: TaskWorld, web: StashWeb,
                                                                  browser: Browser) -> None:
    world.configure(minFacesForNewPerformer=3)
    seen = [world.stash.add_image(photo(42, size=180 + 10 * i, width=800, height=600, seed=i)) for i in range(2)]
    assert world.run("recognizeImagesHQ").error is None
    browser.goto(f"{web.url}/images/{seen[0]}")
    browser.wait_for("!!document.querySelector('.cf-faces-button')")
    assert browser.eval("document.querySelectorAll('a.nav-utility .cf-nav').length") == 1
    browser.eval("window.cfNoReload = true")
    browser.click("a.nav-utility .cf-nav")
    browser.wait_for("!!document.querySelector('.cf-card .cf-item')")
    browser.click(".cf-card .cf-item")  # "image N" where the candidate was seen
    browser.wait_for("!!document.querySelector('.cf-faces-button')")
    assert browser.eval("location.pathname").startswith("/images/")
    assert browser.eval("window.cfNoReload") is True  # navigated inside the app, not reloaded
    assert page_errors(browser) == []


def contrast(browser: Browser, selector: str) -> float:
    """WCAG contrast ratio of an element's text colour on its background colour."""
    return float(browser.eval(f"""(() => {{
        const s = getComputedStyle(document.querySelector({json.dumps(selector)}));
        const lum = (c) => {{
            const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => v / 255)
                .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        }};
        const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    }})()"""))


def test_undo_and_the_box_labels_meet_wcag_aa_contrast(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, size=200, width=800, height=600, seed=4))
    assert world.run("identifyImagesAll").error is None  # a run to undo
    open_faces(browser, web, image_id, count=1)
    assert contrast(browser, ".cf-box .cf-label") >= 4.5
    browser.goto(f"{web.url}/plugin/compreface/review")
    browser.wait_for("!!document.querySelector('.cf-undo')")
    assert contrast(browser, ".cf-undo") >= 4.5


def test_an_image_shown_as_video_gets_the_control(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    clip = world.stash.add_image(b"\x00\x00\x00\x18ftypmp42", video=True)
    browser.goto(f"{web.url}/images/{clip}")
    browser.wait_for("!!document.querySelector('.image-container video') && "
                     "!!document.querySelector('.cf-faces-button')", timeout=20)


def test_the_control_mounts_however_long_the_page_takes(world: TaskWorld, web: StashWeb, browser: Browser,
                                                         tmp_path: Path) -> None:
    image_id = world.stash.add_image(photo(1, size=200, width=800, height=600, seed=4))
    web.delays["FindImage"] = 12  # a slow Stash: the page renders after 12 s
    browser.goto(f"{web.url}/images/{image_id}")
    browser.wait_for("!!document.querySelector('.image-container img')", timeout=40)
    browser.wait_for("!!document.querySelector('.cf-faces-button')", timeout=5)
    assert status(browser) == ""
