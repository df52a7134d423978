"""The image page's "Faces" button in headless Chromium: boxes where the faces are, and each action
changes the library the way the user meant (checked in the Stash double, not in the page)."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageStat

from tests.library import enrol, photo
from tests.tasks.conftest import TaskWorld
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors, pick_performer
from tests.ui.stash_frontend import StashWeb

WIDTH, HEIGHT = 800, 600  # the photo
IMG = ".image-container img.image-image"  # Stash's Image.tsx
PERFORMERS = ".image-performers .performer-name"  # Stash's own panel of the image's performers


def wait_stash_shows(browser: Browser, names: str) -> None:
    """Stash's own panel (not the plugin's) shows these performers, without a reload."""
    browser.wait_for(f"[...document.querySelectorAll('{PERFORMERS}')].map(e => e.textContent).sort().join(',')"
                     f" === {names!r}", timeout=10)


def open_faces(browser: Browser, web: StashWeb, image_id: str, count: int) -> dict[str, Any]:
    browser.goto(f"{web.url}/images/{image_id}")
    browser.wait_for(f"document.querySelector('.cf-faces-button') && document.querySelector('{IMG}').complete")
    browser.click(".cf-faces-button")
    browser.wait_for(f"document.querySelectorAll('.cf-box').length === {count}")
    wait_idle(browser)
    mode, args, output, error = web.operations[-1]
    assert (mode, args, error) == ("identifyImage", {"imageId": image_id, "associateExisting": "false",
                                                     "cached": "true"}, None)
    return dict(output)


def drawn_boxes(browser: Browser) -> list[dict[str, Any]]:
    return list(browser.eval("""[...document.querySelectorAll('.cf-box')].map(b => {
        const r = b.getBoundingClientRect();
        return {index: +b.dataset.index, left: r.left, top: r.top, width: r.width, height: r.height,
                label: b.getAttribute('aria-label'), number: b.textContent};
    })"""))


def status(browser: Browser) -> str:
    return str(browser.eval("document.querySelector('.cf-status').textContent"))


def wait_idle(browser: Browser) -> str:
    browser.wait_for("!document.querySelector('.cf-panel').classList.contains('cf-busy')")
    return status(browser)


def test_boxes_confirm_not_this_person_and_create(world: TaskWorld, web: StashWeb, browser: Browser,
                                                  tmp_path: Path) -> None:
    alice = enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, 2, size=200, width=WIDTH, height=HEIGHT, seed=3))

    output = open_faces(browser, web, image_id, count=2)
    faces = {f["index"]: f for f in output["faces"]}
    assert faces[0]["performer"] == {"id": alice, "name": "Alice"}
    assert faces[1]["performer"] is None
    assert world.stash.images[image_id].performer_ids == set()  # looking links nothing

    # Every box sits on its face in the displayed picture: scaled to it, bars of object-fit included.
    img = browser.eval(f"(() => {{ const i = document.querySelector('{IMG}'); const r = i.getBoundingClientRect();"
                       " return {left: r.left, top: r.top, width: r.width, height: r.height,"
                       " fit: getComputedStyle(i).objectFit}; })()")
    scale = min(img["width"] / WIDTH, img["height"] / HEIGHT) if img["fit"] == "contain" else None
    assert scale is not None, img
    left0 = img["left"] + (img["width"] - WIDTH * scale) / 2
    top0 = img["top"] + (img["height"] - HEIGHT * scale) / 2
    for box in drawn_boxes(browser):
        b = faces[box["index"]]["box"]
        expected = {"left": left0 + b["x_min"] * scale, "top": top0 + b["y_min"] * scale,
                    "width": (b["x_max"] - b["x_min"]) * scale, "height": (b["y_max"] - b["y_min"]) * scale}
        assert all(abs(box[k] - v) <= 1.5 for k, v in expected.items()), (box, expected)
    labels = {box["index"]: box["label"] for box in drawn_boxes(browser)}
    assert labels[0].startswith("1. Alice ") and labels[0].endswith("%")
    assert labels[0] == f"1. Alice {round(faces[0]['similarity'] * 100)}%"
    assert labels[1] == "2. unknown"  # no percentage of a stranger's likeness to someone else
    browser.screenshot(tmp_path / "1-faces.png")

    browser.click('.cf-face[data-index="0"] .cf-confirm')
    assert wait_idle(browser) == "Alice linked to face 1"
    assert web.operations[-1][:2] == ("assignFace", {"imageId": image_id, "performerId": alice, "faceIndex": "0"})
    assert world.stash.images[image_id].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")
    browser.screenshot(tmp_path / "2-confirmed.png")

    browser.click('.cf-face[data-index="0"] .cf-reject')
    assert "will not be linked to it again" in wait_idle(browser)
    assert world.stash.images[image_id].performer_ids == set()
    wait_stash_shows(browser, "")
    assert browser.eval("document.querySelector('.cf-face[data-index=\"0\"] .cf-rejected').textContent") == "not Alice"
    assert drawn_boxes(browser)[0]["label"] == "1. unknown"

    # Not Alice but someone new: Create still works for that face, and Alice stays out.
    browser.type('.cf-face[data-index="0"] .cf-name', "Zoe")
    browser.click('.cf-face[data-index="0"] .cf-create')
    assert wait_idle(browser) == "Zoe linked to face 1"
    (zoe,) = [p for p in world.stash.performers.values() if p.name == "Zoe"]
    assert world.stash.images[image_id].performer_ids == {zoe.id}
    assert any(a.startswith("Person ") for a in zoe.aliases)

    browser.type('.cf-face[data-index="1"] .cf-name', "Bob")
    browser.click('.cf-face[data-index="1"] .cf-create')
    assert wait_idle(browser) == "Bob linked to face 2"
    (bob,) = [p for p in world.stash.performers.values() if p.name == "Bob"]
    assert world.stash.images[image_id].performer_ids == {zoe.id, bob.id}
    wait_stash_shows(browser, "Bob,Zoe")
    assert any(a.startswith("Person ") for a in bob.aliases)  # the subject stays its alias: the link holds
    assert drawn_boxes(browser)[1]["label"] == "2. Bob"
    assert browser.eval("document.querySelectorAll('.cf-confirm').length") == 0  # linked rows offer no Confirm
    browser.screenshot(tmp_path / "3-created.png")
    assert page_errors(browser) == []


def test_create_names_a_recurring_candidate(world: TaskWorld, web: StashWeb, browser: Browser,
                                            tmp_path: Path) -> None:
    world.configure(minFacesForNewPerformer=3)
    seen = [world.stash.add_image(photo(42, size=180 + 10 * i, width=WIDTH, height=HEIGHT, seed=i))
            for i in range(2)]
    assert world.run("recognizeImagesHQ").error is None
    assert not world.stash.performers  # seen twice: a candidate, no performer yet

    output = open_faces(browser, web, seen[0], count=1)
    (face,) = output["faces"]
    assert face["subject"] and face["performer"] is None
    browser.type('.cf-face[data-index="0"] .cf-name', "Carol")
    browser.click('.cf-face[data-index="0"] .cf-create')
    assert wait_idle(browser).startswith("Carol created from Person ")
    assert web.operations[-1][:2] == ("nameFace", {"imageId": seen[0], "faceIndex": "0", "name": "Carol"})
    (carol,) = world.stash.performers.values()
    assert carol.name == "Carol" and face["subject"] in carol.aliases
    assert all(world.stash.images[i].performer_ids == {carol.id} for i in seen)  # linked where it was seen
    wait_stash_shows(browser, "Carol")
    browser.screenshot(tmp_path / "4-candidate-named.png")
    assert page_errors(browser) == []


def test_a_plugin_error_is_shown_in_one_line(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    image_id = world.stash.add_image(photo(7, width=WIDTH, height=HEIGHT))
    world.configure(recognitionApiKey="00000000-0000-0000-0000-000000000000")
    browser.goto(f"{web.url}/images/{image_id}")
    browser.wait_for("!!document.querySelector('.cf-faces-button')")
    browser.click(".cf-faces-button")
    message = wait_idle(browser)
    assert message.startswith("Finding faces failed: ")
    assert web.operations[-1][3] is not None and web.operations[-1][3] in message
    assert browser.eval("document.querySelectorAll('.cf-box').length") == 0


def test_pick_another_performer_for_a_wrongly_matched_face(world: TaskWorld, web: StashWeb, browser: Browser,
                                                           tmp_path: Path) -> None:
    alice = enrol(world, "Alice", 1)
    dana = world.stash.add_performer("Dana")  # the user's performer, never synchronised: no subject yet
    world.stash.add_performer("Daniel")
    image_id = world.stash.add_image(photo(1, size=200, width=WIDTH, height=HEIGHT, seed=5))
    output = open_faces(browser, web, image_id, count=1)
    assert output["faces"][0]["performer"] == {"id": alice, "name": "Alice"}

    # Stash's own PerformerSelect (PluginApi.components), searching Stash's performers as it does everywhere.
    pick_performer(browser, '.cf-face[data-index="0"]', "Dan", "Dana")
    assert wait_idle(browser) == "Dana linked to face 1; not Alice"
    assert [op[0] for op in web.operations[-2:]] == ["identifyImage", "assignFace"]  # one click, one run
    assert world.stash.images[image_id].performer_ids == {dana}
    wait_stash_shows(browser, "Dana")
    assert drawn_boxes(browser)[0]["label"] == "1. Dana"
    # The face was learned as Dana's: she now has a subject, and this image is hers on the next look.
    assert any(a.startswith("Person ") for a in world.stash.performers[dana].aliases)
    again = world.run("identifyImage", imageId=image_id, associateExisting="false").output
    assert again["faces"][0]["performer"] == {"id": dana, "name": "Dana"}
    assert world.run("identifyImagesAll").error is None
    assert world.stash.images[image_id].performer_ids == {dana}  # Alice is not linked back
    assert page_errors(browser) == []


def test_the_faces_control_works_behind_a_reverse_proxy_path_prefix(world: TaskWorld, web: StashWeb,
                                                                    browser: Browser) -> None:
    alice = enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, size=200, width=WIDTH, height=HEIGHT, seed=3))
    web.base = "/stash/"  # Stash behind a reverse proxy: its <base href>, and nothing served outside it
    browser.goto(f"{web.url}/stash/images/{image_id}")
    browser.wait_for(f"document.querySelector('.cf-faces-button') && document.querySelector('{IMG}').complete")
    assert browser.eval(f"document.querySelector('{IMG}').src").startswith(f"{web.url}/stash/image/")
    browser.click(".cf-faces-button")
    browser.wait_for("document.querySelectorAll('.cf-box').length === 1")
    browser.click('.cf-face[data-index="0"] .cf-confirm')
    assert wait_idle(browser) == "Alice linked to face 1"
    assert world.stash.images[image_id].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")
    assert page_errors(browser) == []


def confirm_alice_then_not_her_on_the_lookalike(world: TaskWorld, web: StashWeb, browser: Browser
                                                ) -> tuple[str, str]:
    """A group photo of Alice and a lookalike: Confirm Alice on face 1, then Not this person on face 2, which
    leaves her linked (another face is hers). Her id and the image's."""
    alice = enrol(world, "Alice", 1)
    group = world.stash.add_image(photo(1, 1, size=200, width=WIDTH, height=HEIGHT, seed=3))  # Alice and a lookalike
    open_faces(browser, web, group, count=2)
    browser.click('.cf-face[data-index="0"] .cf-confirm')
    assert wait_idle(browser) == "Alice linked to face 1"
    wait_stash_shows(browser, "Alice")
    browser.click('.cf-face[data-index="1"] .cf-reject')
    assert wait_idle(browser) == "not Alice on face 2; Alice stays linked by another face"
    assert [op[0] for op in web.operations[-1:]] == ["notThisFace"]
    return alice, group


