from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from stash_compreface.errors import FatalError, SettingError
from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks.journal import ExampleAdded, Journal, Linked, Tagged
from stash_compreface.tasks.state import (
    _MIGRATIONS,
    SCHEMA_VERSION,
    STATE_FILE,
    NewerStateError,
    OpenCandidate,
    Pending,
    StateLocation,
    StateStore,
    folder_is_writable,
    locate_state,
    open_state,
    user_state_dir,
)


def image(item_id: str) -> ItemRef:
    return ItemRef(ItemKind.IMAGE, item_id)


class Warnings(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def damaged_copies(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm")))


def state_with_sightings(path: Path, count: int = 400) -> None:
    store = StateStore(path)
    for i in range(count):
        store.candidates.record_sighting(f"Person {i} ABCDEFGH", image(str(i)))
    store.close()


def test_sightings_survive_reopening_and_count_distinct_images(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = StateStore(path)
    assert store.candidates.record_sighting("Person 1 A", image("10")) == 1
    assert store.candidates.record_sighting("Person 1 A", image("10")) == 1
    store.close()
    store = StateStore(path)
    assert store.candidates.record_sighting("Person 1 A", image("11")) == 2
    assert store.candidates.sightings("Person 1 A") == [image("10"), image("11")]
    assert store.promotions.performer_of("Person 1 A") is None
    store.promotions.complete("Person 1 A", "7")
    assert store.promotions.performer_of("Person 1 A") == "7"


def test_an_image_teaches_a_subject_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    assert store.learned.claim("Person 1 A", image("10"))
    assert not store.learned.claim("Person 1 A", image("10"))
    assert store.learned.claim("Person 2 B", image("10"))


def test_dry_run_reads_the_file_but_never_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    real = StateStore(path)
    real.candidates.record_sighting("Person 1 A", image("10"))
    real.close()
    before = path.read_bytes()
    dry = StateStore(path, dry_run=True)
    assert dry.candidates.record_sighting("Person 1 A", image("11")) == 2
    dry.close()
    assert path.read_bytes() == before
    assert StateStore(path).candidates.sightings("Person 1 A") == [image("10")]


def test_dry_run_creates_no_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    dry = StateStore(path, dry_run=True)
    dry.candidates.record_sighting("Person 1 A", image("10"))
    dry.close()
    assert not path.exists()


# ------------------------------------------------------------------------------------------------ damage


def _truncated(path: Path) -> None:
    state_with_sightings(path)
    path.with_name(path.name + ".backup").unlink()  # the case with no backup to restore
    os.truncate(path, path.stat().st_size // 2)


def _junk(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 20)


def _zero_length(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_text("this was overwritten by an editor\n")


def _wrong_schema(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE candidates (name TEXT, seen INTEGER)")
    db.execute("INSERT INTO candidates VALUES ('someone else', 3)")
    db.commit()
    db.close()


@pytest.mark.parametrize("damage", [_truncated, _junk, _zero_length, _text, _wrong_schema],
                         ids=["truncated", "junk", "zero-length", "text", "wrong-schema"])
def test_a_damaged_state_file_is_moved_aside_with_one_warning_and_a_fresh_one_works(tmp_path: Path,
                                                                                     damage) -> None:
    path = tmp_path / STATE_FILE
    damage(path)
    original = path.read_bytes()
    warnings = Warnings()

    store = StateStore(path, warn=warnings)
    assert store.candidates.record_sighting("Person 1 A", image("10")) == 1
    assert store.learned.claim("Person 1 A", image("10"))
    store.close()

    [moved] = damaged_copies(tmp_path)
    assert moved.read_bytes() == original, "the damaged file is kept as it was, for recovery by hand"
    assert len(warnings) == 1
    assert str(moved) in warnings[0] and str(path) in warnings[0]
    assert "candidate sightings" in warnings[0] and "learned-example claims" in warnings[0]
    reopened = StateStore(path, warn=warnings)
    assert reopened.candidates.sightings("Person 1 A") == [image("10")]
    assert len(warnings) == 1, "the new file is healthy: no second warning"
    assert user_version(path) == SCHEMA_VERSION


def test_a_damaged_file_in_a_dry_run_is_reported_but_left_alone(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    _junk(path)
    original = path.read_bytes()
    warnings = Warnings()
    store = StateStore(path, dry_run=True, warn=warnings)
    assert store.candidates.record_sighting("Person 1 A", image("10")) == 1
    store.close()
    assert path.read_bytes() == original
    assert damaged_copies(tmp_path) == []
    assert len(warnings) == 1 and "dry run" in warnings[0]


def test_a_state_file_from_a_newer_plugin_is_refused_and_not_touched(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    state_with_sightings(path, count=3)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    original = path.read_bytes()
    for dry_run in (False, True):
        with pytest.raises(NewerStateError) as refused:
            StateStore(path, dry_run=dry_run)
        assert "newer" in str(refused.value) and str(path) in str(refused.value)
        assert f"version {SCHEMA_VERSION + 5}" in str(refused.value)
    assert isinstance(refused.value, FatalError)
    assert path.read_bytes() == original
    assert damaged_copies(tmp_path) == []


def test_an_unversioned_file_from_the_first_release_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE candidates (subject TEXT PRIMARY KEY, created_at REAL NOT NULL, performer_id TEXT);
        CREATE TABLE sightings (subject TEXT NOT NULL, image_id TEXT NOT NULL, PRIMARY KEY (subject, image_id));
        CREATE TABLE learned (subject TEXT NOT NULL, image_id TEXT NOT NULL, PRIMARY KEY (subject, image_id));
        INSERT INTO candidates VALUES ('Person 1 A', 0, NULL);
        INSERT INTO sightings VALUES ('Person 1 A', '10');
        INSERT INTO learned VALUES ('Person 1 A', '10');
    """)
    db.close()
    warnings = Warnings()
    store = StateStore(path, warn=warnings)
    assert store.candidates.sightings("Person 1 A") == [image("10")]
    assert not store.learned.claim("Person 1 A", image("10"))
    store.promotions.mark_pending("Person 1 A", "7")
    assert store.promotions.pending() == [Pending("Person 1 A", "7", (image("10"),))]
    store.close()
    assert warnings == []
    assert user_version(path) == SCHEMA_VERSION


def _version_6_file(path: Path) -> None:
    """A state file as the previous plugin (schema 6) left it: an image stored as its bare id, a scene as
    ``scene:<id>``, in sightings, learned claims, refusals and the journal's examples."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for migration in _MIGRATIONS[:6]:
            for statement in migration:
                db.execute(statement)
        db.executescript("""
            PRAGMA user_version = 6;
            INSERT INTO candidates VALUES ('Person 1 A', 1.0, NULL), ('Person 2 B', 2.0, NULL);
            INSERT INTO sightings VALUES ('Person 1 A', '10'), ('Person 1 A', 'scene:3'), ('Person 2 B', '11');
            INSERT INTO learned VALUES ('Person 1 A', '10'), ('Person 1 A', 'scene:3');
            INSERT INTO pending_promotions VALUES ('Person 2 B', '7', 3.0);
            INSERT INTO refusals VALUES ('10', '5', 'person 9 x', 4.0), ('10', '5', '', 4.0), ('scene:3', '6', '', 4.0);
            INSERT INTO retired VALUES ('Person 3 C', 'rejected', 5.0);
            INSERT INTO transfers VALUES ('import', 's-1', 't-1');
            INSERT INTO runs(id, mode, started_at) VALUES (1, 'recognizeImagesHQ', 6.0);
            INSERT INTO run_writes VALUES
                (1, 1, 'link', 'image:10', '{"performers":["5"],"tags":["20"]}'),
                (1, 2, 'tags', 'scene:3', '{"tags":["21"]}'),
                (1, 3, 'example', '10', '{"example_id":"e-1","new_subject":true,"subject":"Person 1 A"}'),
                (1, 4, 'example', 'scene:3', '{"example_id":"e-2","subject":"Person 1 A"}'),
                (1, 5, 'example', '', '{"example_id":"e-3","subject":"Person 0 ALICE"}');
        """)
        db.commit()


def test_a_version_6_file_reads_back_the_same_through_item_refs(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    _version_6_file(path)
    original = path.read_bytes()
    scene = ItemRef(ItemKind.SCENE, "3")
    for dry_run in (True, False):  # a dry run migrates a copy in memory and leaves the file as it was
        warnings = Warnings()
        store = StateStore(path, dry_run=dry_run, warn=warnings)
        assert store.candidates.sightings("Person 1 A") == [image("10"), scene]
        assert store.candidates.open(10, 5) == [OpenCandidate("Person 1 A", 2, (image("10"), scene)),
                                                OpenCandidate("Person 2 B", 1, (image("11"),))]
        assert store.promotions.pending() == [Pending("Person 2 B", "7", (image("11"),))]
        assert store.refusals.refused(image("10"), performer_id="5")
        assert store.refusals.refused(image("10"), subject="Person 9 X")
        assert store.refusals.refused(scene, performer_id="6")
        assert not store.refusals.refused(image("11"), performer_id="5")
        assert store.retired.reason("Person 3 C") == "rejected"
        assert store.transfers.done("import", "s-1")
        reader = Journal(store.runs)
        assert reader.entries(1) == [
            Linked(item=image("10"), performers=("5",), tags=("20",)),
            Tagged(item=scene, tags=("21",)),
            ExampleAdded(subject="Person 1 A", example_id="e-1", item=image("10"), new_subject=True),
            ExampleAdded(subject="Person 1 A", example_id="e-2", item=scene),
            ExampleAdded(subject="Person 0 ALICE", example_id="e-3"),
        ]
        assert [e.example_id for e in reader.examples_from(image("10"), ["Person 1 A"])] == ["e-1"]
        assert [e.example_id for e in reader.examples_from(scene, ["Person 1 A"])] == ["e-2"]
        # The claims hold under the new encoding: neither item teaches Person 1 A a second face.
        assert not store.learned.claim("Person 1 A", image("10"))
        assert not store.learned.claim("Person 1 A", scene)
        assert store.learned.claim("Person 1 A", image("11"))
        store.close()
        assert warnings == []
        if dry_run:
            assert path.read_bytes() == original
    assert user_version(path) == SCHEMA_VERSION
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert {row[1] for row in db.execute("PRAGMA table_info(sightings)")} == {"subject", "item"}
        assert {row[1] for row in db.execute("PRAGMA table_info(learned)")} == {"subject", "item"}
        assert db.execute("SELECT item FROM sightings ORDER BY item").fetchall() == [
            ("image:10",), ("image:11",), ("scene:3",)]
        assert db.execute("SELECT DISTINCT item FROM refusals ORDER BY item").fetchall() == [
            ("image:10",), ("scene:3",)]
        assert db.execute("SELECT target FROM run_writes WHERE kind = 'example' ORDER BY seq").fetchall() == [
            ("image:10",), ("scene:3",), ("",)]


def test_items_are_stored_in_one_encoding(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    store = StateStore(path)
    gallery = ItemRef(ItemKind.GALLERY, "4")
    store.candidates.record_sighting("Person 1 A", image("10"))
    store.candidates.record_sighting("Person 1 A", ItemRef(ItemKind.SCENE, "3"))
    store.learned.claim("Person 1 A", image("10"))
    store.refusals.add(gallery, "5", ["Person 1 A"])
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        stored = {item for table in ("sightings", "learned", "refusals")
                  for (item,) in db.execute(f"SELECT item FROM {table}")}
    assert stored == {"image:10", "scene:3", "gallery:4"}


def test_a_state_file_that_cannot_be_opened_is_an_error_not_damage(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.mkdir()
    with pytest.raises(FatalError) as failed:
        StateStore(path)
    assert str(path) in str(failed.value)
    assert path.is_dir(), "a folder in the way is not ours to move"
    assert damaged_copies(tmp_path) == []


# ------------------------------------------------------------------------------------------------ pending


def test_a_promotion_killed_before_its_links_is_found_by_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    store = StateStore(path)
    store.candidates.record_sighting("Person 1 A", image("10"))
    store.candidates.record_sighting("Person 1 A", image("11"))
    store.candidates.record_sighting("Person 2 B", image("12"))
    store.promotions.mark_pending("Person 1 A", "7")
    store.close()  # the run dies here, before the links are written

    store = StateStore(path)
    assert store.promotions.pending() == [Pending("Person 1 A", "7", (image("10"), image("11")))]
    store.promotions.complete("Person 1 A", "7")
    assert store.promotions.pending() == []
    assert store.promotions.performer_of("Person 1 A") == "7"
    store.promotions.mark_pending("Person 2 B", "8")
    store.promotions.clear_pending("Person 2 B")
    assert store.promotions.pending() == []
    assert store.promotions.performer_of("Person 2 B") is None


# ------------------------------------------------------------------------------------------------ location


def test_configured_folder_wins(tmp_path: Path) -> None:
    warnings = Warnings()
    location = locate_state(preferred=tmp_path / "plugin" / "data", configured=tmp_path / "mine",
                            fallback=tmp_path / "user", warn=warnings)
    assert location == StateLocation(tmp_path / "mine")
    assert warnings == []


def test_a_configured_folder_that_is_not_writable_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingError) as refused:
        locate_state(preferred=tmp_path / "data", configured=tmp_path / "ro", fallback=tmp_path / "user",
                     warn=Warnings(), writable=lambda folder: folder.name != "ro")
    assert refused.value.setting == "stateDir" and str(tmp_path / "ro") in str(refused.value)


def test_a_writable_plugin_folder_is_used_quietly(tmp_path: Path) -> None:
    warnings = Warnings()
    location = locate_state(preferred=tmp_path / "data", fallback=tmp_path / "user", warn=warnings)
    assert location.file == tmp_path / "data" / STATE_FILE
    assert warnings == []


def test_a_read_only_plugin_folder_falls_back_and_carries_its_state_over(tmp_path: Path) -> None:
    preferred, fallback = tmp_path / "plugin" / "data", tmp_path / "user"
    old = StateStore(preferred / STATE_FILE)
    old.candidates.record_sighting("Person 1 A", image("10"))
    old.close()
    before = (preferred / STATE_FILE).read_bytes()
    warnings = Warnings()

    location = locate_state(preferred=preferred, fallback=fallback, warn=warnings,
                            writable=lambda folder: folder != preferred)
    assert location.folder == fallback
    assert len(warnings) == 1 and str(preferred) in warnings[0] and str(fallback) in warnings[0]
    assert "stateDir" in warnings[0]

    store = open_state(location, warn=warnings)
    assert store.candidates.record_sighting("Person 1 A", image("11")) == 2
    store.close()
    assert (fallback / STATE_FILE).exists()
    assert (preferred / STATE_FILE).read_bytes() == before

    # Next run: the fallback has its own file now, and it is the one that counts.
    again = locate_state(preferred=preferred, fallback=fallback, warn=warnings,
                         writable=lambda folder: folder != preferred)
    assert again.seed is None
    assert open_state(again, warn=warnings).candidates.sightings("Person 1 A") == [image("10"), image("11")]


def test_a_dry_run_in_a_read_only_plugin_folder_reads_the_old_state_and_writes_nothing(tmp_path: Path) -> None:
    preferred, fallback = tmp_path / "data", tmp_path / "user"
    old = StateStore(preferred / STATE_FILE)
    old.candidates.record_sighting("Person 1 A", image("10"))
    old.close()
    location = locate_state(preferred=preferred, fallback=fallback, warn=Warnings(),
                            writable=lambda folder: folder != preferred)
    store = open_state(location, warn=Warnings(), dry_run=True)
    assert store.candidates.record_sighting("Person 1 A", image("11")) == 2
    store.close()
    assert not (fallback / STATE_FILE).exists()


def test_nowhere_writable_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FatalError) as failed:
        locate_state(preferred=tmp_path / "data", fallback=tmp_path / "user", warn=Warnings(),
                     writable=lambda folder: False)
    assert "stateDir" in str(failed.value)
    assert str(tmp_path / "data") in str(failed.value) and str(tmp_path / "user") in str(failed.value)


def test_a_chmod_read_only_folder_is_seen_as_not_writable(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes (the injected check covers this)")
        assert not folder_is_writable(folder)
        warnings = Warnings()
        location = locate_state(preferred=folder, fallback=tmp_path / "user", warn=warnings)
        assert location.folder == tmp_path / "user" and len(warnings) == 1
    finally:
        folder.chmod(stat.S_IRWXU)


def test_folder_is_writable_creates_a_missing_folder(tmp_path: Path) -> None:
    assert folder_is_writable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == [], "the probe leaves nothing behind"


def test_a_file_where_the_folder_should_be_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("x")
    assert not folder_is_writable(tmp_path / "data")


def test_user_state_dir_per_platform(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9999"
    assert user_state_dir(url, environ={"XDG_DATA_HOME": str(tmp_path)}, windows=False) == (
        tmp_path / "stash-compreface" / "127_0_0_1_9999")
    assert user_state_dir(url, environ={}, windows=False) == (
        Path.home() / ".local" / "share" / "stash-compreface" / "127_0_0_1_9999")
    assert user_state_dir(url, environ={"LOCALAPPDATA": str(tmp_path)}, windows=True) == (
        tmp_path / "stash-compreface" / "127_0_0_1_9999")
    assert user_state_dir("https://stash.lan", environ={}, windows=False).name == "stash_lan"
