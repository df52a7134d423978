"""Real photos through the assembled plugin and a CompreFace (the double on the built-in engine).

The synthetic faces prove the plugin's logic; this proves that the CompreFace path (upload, quality gates
on real boxes and poses, thresholds on CompreFace's similarity scale) links real people as Stash runs it:
synchronizePerformers enrols each performer's profile photo, identifyImagesNew then links every image to
the performers on it, and to nobody else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testdoubles.compreface import CompreFaceDouble
from testdoubles.photos import Photos, side_by_side
from testdoubles.stash import StashDouble
from tests.e2e.world import COOKIE, World
from tests.library import SYNCED, subject_of

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

PROFILES = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018", "Sunak": "sunak"}


@pytest.fixture
def real_world(plugin_dir: Path, tmp_path: Path) -> Iterator[World]:
    with CompreFaceDouble.running(engine="builtin") as compreface, \
            StashDouble.running(session_cookie=COOKIE) as stash:
        world = World(stash=stash, compreface=compreface, plugin_dir=plugin_dir, state_dir=tmp_path / "state")
        world.configure()  # faceEngine compreface, this double's URL and key
        yield world


def _library(world: World, photos: Photos) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Performers with a profile photo each, and every other photo as an image with the performers on it."""
    stash = world.stash
    performers = {name: stash.add_performer(name, image=photos[photo]) for name, photo in PROFILES.items()}
    expected: dict[str, set[str]] = {}
    for name in photos:
        if name not in PROFILES.values():
            person = photos.person(name)  # Biden is nobody's performer
            expected[stash.add_image(photos[name], path=f"/photos/{name}.jpg")] = (
                {performers[person]} if person in performers else set())
    pair = side_by_side((photos["macron_2025"], 700), (photos["ardern_2022"], 700))
    expected[stash.add_image(pair, path="/photos/macron_and_ardern.jpg")] = {performers["Macron"],
                                                                          performers["Ardern"]}
    return performers, expected


def _assert_links(world: World, performers: dict[str, str], expected: dict[str, set[str]]) -> None:
    """Precision 1.0 and recall >= 0.90 over the 9 expected links; nobody new created."""
    stash = world.stash
    linked = {image: set(stash.images[image].performer_ids) for image in expected}
    wrong = {i: linked[i] - expected[i] for i in expected if linked[i] - expected[i]}
    missed = {i: expected[i] - linked[i] for i in expected if expected[i] - linked[i]}
    wanted = sum(len(v) for v in expected.values())
    true_links = sum(len(linked[i] & expected[i]) for i in expected)
    assert wanted == 9
    assert wrong == {}, f"wrong links: {wrong}"  # precision 1.0
    assert true_links / wanted >= 0.90, f"missed links: {missed}"
    assert set(stash.performers) == set(performers.values()), "identifyImagesNew creates nobody"


def test_the_built_in_engine_links_real_photos_with_no_compreface_setting(plugin_dir: Path, tmp_path: Path,
                                                                          photos: Photos) -> None:
    """Issue #8's "done when", as Stash runs the plugin: no CompreFace setting at all, faceEngine builtin."""
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash:
        world = World(stash=stash, compreface=compreface, plugin_dir=plugin_dir, state_dir=tmp_path / "state")
        stash.configure_plugin("compreface", {"faceEngine": "builtin", "stateDir": str(world.state_dir)})
        performers, expected = _library(world, photos)
        synced = world.run("synchronizePerformers")
        assert synced.error is None, synced.logs
        assert all(SYNCED in stash.tag_names("performer", p) for p in performers.values()), synced.logs
        identified = world.run("identifyImagesNew")
        assert identified.error is None, identified.logs
        _assert_links(world, performers, expected)
        assert sum(compreface.calls.values()) == 0, compreface.calls  # CompreFace received no request


def test_synchronize_then_identify_links_real_photos_to_their_performers(real_world: World, photos: Photos) -> None:
    stash, compreface = real_world.stash, real_world.compreface
    performers, expected = _library(real_world, photos)

    synced = real_world.run("synchronizePerformers")
    assert synced.error is None, synced.logs
    assert all(SYNCED in stash.tag_names("performer", p) for p in performers.values()), synced.logs
    subjects = compreface.subject_names()
    assert len(subjects) == len(performers) and all(compreface.example_count(s) == 1 for s in subjects)
    assert sorted(subject_of(real_world, p) for p in performers.values()) == subjects  # one subject each

    identified = real_world.run("identifyImagesNew")
    assert identified.error is None, identified.logs
    _assert_links(real_world, performers, expected)
    assert compreface.calls["POST /api/v1/recognition/recognize"] >= len(expected), compreface.calls