def test_not_this_person_on_a_group_photo_acts_on_that_face(world: TaskWorld, web: StashWeb, browser: Browser,
                                                            tmp_path: Path) -> None:
    alice, group = confirm_alice_then_not_her_on_the_lookalike(world, web, browser)
    assert world.stash.images[group].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")  # Stash's own panel still shows her
    assert browser.eval("document.querySelector('.cf-face[data-index=\"0\"] .cf-linked').textContent") == "linked"
    assert browser.eval("document.querySelector('.cf-face[data-index=\"1\"] .cf-rejected').textContent") == "not Alice"
    assert [b["label"] for b in drawn_boxes(browser)] == ["1. Alice", "2. unknown"]
    browser.screenshot(tmp_path / "6-group-photo.png")
    assert page_errors(browser) == []


def test_faces_shows_the_kept_look_at_once_and_look_again_looks_anew(world: TaskWorld, web: StashWeb,
                                                                     browser: Browser) -> None:
    enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, 2, size=200, width=WIDTH, height=HEIGHT, seed=3))
    first = open_faces(browser, web, image_id, count=2)
    assert not first.get("cached")
    assert browser.eval("document.querySelector('.cf-look-again').hidden") is False

    # Another visit: Faces answers from the kept look, even with the face service down.
    with world.compreface.down():
        kept = open_faces(browser, web, image_id, count=2)
    assert kept["cached"] is True
    assert "as looked at" in status(browser)
    assert [b["index"] for b in drawn_boxes(browser)] == [0, 1]

    browser.click(".cf-look-again")
    browser.wait_for("document.querySelector('.cf-status').textContent === '2 faces'")
    mode, args, output, error = web.operations[-1]
    assert (mode, args["cached"], error) == ("identifyImage", "false", None) and not output.get("cached")


