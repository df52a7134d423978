"""Issue #8's "done when", in-process: a library of real photos, the built-in engine, no CompreFace.

Performers get a profile photo each; the other photos are images. synchronizePerformers then
identifyImagesNew must link performers with precision >= 0.99 and recall >= 0.90, and the CompreFace
double must receive no request at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stash_compreface import tasks
from stash_compreface.engine.service import BuiltinFaceService
from stash_compreface.errors import PluginError
from stash_compreface.runtime.session import task_context
from stash_compreface.settings import parse_args
from testdoubles.compreface import CompreFaceDouble
from testdoubles.stash import StashDouble
from tests.engine.test_service import side_by_side
from tests.library import SYNCED
from tests.tasks.conftest import COOKIE, TaskRun, TaskWorld, _Reporter, assert_no_secrets, ui_args

PROFILES = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018", "Sunak": "sunak"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[TaskWorld]:
    """Stash and CompreFace doubles; the plugin has no CompreFace setting at all."""
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash:
        stash.configure_plugin("compreface", {})
        yield TaskWorld(stash=stash, compreface=compreface, state_dir=tmp_path / "state")


def run(world: TaskWorld, service: BuiltinFaceService, mode: str, **args: Any) -> TaskRun:
    """``TaskWorld.run`` with the built-in engine as the context's face service."""
    stop = threading.Event()
    reporter = _Reporter(stop, None)
    output: Any = None
    error: str | None = None
    try:
        with task_context(stash_url=world.stash.url, reporter=reporter, state_dir=world.state_dir,
                          session_cookie=COOKIE, stop=stop) as ctx:
            ctx.face_service_factory = lambda: service
            output = tasks.run(mode, ctx, parse_args({**ui_args(mode), **args}))
    except PluginError as exc:
        error = str(exc)
    result = TaskRun(output=output, error=error, logs=list(reporter.lines), progress=list(reporter.fractions))
    assert_no_secrets(result)
    return result


def test_real_photos_are_linked_to_their_performers_without_compreface(world, photos, model, tmp_path):
    stash = world.stash
    performers = {name: stash.add_performer(name, image=photos[photo]) for name, photo in PROFILES.items()}
    expected: dict[str, set[str]] = {}
    for name in photos:
        if name in PROFILES.values():
            continue
        person = photos.person(name)
        expected[stash.add_image(photos[name], path=f"/photos/{name}.jpg")] = (
            {performers[person]} if person in performers else set())  # Biden is nobody's performer
    pair = side_by_side((photos["macron_2025"], 700), (photos["ardern_2022"], 700))
    expected[stash.add_image(pair, path="/photos/macron_and_ardern.jpg")] = {performers["Macron"],
                                                                          performers["Ardern"]}
    service = BuiltinFaceService(tmp_path / "engine", backend=model)
    try:
        synced = run(world, service, "synchronizePerformers")
        assert synced.error is None, synced.logs
        assert all(SYNCED in stash.tag_names("performer", p) for p in performers.values()), synced.logs
        assert len(service.list_subjects()) == len(performers)

        identified = run(world, service, "identifyImagesNew")
        assert identified.error is None, identified.logs
    finally:
        service.close()

    linked = {image: set(stash.images[image].performer_ids) for image in expected}
    true_links = sum(len(linked[i] & expected[i]) for i in expected)
    all_links = sum(len(linked[i]) for i in expected)
    wanted = sum(len(expected[i]) for i in expected)
    assert wanted == 9 and all_links > 0
    precision, recall = true_links / all_links, true_links / wanted
    wrong = {i: linked[i] - expected[i] for i in expected if linked[i] - expected[i]}
    missed = {i: expected[i] - linked[i] for i in expected if expected[i] - linked[i]}
    assert precision >= 0.99, f"wrong links: {wrong}"
    assert recall >= 0.90, f"missed links: {missed}"
    assert set(stash.performers) == set(performers.values()), "identifyImagesNew creates nobody"
    assert sum(world.compreface.calls.values()) == 0, world.compreface.calls
