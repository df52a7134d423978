"""Decisions survive damage (issue 16): the verified backups of the state file and the face store, what a
damaged, missing or foreign file becomes, the refusal of a lost face store, and run ids that never repeat."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from stash_compreface.engine import FACES_FILE
from stash_compreface.engine.service import BuiltinFaceService
from stash_compreface.engine.store import SubjectStore
from stash_compreface.errors import FatalError
from stash_compreface.runtime import engines
from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks.state import STATE_FILE, StateStore
from stash_compreface.tasks.state.schema import SCHEMA_VERSION

ITEM = ItemRef(ItemKind.IMAGE, "12")


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def backup(path: Path) -> Path:
    return path.with_name(path.name + ".backup")


def moved_aside(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f"{name}.damaged-") and not p.name.endswith("-wal")]


def decided(path: Path) -> None:
    """A run that recorded a refusal, a retirement and a journalled run."""
    store = StateStore(path)
    store.refusals.add(ITEM, "7", ["Person 1 A"])
    store.retired.add("Person 2 B", "rejected")
    store.runs.append(store.runs.start("recognizeImagesHQ"), "link", "image:12", "{}")
    store.close()


def test_a_run_that_changed_the_state_leaves_a_verified_backup_and_one_that_did_not_leaves_none(tmp_path: Path):
    path = tmp_path / STATE_FILE
    StateStore(path).close()  # created: nothing decided yet
    assert not backup(path).exists()
    decided(path)
    copy = sqlite3.connect(backup(path))
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("SELECT COUNT(*) FROM refusals").fetchone() == (2,)
    copy.close()
    stamp = backup(path).stat().st_mtime_ns
    StateStore(path).close()  # read only
    StateStore(path, dry_run=True).close()
    assert backup(path).stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


@pytest.mark.parametrize("damage", ["junk", "truncated", "deleted"])
def test_a_damaged_or_deleted_state_is_restored_from_its_backup_and_the_warning_names_what_may_be_lost(
        tmp_path: Path, damage: str) -> None:
    path = tmp_path / STATE_FILE
    decided(path)
    if damage == "junk":
        path.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        os.truncate(path, 1000)
    else:
        path.unlink()
    warnings = Warnings()
    store = StateStore(path, warn=warnings)
    assert store.refusals.refused(ITEM, performer_id="7")
    assert store.retired.reason("Person 2 B") == "rejected"
    assert store.runs.record(1) == ("recognizeImagesHQ", False, False)
    store.close()
    (warning,) = warnings
    assert "backup" in warning and "restored" in warning
    for kind in ("refusals", "retired subjects", "journal runs", "journal entries", "sightings"):
        assert kind in warning, warning
    if damage != "deleted":
        (moved,) = moved_aside(tmp_path, STATE_FILE)
        assert str(moved) in warning


def test_a_readable_but_damaged_file_counts_what_it_held_beyond_the_backup(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    decided(path)
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO refusals VALUES (?, '9', '', 0)", [(f"image:{i}",) for i in range(3)])
    db.execute("PRAGMA application_id = 1")  # now it reads as someone else's file
    db.commit()
    db.close()
    warnings = Warnings()
    StateStore(path, warn=warnings).close()
    (warning,) = warnings
    assert "another program's database" in warning and "Lost since then: 3 refusals" in warning


def test_a_foreign_database_is_moved_aside_naming_it_as_not_ours_and_an_old_file_of_ours_is_stamped(
        tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    other.commit()
    other.close()
    warnings = Warnings()
    StateStore(path, warn=warnings).close()
    (warning,) = warnings
    assert "not a stash-compreface state file" in warning and "moz_places" in warning
    (moved,) = moved_aside(tmp_path, STATE_FILE)
    assert sqlite3.connect(moved).execute("SELECT name FROM sqlite_master").fetchall() == [("moz_places",)]

    faces = tmp_path / FACES_FILE  # the face store is not a state file either
    SubjectStore(faces).close()
    os.replace(faces, path)
    warnings.clear()
    StateStore(path, warn=warnings).close()
    assert len(warnings) == 1 and "application_id" in warnings[0]

    old = tmp_path / "old" / STATE_FILE  # ours, from before the mark (version 7): adopted and stamped
    decided(old)
    set_back(old)
    warnings.clear()
    StateStore(old, warn=warnings).close()
    assert warnings == []
    assert sqlite3.connect(old).execute("PRAGMA application_id").fetchone()[0] != 0


def set_back(path: Path) -> None:
    """Make the file one of version 7, as an update finds it (what migrations 8 to 10 add, taken out)."""
    db = sqlite3.connect(path)
    db.executescript("PRAGMA application_id = 0; PRAGMA user_version = 7; ALTER TABLE runs DROP COLUMN library; "
                     "ALTER TABLE unknown_faces DROP COLUMN score;")
    db.close()


def open_together(path: Path, runs: int = 2) -> tuple[Warnings, list[BaseException]]:
    """``runs`` runs that open the state at the same instant (two tasks, or a task and a look from the UI)."""
    start, warnings, errors = threading.Barrier(runs), Warnings(), []

    def one() -> None:
        start.wait()
        try:
            StateStore(path, warn=warnings).close()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return warnings, errors


def test_runs_that_open_the_state_at_once_on_a_new_file_or_after_an_update_both_open_it_and_keep_everything(
        tmp_path: Path) -> None:
    """Opening is one at a time (``<file>.open-lock``): without it, the second run found the first's new file
    empty and moved it aside under it, or migrated an updated file a second time, found it "damaged" and moved
    the user's decisions aside."""
    for trial in range(8):
        new = tmp_path / f"new-{trial}" / STATE_FILE
        assert open_together(new) == ([], [])
        assert moved_aside(new.parent, STATE_FILE) == []

        updated = tmp_path / f"updated-{trial}" / STATE_FILE
        decided(updated)
        set_back(updated)
        assert open_together(updated) == ([], [])
        assert moved_aside(updated.parent, STATE_FILE) == []
        db = sqlite3.connect(updated)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT COUNT(*) FROM refusals").fetchone() == (2,)
        db.close()