def thumbnails(browser: Browser) -> dict[int, dict[str, Any]]:
    """Each row's thumbnail: its size on screen, the part of the picture it was cut from (natural pixels) and
    the mean colour of what it shows."""
    rows = browser.eval("""[...document.querySelectorAll('.cf-face')].map(row => {
        const c = row.querySelector('canvas.cf-thumb');
        if (!c) return {index: +row.dataset.index};
        const r = c.getBoundingClientRect();
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const mean = [0, 1, 2].map(k => { let t = 0; for (let i = k; i < px.length; i += 4) t += px[i];
                                          return t / (px.length / 4); });
        return {index: +row.dataset.index, width: r.width, height: r.height,
                crop: c.dataset.crop.split(',').map(Number), mean, alpha: px[3]};
    })""")
    return {row["index"]: row for row in rows}


def test_each_row_shows_a_thumbnail_of_its_face_cut_from_the_picture_on_screen(
        world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    enrol(world, "Alice", 1)
    data = photo(1, 2, size=200, width=WIDTH, height=HEIGHT, seed=3)
    image_id = world.stash.add_image(data)
    output = open_faces(browser, web, image_id, count=2)
    sent = len(json.dumps(output))
    picture = Image.open(BytesIO(data)).convert("RGB")
    thumbs = thumbnails(browser)
    assert sorted(thumbs) == [0, 1]
    means = {}
    for face in output["faces"]:
        thumb, b = thumbs[face["index"]], face["box"]
        assert thumb.get("crop"), thumb  # a canvas in every row
        assert thumb["width"] >= 40 and thumb["height"] >= 40 and thumb["alpha"] == 255
        x, y, w, h = thumb["crop"]
        assert w == h and x <= b["x_min"] and y <= b["y_min"] and x + w >= b["x_max"] and y + h >= b["y_max"]
        assert w <= 1.5 * max(b["x_max"] - b["x_min"], b["y_max"] - b["y_min"])  # the face, not the photo
        means[face["index"]] = ImageStat.Stat(picture.crop((x, y, x + w, y + h))).mean
    for index, thumb in thumbs.items():  # it shows its own face's pixels, not the other's
        mine = max(abs(a - b) for a, b in zip(thumb["mean"], means[index], strict=True))
        other = max(abs(a - b) for a, b in zip(thumb["mean"], means[1 - index], strict=True))
        assert mine < 6 and other > 2 * mine, (index, thumb["mean"], means)
    assert "base64" not in json.dumps(output) and sent < 4000  # cut in the browser: no bytes in the answer
    assert page_errors(browser) == []


def test_a_failed_look_shows_stash_alert_with_retry_and_the_plugin_settings(world: TaskWorld, web: StashWeb,
                                                                            browser: Browser) -> None:
    enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, 2, size=200, width=WIDTH, height=HEIGHT, seed=3))
    world.compreface.go_down()  # the face service is down
    browser.goto(f"{web.url}/images/{image_id}")
    browser.wait_for(f"document.querySelector('.cf-faces-button') && document.querySelector('{IMG}').complete")
    browser.eval("window.cfNoReload = true")
    browser.click(".cf-faces-button")
    wait_idle(browser)
    error = web.operations[-1][3]
    assert error is not None and "comprefaceUrl" in error  # the plugin's error names the setting
    alert = ".cf-panel .alert.alert-danger"
    assert browser.eval(f"!document.querySelector('{alert}').hidden")
    assert browser.eval(f"document.querySelector('{alert}').getAttribute('role')") == "alert"
    text = browser.eval(f"document.querySelector('{alert}').textContent")
    assert text.startswith("Finding faces failed: ") and "comprefaceUrl" in text
    link = browser.eval(f"(() => {{ const a = document.querySelector('{alert} a.cf-settings-link');"
                        " return {path: a.pathname, search: a.search, text: a.textContent}; })()")
    assert link == {"path": "/settings", "search": "?tab=plugins", "text": "Plugin settings"}
    assert browser.eval("document.querySelectorAll('.cf-box').length") == 0

    world.compreface.come_back()
    asked = len(web.operations)
    browser.click(f"{alert} .cf-retry")  # the same operation again
    browser.wait_for("document.querySelectorAll('.cf-box').length === 2")
    assert wait_idle(browser) == "2 faces"
    assert [op[:2] for op in web.operations[asked:]] == [
        ("identifyImage", {"imageId": image_id, "associateExisting": "false", "cached": "true"})]
    assert browser.eval(f"document.querySelector('{alert}').hidden")
    assert browser.eval("document.activeElement.classList.contains('cf-faces-button')")  # focus stays in the panel

    # The settings link navigates inside the app to Stash's plugin settings.
    world.compreface.go_down()
    browser.click(".cf-look-again")
    wait_idle(browser)
    browser.click(f"{alert} a.cf-settings-link")
    browser.wait_for("location.pathname === '/settings' && location.search === '?tab=plugins'")
    assert browser.eval("window.cfNoReload") is True
    world.compreface.come_back()
    # Stash's error toast logs its error to the console: those two, nothing else.
    assert [e.split(":")[1] for e in page_errors(browser)] == [" Finding faces failed", " Looking again failed"]


