"""importFromCompreFace and exportToCompreFace on real photos: each example copied once, and the people are
recognized by the other engine afterwards (the CompreFace double runs on the built-in engine's model)."""

from __future__ import annotations

import pytest

from testdoubles.photos import Photos
from tests.library import MATCHED
from tests.tasks.conftest import TaskWorld, builtin_store

PEOPLE = {"Obama": ("obama_1", "obama_2"), "Macron": ("macron_2014", "macron_2025"),
          "Ardern": ("ardern_2018", "ardern_2022")}


pytestmark = pytest.mark.world(engine="builtin")  # the plugin's own engine behind the CompreFace double


def _use(world: TaskWorld, engine: str) -> None:
    world.configure(faceEngine=engine)


def _subject(name: str) -> str:
    return f"Person 0 {name.upper():A<16.16}"


def test_import_copies_each_example_once_and_the_built_in_engine_recognizes_them(world, photos: Photos) -> None:
    for name, (profile, _) in PEOPLE.items():
        world.compreface.add_subject_example(_subject(name), photos[profile])
    world.compreface.add_subject_example(_subject("Obama"), photos["obama_3"])
    _use(world, "builtin")

    first = world.run("importFromCompreFace")
    assert first.error is None, first.logs
    assert first.output["examples_copied"] == 4
    assert builtin_store(world) == {_subject("Obama"): 2, _subject("Macron"): 1, _subject("Ardern"): 1}
    again = world.run("importFromCompreFace")
    assert again.error is None and again.output["examples_copied"] == 0  # a rerun copies nothing twice
    assert builtin_store(world) == {_subject("Obama"): 2, _subject("Macron"): 1, _subject("Ardern"): 1}

    performers = {name: world.stash.add_performer(name, aliases=[_subject(name)]) for name in PEOPLE}
    images = {name: world.stash.add_image(photos[other]) for name, (_, other) in PEOPLE.items()}
    calls = sum(world.compreface.calls.values())
    identified = world.run("identifyImagesNew")
    assert identified.error is None, identified.logs
    for name, image in images.items():
        assert world.stash.images[image].performer_ids == {performers[name]}, name
        assert MATCHED in world.stash.tag_names("image", image)
    assert sum(world.compreface.calls.values()) == calls  # the built-in engine did it alone


def test_export_copies_the_built_in_store_into_compreface(world, photos: Photos) -> None:
    _use(world, "builtin")
    performers = {name: world.stash.add_performer(name, image=photos[profile])
                  for name, (profile, _) in PEOPLE.items()}
    synced = world.run("synchronizePerformers")
    assert synced.error is None, synced.logs
    subjects = set(builtin_store(world))
    assert len(subjects) == len(PEOPLE)

    # A key appears (faceEngine auto): an empty CompreFace would make everyone a new performer, so no run goes
    # there until the faces are exported.
    world.configure(faceEngine="auto")
    images = {name: world.stash.add_image(photos[other]) for name, (_, other) in PEOPLE.items()}
    before = world.stash.mutation_count()
    refused = world.run("recognizeImagesHQ")
    assert refused.error is not None and "run Export Subjects to CompreFace first" in refused.error
    assert f"{len(PEOPLE)} subjects in {world.state_dir / 'faces.sqlite3'}" in refused.error
    assert world.stash.mutation_count() == before and world.compreface.subject_names() == []

    exported = world.run("exportToCompreFace")
    assert exported.error is None, exported.logs
    assert exported.output["examples_copied"] == len(PEOPLE)
    assert set(world.compreface.subject_names()) == subjects
    assert world.run("exportToCompreFace").output["examples_copied"] == 0

    identified = world.run("identifyImagesNew")
    assert identified.error is None, identified.logs
    for name, image in images.items():
        assert world.stash.images[image].performer_ids == {performers[name]}, name


def test_a_library_on_compreface_does_not_fall_back_to_an_empty_built_in_engine(world, photos: Photos) -> None:
    performer = world.stash.add_performer("Obama", aliases=[_subject("Obama")])
    world.compreface.add_subject_example(_subject("Obama"), photos["obama_1"])
    image = world.stash.add_image(photos["obama_2"])
    assert world.run("identifyImagesNew").error is None  # CompreFace is this library's engine from now on
    assert world.stash.images[image].performer_ids == {performer}

    world.stash.configure_plugin("compreface", {})  # the key is cleared: auto now means the built-in engine
    world.stash.add_image(photos["obama_3"])
    refused = world.run("recognizeImagesHQ")
    assert refused.error is not None and "run Import Subjects from CompreFace first" in refused.error
    assert str(world.state_dir / "engine.json") in refused.error  # how to start over empty on purpose
    assert len(world.stash.performers) == 1

    world.configure(faceEngine="builtin")  # key back for the import; the engine stays the built-in one
    assert world.run("importFromCompreFace").error is None
    world.stash.configure_plugin("compreface", {})
    after = world.run("recognizeImagesHQ")
    assert after.error is None and after.output["matched"] == 1 and len(world.stash.performers) == 1


def test_dry_run_copies_nothing(world, photos: Photos) -> None:
    world.compreface.add_subject_example(_subject("Obama"), photos["obama_1"])
    world.configure(faceEngine="builtin", dryRun=True)
    run = world.run("importFromCompreFace")
    assert run.error is None and run.output["examples_copied"] == 0
    assert any("dry run: would add example" in m for m in run.messages("info"))
    assert builtin_store(world) == {}
