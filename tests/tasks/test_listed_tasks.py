"""Settings > Tasks lists only what a click can run: every listed task runs to success on the demo library.

Stash's UI runs a listed task with ``runPluginTask(plugin_id, task_name)`` and no args, so the task gets its
defaultArgs alone, as strings. Here each task of plugin/compreface.yml runs exactly so, with the settings a
user starts with (none saved: faceEngine auto and no CompreFace key, so the built-in engine), on the demo
library (``stash-compreface demo``) plus two scenes with a sprite sheet and a video. None may end in an error
or log one. The modes that need an id are operations (``tasks.OPERATIONS``), which the manifest must not list:
run as a click would run them, each one fails naming what it needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stash_compreface import tasks
from testdoubles.demo import demo_library
from testdoubles.stash_runner import default_args, find_manifest
from tests.library import sprite
from tests.tasks.conftest import PLUGIN_SRC, TaskWorld, frame, task_world
from tests.video.videos import write_h264


def _listed() -> list[tuple[str, dict[str, str]]]:
    """(task name, defaultArgs as Stash's map[string]string holds them) of every listed task, in order."""
    text = find_manifest(PLUGIN_SRC).read_text(encoding="utf-8")
    return [(task["name"], default_args(text, task["name"])) for task in yaml.safe_load(text)["tasks"]]


REAL_PROFILES = ("obama_1", "macron_2014", "ardern_2018", "sunak")  # for the demo's four performers
REAL_IMAGES = ("obama_2", "obama_3", "macron_2025", "ardern_2022", "biden", "biden")  # Biden: a stranger seen twice


@pytest.fixture(params=["default settings", "CompreFace"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskWorld]:
    """The demo library and two scenes (sprite sheet and video), with the settings a user starts with (nothing
    saved: the built-in engine), or with the CompreFace of ``stash-compreface demo`` (its double).

    The demo's faces are drawn for the CompreFace double; the built-in engine sees real faces only, so for it
    the performers' profile images are real photos (a profile without a face is an error, rightly), and six
    real photos join the library. The broken file is left out: it fails its item, with an error line.
    """
    with task_world(tmp_path) as world:
        demo_library(world.stash, 12, broken=False)
        if request.param == "default settings":
            world.stash.configure_plugin("compreface", {})
            photos = request.getfixturevalue("photos")
            for performer, name in zip(list(world.stash.performers.values())[:4], REAL_PROFILES, strict=True):
                performer.image = photos[name]
            for name in REAL_IMAGES:
                world.stash.add_image(photos[name], path=f"/photos/{name}.jpg")
        for number, persons in enumerate(([0], [1, 2])):
            sheet, vtt = sprite([persons[0], None, persons[-1], persons[0]])
            pictures = [frame(persons, seed=i) for i in range(3)]
            video = write_h264(tmp_path / f"scene{number}.mp4", seconds=6, fps=1, gop_s=2, size=(640, 360),
                               picture=lambda t, pictures=pictures: pictures[min(int(t // 2), 2)])
            world.stash.add_scene(f"Scene {number}", path=f"/media/not-mounted-here/scene{number}.mp4",
                                  sprite=sheet, vtt=vtt, video=video.read_bytes(), duration=6.0)
        yield world


def test_every_listed_task_runs_to_success_with_its_default_args(demo: TaskWorld) -> None:
    listed = _listed()
    assert {args["mode"] for _, args in listed} == set(tasks.LISTED)
    for name, args in listed:
        run = demo.run(args["mode"])  # exactly the task's defaultArgs, every value a string (ui_args)
        assert run.error is None, f"{name}: {run.error}"
        assert run.messages("error") == [], f"{name}: {run.messages('error')}"
        assert isinstance(run.output, dict) and run.output["mode"] == args["mode"], name
        level, summary = run.logs[-1]  # the run's summary is its last line, at info (no number: nothing written)
        opening = "Done: " if run.output["runId"] is None else f"Run {run.output['runId']} done: "
        assert level == "info" and summary.startswith(opening), f"{name}: {summary}"
    queued = next(run for run, (_, args) in zip(demo.runs, listed, strict=True) if args["mode"] == "recognizeQueued")
    assert any("nothing queued" in m for m in queued.messages("info"))


def test_the_manifest_lists_no_mode_that_needs_an_id() -> None:
    listed = {args["mode"] for _, args in _listed()}
    assert not listed & set(tasks.OPERATIONS)
    assert listed | set(tasks.OPERATIONS) == set(tasks.MODES)  # every mode: listed, or an operation
    assert all("Id" not in key for _, args in _listed() for key in args)  # no id argument left to fill in


@pytest.mark.parametrize("mode", sorted(m for m in tasks.OPERATIONS if tasks.MODES[m].needs))
def test_an_operation_run_without_its_id_fails_naming_it(world: TaskWorld, mode: str) -> None:
    run = world.run(mode)  # as runPluginOperation with the mode alone: no id
    first = tasks.MODES[mode].needs[0]
    assert run.error is not None and run.error.startswith(f"{mode} needs {first.names[0]}"), run.error
    assert first.what in run.error