# ---------------------------------------------------------------- the recent actions, each with its Undo

def recent(browser: Browser) -> list[str]:
    """The recent-actions strip of the Faces panel, newest first, as the user reads it."""
    return list(browser.eval("[...document.querySelectorAll('.cf-panel .cf-recent .cf-recent-action')]"
                             ".map(li => li.textContent)"))


def undo_latest(browser: Browser, web: StashWeb) -> list[tuple[str, dict[str, Any]]]:
    """Clicks the newest action's Undo; the operations it ran, and the panel busy meanwhile."""
    asked = len(web.operations)
    browser.click(".cf-recent .cf-recent-action:first-child .cf-undo")
    text = wait_idle(browser)
    assert text.startswith("Undone: "), text
    assert browser.eval("document.querySelector('.cf-recent .cf-recent-action:first-child .cf-undone')"
                        ".textContent") == "undone"
    return [(op[0], op[1]) for op in web.operations[asked:]]


def test_undo_of_confirm_takes_the_performer_off_in_stash_panel(world: TaskWorld, web: StashWeb,
                                                                 browser: Browser) -> None:
    alice = enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, size=200, width=WIDTH, height=HEIGHT, seed=3))
    open_faces(browser, web, image_id, count=1)
    assert browser.eval("document.querySelector('.cf-recent').hidden") is True  # nothing done yet
    browser.click('.cf-face[data-index="0"] .cf-confirm')
    assert wait_idle(browser) == "Alice linked to face 1"
    wait_stash_shows(browser, "Alice")
    run_id = web.operations[-1][2]["runId"]
    assert recent(browser) == ["Alice linked to face 1 — Undo"]

    ran = undo_latest(browser, web)
    assert ran == [("undoRun", {"runId": str(run_id)}),
                   ("identifyImage", {"imageId": image_id, "associateExisting": "false", "cached": "true"})]
    assert world.stash.images[image_id].performer_ids == set()
    wait_stash_shows(browser, "")  # Stash's own panel, without a reload
    assert browser.eval("!!document.querySelector('.cf-face[data-index=\"0\"] .cf-confirm')")  # a suggestion again
    assert recent(browser) == ["Alice linked to face 1 — undone"]
    assert world.stash.performers[alice].name == "Alice"  # hers before the run: kept
    assert page_errors(browser) == []


