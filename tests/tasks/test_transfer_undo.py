"""undoRun of importFromCompreFace and exportToCompreFace: the copies leave the engine they were copied into,
the subjects the run created there go once empty, and a later import or export copies them again.

The CompreFace double runs on the built-in engine's model, so both engines see the same real photos.
"""

from __future__ import annotations

import pytest

from stash_compreface.engine.service import BuiltinFaceService
from testdoubles.photos import Photos
from tests.tasks.conftest import TaskWorld, builtin_store

OBAMA, MACRON, ARDERN = "Person 0 OBAMA", "Person 0 MACRON", "Person 0 ARDERN"


pytestmark = pytest.mark.world(engine="builtin")  # the plugin's own engine behind the CompreFace double


def enrol_builtin(world: TaskWorld, subject: str, image: bytes) -> None:
    service = BuiltinFaceService(world.state_dir)
    try:
        service.add_example(subject, image)
    finally:
        service.close()


def compreface_store(world: TaskWorld) -> dict[str, int]:
    return {subject: world.compreface.example_count(subject) for subject in world.compreface.subject_names()}


def test_undo_of_an_import_empties_the_built_in_store_of_its_copies_and_a_new_import_copies_again(
        world: TaskWorld, photos: Photos) -> None:
    enrol_builtin(world, OBAMA, photos["obama_2"])  # known to both engines before the import
    world.compreface.add_subject_example(OBAMA, photos["obama_1"])
    world.compreface.add_subject_example(OBAMA, photos["obama_3"])
    world.compreface.add_subject_example(MACRON, photos["macron_2014"])
    before, compreface_before = builtin_store(world), compreface_store(world)

    imported = world.run("importFromCompreFace")
    assert imported.error is None, imported.logs
    assert builtin_store(world) == {OBAMA: 3, MACRON: 1}

    undo = world.run("undoRun", runId=str(imported.output["runId"]))
    assert undo.error is None, undo.logs
    assert builtin_store(world) == before  # the copies and the subject the import created are gone
    assert compreface_store(world) == compreface_before  # the task's own face service (CompreFace) untouched
    assert (undo.output["examplesDeleted"], undo.output["subjectsDeleted"]) == (3, 1)

    assert world.run("undoRun", runId=str(imported.output["runId"])).error is None
    assert builtin_store(world) == before  # a second undo changes nothing

    again = world.run("importFromCompreFace")
    assert again.error is None and again.output["examples_copied"] == 3  # forgotten, so copied again
    assert builtin_store(world) == {OBAMA: 3, MACRON: 1}

    # Undoing the first import once more leaves the newer copies, and their records, alone.
    assert world.run("undoRun", runId=str(imported.output["runId"])).error is None
    assert builtin_store(world) == {OBAMA: 3, MACRON: 1}
    assert world.run("importFromCompreFace").output["examples_copied"] == 0


def test_undo_of_an_export_empties_compreface_of_its_copies_and_a_new_export_copies_again(
        world: TaskWorld, photos: Photos) -> None:
    world.configure(faceEngine="builtin")
    for subject, photo in ((OBAMA, "obama_1"), (MACRON, "macron_2014"), (ARDERN, "ardern_2018")):
        enrol_builtin(world, subject, photos[photo])
    world.compreface.add_subject_example(OBAMA, photos["obama_2"])  # known to CompreFace before the export
    before, builtin_before = compreface_store(world), builtin_store(world)

    exported = world.run("exportToCompreFace")
    assert exported.error is None, exported.logs
    assert compreface_store(world) == {OBAMA: 2, MACRON: 1, ARDERN: 1}

    undo = world.run("undoRun", runId=str(exported.output["runId"]))
    assert undo.error is None, undo.logs
    assert compreface_store(world) == before
    assert builtin_store(world) == builtin_before  # the task's own face service (built-in) untouched
    assert (undo.output["examplesDeleted"], undo.output["subjectsDeleted"]) == (3, 2)

    assert world.run("undoRun", runId=str(exported.output["runId"])).error is None
    assert compreface_store(world) == before

    again = world.run("exportToCompreFace")
    assert again.error is None and again.output["examples_copied"] == 3
    assert compreface_store(world) == {OBAMA: 2, MACRON: 1, ARDERN: 1}


def test_a_dry_run_neither_journals_a_transfer_nor_undoes_one(world: TaskWorld, photos: Photos) -> None:
    world.compreface.add_subject_example(OBAMA, photos["obama_1"])
    world.configure(dryRun=True)
    dry = world.run("importFromCompreFace")
    assert dry.error is None and dry.output["runId"] is None and dry.output["examples_copied"] == 0
    assert builtin_store(world) == {}

    world.configure()
    imported = world.run("importFromCompreFace")
    assert imported.error is None and builtin_store(world) == {OBAMA: 1}
    world.configure(dryRun=True)
    undo = world.run("undoRun", runId=str(imported.output["runId"]))
    assert undo.error is None, undo.logs
    assert any("dry run: would delete example" in m for m in undo.messages("info"))
    assert builtin_store(world) == {OBAMA: 1}
    world.configure()
    assert world.run("importFromCompreFace").output["examples_copied"] == 0  # the transfer is still recorded
