"""Issue #8's "done when", in-process: a library of real photos, the built-in engine, no CompreFace.

Performers get a profile photo each; the other photos are images. synchronizePerformers then
identifyImagesNew must link performers with precision >= 0.99 and recall >= 0.90, and the CompreFace
double must receive no request at all.
"""

from __future__ import annotations

import pytest

from stash_compreface.engine.service import BuiltinFaceService
from testdoubles.photos import side_by_side
from tests.library import SYNCED

PROFILES = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018", "Sunak": "sunak"}


pytestmark = pytest.mark.world(settings={})  # the plugin has no CompreFace setting at all


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
    synced = world.run("synchronizePerformers")  # no settings at all: faceEngine auto picks the built-in engine
    assert synced.error is None, synced.logs
    assert any("Face engine: built-in" in m for m in synced.messages("info"))
    assert all(SYNCED in stash.tag_names("performer", p) for p in performers.values()), synced.logs
    service = BuiltinFaceService(world.state_dir, backend=model)
    try:
        assert len(service.list_subjects()) == len(performers)  # the store the plugin wrote, beside its state
    finally:
        service.close()

    identified = world.run("identifyImagesNew")
    assert identified.error is None, identified.logs

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