def test_undo_of_create_deletes_the_performer_it_made(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    image_id = world.stash.add_image(photo(2, size=200, width=WIDTH, height=HEIGHT, seed=4))  # nobody known
    open_faces(browser, web, image_id, count=1)
    browser.type('.cf-face[data-index="0"] .cf-name', "Zoe")
    browser.click('.cf-face[data-index="0"] .cf-create')
    assert wait_idle(browser) == "Zoe linked to face 1"
    wait_stash_shows(browser, "Zoe")
    assert [p.name for p in world.stash.performers.values()] == ["Zoe"]

    ran = undo_latest(browser, web)
    # Redrawn from the kept look, which no longer names the deleted performer: no fresh look (~2.5 s).
    assert [(mode, args.get("cached")) for mode, args in ran] == [("undoRun", None), ("identifyImage", "true")]
    assert not world.stash.performers  # the performer Create made is gone from Stash
    assert world.stash.images[image_id].performer_ids == set()
    wait_stash_shows(browser, "")
    assert recent(browser) == ["Zoe linked to face 1 — undone"]
    # The face is nobody's again: no row or box names the deleted performer (whose Confirm would fail).
    assert [b["label"] for b in drawn_boxes(browser)] == ["1. unknown"]
    assert browser.eval("document.querySelectorAll('.cf-face .cf-create').length") == 1
    assert page_errors(browser) == []


def test_undo_of_not_this_person_links_them_again(world: TaskWorld, web: StashWeb, browser: Browser) -> None:
    alice = enrol(world, "Alice", 1)
    image_id = world.stash.add_image(photo(1, size=200, width=WIDTH, height=HEIGHT, seed=3))
    open_faces(browser, web, image_id, count=1)
    browser.click('.cf-face[data-index="0"] .cf-confirm')
    assert wait_idle(browser) == "Alice linked to face 1"
    wait_stash_shows(browser, "Alice")
    browser.click('.cf-face[data-index="0"] .cf-reject')
    assert "will not be linked to it again" in wait_idle(browser)
    wait_stash_shows(browser, "")

    ran = undo_latest(browser, web)  # "it IS her after all"
    assert ran == [("assignFace", {"imageId": image_id, "faceIndex": "0", "performerId": alice})]
    assert world.stash.images[image_id].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")  # back in Stash's own panel, without a reload
    assert browser.eval("document.querySelector('.cf-face[data-index=\"0\"] .cf-linked').textContent") == "linked"
    assert drawn_boxes(browser)[0]["label"] == "1. Alice"
    # The refusal is forgotten: a batch run links her (a kept refusal would keep her off).
    world.stash.images[image_id].performer_ids.clear()
    assert world.run("identifyImagesAll").error is None
    assert world.stash.images[image_id].performer_ids == {alice}
    assert page_errors(browser) == []


def test_undo_of_not_this_person_on_one_face_of_a_group_photo(world: TaskWorld, web: StashWeb,
                                                              browser: Browser) -> None:
    alice, group = confirm_alice_then_not_her_on_the_lookalike(world, web, browser)
    assert recent(browser) == ["not Alice on face 2; Alice stays linked by another face — Undo",
                               "Alice linked to face 1 — Undo"]

    ran = undo_latest(browser, web)
    assert ran == [("assignFace", {"imageId": group, "faceIndex": "1", "performerId": alice})]
    assert world.stash.images[group].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")
    assert [b["label"] for b in drawn_boxes(browser)] == ["1. Alice", "2. Alice"]
    assert browser.eval("document.querySelectorAll('.cf-face span.cf-linked').length") == 2  # both her faces, linked
    assert page_errors(browser) == []