def test_run_ids_never_repeat_after_the_state_is_reset(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    store = StateStore(path)
    assert [store.runs.start("recognizeImagesHQ") for _ in range(3)] == [1, 2, 3]
    store.close()
    for gone in (path, backup(path)):
        gone.unlink()
    store = StateStore(path)
    assert store.runs.start("recognizeImagesHQ") == 4
    assert store.runs.record(1) is None  # undoRun 1 finds nothing, rather than run 4
    store.close()

    store = StateStore(path)  # the backup holds run 4; run 5 is started and the file lost before its backup
    assert store.runs.start("identifyImagesAll") == 5
    store._shared._close = store._shared._db.close  # killed: no backup
    store.close()
    path.write_bytes(b"junk" * 1000)
    store = StateStore(path, warn=Warnings())
    assert store.runs.record(4) is not None and store.runs.start("identifyImagesAll") == 6
    store.close()


def test_each_run_records_its_library(tmp_path: Path) -> None:
    store = StateStore(tmp_path / STATE_FILE)
    store.library = "/data/stash-go.sqlite"
    run_id = store.runs.start("recognizeImagesHQ")
    assert store.runs.library_of(run_id) == "/data/stash-go.sqlite"
    store.close()


# -- the face store ---------------------------------------------------------------------------------------


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_a_damaged_face_store_is_restored_from_its_backup(tmp_path: Path) -> None:
    path = tmp_path / FACES_FILE
    store = SubjectStore(path)
    for n, name in enumerate(["Alice", "Bob"]):
        store.add_example(name, "m", unit(n))
    store.close()
    path.write_bytes(b"overwritten" * 1000)
    warnings = Warnings()
    store = SubjectStore(path, warn=warnings)
    assert store.subjects() == ["Alice", "Bob"] and store.origin == "restored"
    store.close()
    (warning,) = warnings
    assert "restored" in warning and "subjects" in warning and "examples" in warning


def lost_store(folder: Path, record: dict[str, object] | None) -> BuiltinFaceService:
    """A face store that is damaged with no backup, beside ``engine.json`` holding ``record``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FACES_FILE).write_bytes(b"overwritten" * 1000)
    if record is not None:
        (folder / engines.ENGINE_FILE).write_text(json.dumps(record))
    return BuiltinFaceService(folder, stop=threading.Event(), warn=Warnings())


def test_a_lost_face_store_refuses_runs_that_could_create_performers_until_it_is_rebuilt(tmp_path: Path) -> None:
    service = lost_store(tmp_path, {"engine": "builtin", "subjects": 3})
    try:
        for _ in range(2):  # the fresh empty file left by the first refusal does not let the second through
            with pytest.raises(FatalError) as refused:
                engines.confirm_library_engine(tmp_path, "builtin", service, dry_run=False, mode="recognizeImagesHQ")
            assert "Synchronize Performers" in str(refused.value) and "Import Subjects" in str(refused.value)
            assert str(tmp_path / FACES_FILE) in str(refused.value)
        engines.confirm_library_engine(tmp_path, "builtin", service, dry_run=False, mode="synchronizePerformers")
        service.store.add_example("Alice", "m", unit(1))  # what Synchronize Performers does
    finally:
        service.close()  # changed: a backup now exists
    service = BuiltinFaceService(tmp_path, stop=threading.Event())
    try:
        engines.confirm_library_engine(tmp_path, "builtin", service, dry_run=False, mode="recognizeImagesHQ")
        assert engines.recorded_subjects(tmp_path) == 1
    finally:
        service.close()


def test_a_genuinely_first_run_and_a_store_emptied_on_purpose_are_not_refused(tmp_path: Path) -> None:
    first = BuiltinFaceService(tmp_path / "first", stop=threading.Event())
    (tmp_path / "first").mkdir()
    engines.confirm_library_engine(tmp_path / "first", "builtin", first, dry_run=False, mode="recognizeImagesHQ")
    first.close()

    folder = tmp_path / "emptied"  # an undo deleted the only subject: the store was changed, so it has a backup
    service = BuiltinFaceService(folder, stop=threading.Event())
    folder.mkdir()
    engines.confirm_library_engine(folder, "builtin", service, dry_run=False, mode="recognizeImagesHQ")
    service.store.add_example("Alice", "m", unit(1))
    service.close()
    service = BuiltinFaceService(folder, stop=threading.Event())
    engines.confirm_library_engine(folder, "builtin", service, dry_run=False, mode="undoRun")
    service.store.delete_subject("Alice")
    service.close()
    service = BuiltinFaceService(folder, stop=threading.Event())
    engines.confirm_library_engine(folder, "builtin", service, dry_run=False, mode="recognizeImagesHQ")
    service.close()
