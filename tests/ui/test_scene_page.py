"""The scene page's "Faces" panel in headless Chromium: everyone seen in the scene with their evidence,
and each action changes the library the way the user meant (checked in the Stash double)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.library import enrol
from tests.tasks.conftest import SAMPLE_S, TaskWorld, Videos
from tests.ui.cdp import Browser
from tests.ui.conftest import page_errors, pick_performer
from tests.ui.stash_frontend import StashWeb

PERFORMERS = ".scene-performers .performer-name"  # Stash's own panel of the scene's performers


def wait_stash_shows(browser: Browser, names: str) -> None:
    """Stash's own panel (not the plugin's) shows these performers, without a reload."""
    browser.wait_for(f"[...document.querySelectorAll('{PERFORMERS}')].map(e => e.textContent).sort().join(',')"
                     f" === {names!r}", timeout=10)


def wait_idle(browser: Browser) -> str:
    browser.wait_for("!document.querySelector('.cf-panel').classList.contains('cf-busy')")
    return str(browser.eval("document.querySelector('.cf-status').textContent"))


def person_row(browser: Browser, status: str) -> str:
    """The selector of the first row with that status."""
    index = browser.eval(f"document.querySelector('.cf-person[data-status=\"{status}\"]').dataset.index")
    return f'.cf-person[data-index="{index}"]'


def identify(browser: Browser, web: StashWeb, scene_id: str) -> dict[str, Any]:
    browser.goto(f"{web.url}/scenes/{scene_id}")
    browser.wait_for("!!document.querySelector('.scene-toolbar + .cf-panel .cf-faces-button')")
    browser.wait_for("!!document.querySelector('.scene-player-container video')")
    browser.click(".cf-faces-button")
    wait_idle(browser)
    mode, args, output, error = next(op for op in reversed(web.operations) if op[0] == "identifyScene")
    assert (mode, args, error) == ("identifyScene", {"sceneId": scene_id, "associateExisting": "false",
                                                     "cached": "true"}, None)
    return dict(output)


def test_scene_people_with_evidence_confirm_create_reject_and_pick(world: TaskWorld, web: StashWeb,
                                                                   browser: Browser, tmp_path: Path) -> None:
    alice = enrol(world, "Alice", 1)
    dana = world.stash.add_performer("Dana")
    world.configure(frameInterval=SAMPLE_S, minFacesForNewPerformer=1)
    # Alice in 4 samples, a stranger (person 7) in 3: enough to be named.
    scene = Videos(world, tmp_path).scene("Clip", [[1], [1, 7], [1, 7], [7], [1]])

    output = identify(browser, web, scene)
    people = {p["status"]: p for p in output["people"]}
    assert people["matched"]["performer"] == {"id": alice, "name": "Alice"}
    assert people["matched"]["frames"] == 4 and people["matched"]["times"] == [0.0, 5.0, 10.0, 20.0]
    assert people["candidate"]["subject"].startswith(f"Person {scene} ")
    assert world.stash.scenes[scene].performer_ids == set()  # looking links nothing, creates no performer
    assert [p.name for p in world.stash.performers.values()] == ["Alice", "Dana"]
    alice_row, stranger_row = person_row(browser, "matched"), person_row(browser, "candidate")
    label = browser.eval(f"document.querySelector('{alice_row} .cf-face-label').textContent")
    assert label == f"Alice {round(people['matched']['similarity'] * 100)}%: 4 frames (matched)"
    assert browser.eval(f"document.querySelector('{alice_row} img.cf-crop').naturalWidth") > 0  # her face
    assert browser.eval(f"[...document.querySelectorAll('{alice_row} .cf-time')].map(b => b.textContent)"
                        ) == ["0:00", "0:05", "0:10", "0:20"]
    browser.click(f"{alice_row} .cf-time:nth-child(3)")
    browser.wait_for("document.querySelector('.scene-player-container video').currentTime === 10",
                     timeout=10)  # Stash's player seeks there
    browser.screenshot(tmp_path / "1-scene-faces.png")

    browser.click(f"{alice_row} .cf-confirm")
    assert wait_idle(browser) == "Alice linked to this scene"
    assert world.stash.scenes[scene].performer_ids == {alice}
    wait_stash_shows(browser, "Alice")

    browser.type(f"{stranger_row} .cf-name", "Eve")
    browser.click(f"{stranger_row} .cf-create")
    assert wait_idle(browser).startswith(f"Eve created from {people['candidate']['subject']}")
    (eve,) = [p for p in world.stash.performers.values() if p.name == "Eve"]
    assert people["candidate"]["subject"] in eve.aliases  # the subject leads to her from now on
    assert world.stash.scenes[scene].performer_ids == {alice, eve.id}
    wait_stash_shows(browser, "Alice,Eve")
    browser.screenshot(tmp_path / "2-confirmed-and-created.png")

    browser.click(f"{alice_row} .cf-reject")
    assert wait_idle(browser) == "Alice removed from this scene and will not be linked to it again"
    assert world.stash.scenes[scene].performer_ids == {eve.id}
    wait_stash_shows(browser, "Eve")
    pick_performer(browser, alice_row, "Dan", "Dana")
    assert wait_idle(browser) == "Dana linked to this scene"
    assert web.operations[-1][:2] == ("assignFace", {"sceneId": scene, "performerId": dana,
                                                     "faceIndex": str(people["matched"]["index"])})
    assert world.stash.scenes[scene].performer_ids == {eve.id, dana}
    wait_stash_shows(browser, "Dana,Eve")
    browser.screenshot(tmp_path / "3-rejected-and-picked.png")

    # The face was taught to Dana: she has a subject now, and the next look at the scene finds her there.
    assert any(a.startswith("Person ") for a in world.stash.performers[dana].aliases)
    again = world.run("identifyScene", sceneId=scene, associateExisting="false").output
    assert {(p["status"], (p["performer"] or {}).get("name")) for p in again["people"]} == {
        ("matched", "Dana"), ("matched", "Eve")}
    # A recognition run afterwards keeps the user's word: Alice stays out, Eve and Dana stay in.
    assert world.run("recognizeAllScenes").error is None
    assert world.stash.scenes[scene].performer_ids == {eve.id, dana}
    assert page_errors(browser) == []


def test_a_failed_look_at_a_scene_shows_the_alert_and_retry_finds_the_people(world: TaskWorld, web: StashWeb,
                                                                              browser: Browser, tmp_path: Path) -> None:
    enrol(world, "Alice", 1)
    world.configure(frameInterval=SAMPLE_S)
    scene = Videos(world, tmp_path).scene("Clip", [[1], [1], [1]])
    world.compreface.go_down()
    browser.goto(f"{web.url}/scenes/{scene}")
    browser.wait_for("!!document.querySelector('.scene-toolbar + .cf-panel .cf-faces-button')")
    browser.wait_for("!!document.querySelector('.scene-player-container video')")
    browser.click(".cf-faces-button")
    assert "comprefaceUrl" in wait_idle(browser)
    alert = ".cf-scene-panel .alert.alert-danger"
    assert browser.eval(f"!document.querySelector('{alert}').hidden")
    assert browser.eval(f"document.querySelector('{alert} a.cf-settings-link').search") == "?tab=plugins"

    world.compreface.come_back()
    browser.click(f"{alert} .cf-retry")
    assert wait_idle(browser).startswith("1 person in 3 frames")
    assert browser.eval(f"document.querySelector('{alert}').hidden")
    assert browser.eval("document.querySelector('.cf-person .cf-face-label').textContent").startswith("Alice ")
