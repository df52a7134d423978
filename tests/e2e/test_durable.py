"""Decisions survive damage (issue 16), as Stash runs the plugin: a damaged face store or state file is replaced
by its last verified backup, so known people stay known, a rejection stays rejected, and run ids never repeat."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testdoubles.compreface import CompreFaceDouble
from testdoubles.photos import Photos
from testdoubles.stash import StashDouble
from tests.e2e.world import COOKIE, World
from tests.library import enrol, photo

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one worker, one plugin venv

PROFILES = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018"}
NEW_PHOTOS = ("obama_2", "obama_3", "macron_2025", "ardern_2022")  # two of Obama: enough for a new performer


def ok(world: World, mode: str, **args: str) -> dict:
    run = world.run(mode, **args)
    assert run.error is None, (run.error, run.messages("error"))
    return run.output


def test_a_damaged_face_store_is_restored_and_known_people_never_become_new_performers(
        plugin_dir: Path, tmp_path: Path, photos: Photos) -> None:
    with CompreFaceDouble.running() as compreface, StashDouble.running(session_cookie=COOKIE) as stash:
        world = World(stash=stash, compreface=compreface, plugin_dir=plugin_dir, state_dir=tmp_path / "state")
        stash.configure_plugin("compreface", {"faceEngine": "builtin", "stateDir": str(world.state_dir)})
        performers = {name: stash.add_performer(name, image=photos[p]) for name, p in PROFILES.items()}
        ok(world, "synchronizePerformers")  # the run that learned them
        faces = world.state_dir / "faces.sqlite3"
        os.truncate(faces, faces.stat().st_size // 2)

        images = {name: stash.add_image(photos[name], path=f"/photos/{name}.jpg") for name in NEW_PHOTOS}
        run = world.run("recognizeImagesHQ")
        assert run.error is None, run.logs
        assert set(stash.performers) == set(performers.values()), "nobody new: they are all known"
        assert performers["Obama"] in stash.images[images["obama_2"]].performer_ids
        (warning,) = [m for m in run.messages("warning") if str(faces) in m]
        assert "backup" in warning and "restored" in warning and "subjects" in warning and "examples" in warning

        # Damaged again, and this time with no backup either: refused, naming the repair, nobody created.
        faces.write_bytes(b"overwritten by something else" * 500)
        Path(f"{faces}.backup").unlink()
        more = stash.add_image(photos["obama_portrait"], path="/photos/obama_portrait.jpg")
        refused = world.run("recognizeImagesHQ")
        assert refused.error is not None and "Synchronize Performers" in refused.error
        assert set(stash.performers) == set(performers.values()) and not stash.images[more].performer_ids
        ok(world, "synchronizePerformers")  # the repair: enrols them again from their images
        ok(world, "recognizeImagesHQ")
        assert set(stash.performers) == set(performers.values())


def test_a_damaged_state_keeps_the_rejection_and_run_ids_never_repeat(world: World) -> None:
    alice = enrol(world, "Alice", 1)
    wrong = world.stash.add_image(photo(1, size=180, seed=1))
    first = ok(world, "recognizeImagesHQ")["runId"]
    assert alice in world.stash.images[wrong].performer_ids
    ok(world, "rejectMatch", imageId=wrong, performerId=alice)

    state = world.state_dir / "state.sqlite3"
    state.write_bytes(os.urandom(16384))  # overwritten
    later = world.stash.add_image(photo(1, size=160, seed=3))
    run = world.run("identifyImagesAll")
    assert run.error is None, run.logs
    assert alice not in world.stash.images[wrong].performer_ids, "the rejection holds"
    assert alice in world.stash.images[later].performer_ids
    (warning,) = [m for m in run.messages("warning") if str(state) in m]
    assert "backup" in warning and "restored" in warning
    assert all(kind in warning for kind in ("refusals", "retired subjects", "journal runs", "sightings")), warning
    second = run.output["runId"]
    assert second > first

    # Reset with no backup at all: the next run still gets a new id, and undoRun of an older one never
    # reverts it.
    state.unlink()
    Path(f"{state}.backup").unlink()
    newest = world.stash.add_image(photo(1, size=150, seed=4))
    third = ok(world, "identifyImagesAll")["runId"]
    assert third > second
    for older in (first, second):
        undo = world.run("undoRun", runId=str(older))
        assert undo.error is not None and "not in the state file" in undo.error
    assert alice in world.stash.images[newest].performer_ids and alice in world.stash.images[later].performer_ids
