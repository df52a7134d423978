"""The typed journal: each entry kind stored and read back, a run opened by its first write, retention, and a
journal written by the previous layout migrated to the typed one."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from stash_compreface.stash.models import ItemKind, ItemRef
from stash_compreface.tasks import journal
from stash_compreface.tasks.journal import (
    KINDS,
    AliasAdded,
    CandidateRetired,
    Entry,
    ExampleAdded,
    ExampleCopied,
    ExampleRemoved,
    Journal,
    Linked,
    PerformerCreated,
    PerformerSeen,
    PerformersMerged,
    PerformerTagged,
    SubjectMerged,
    Tagged,
    decode,
    encode,
)
from stash_compreface.tasks.state import _MIGRATIONS, StateStore

IMAGE_12 = ItemRef(ItemKind.IMAGE, "12")
ONE_OF_EACH: list[Entry] = [
    Linked(item=ItemRef(ItemKind.IMAGE, "12"), performers=("5", "6"), tags=("10",), removed_tags=("12",)),
    Linked(item=ItemRef(ItemKind.SCENE, "3"), performers=("6",), maybe_tags=("11",)),
    Tagged(item=ItemRef(ItemKind.GALLERY, "4"), tags=("10", "12")),
    PerformerCreated(performer_id="6", name="Person 12 ABCDEFGHIJKLMNOP"),
    PerformerSeen(performer_id="6", name="Person 12 ABCDEFGHIJKLMNOP", aliases=(), image_path="/performer/6/image?t=1",
                  tags=()),
    AliasAdded(performer_id="5", alias="Person 12 ABCDEFGHIJKLMNOP"),
    PerformerTagged(performer_id="5", tags=("13",)),
    ExampleAdded(subject="Person 12 ABCDEFGHIJKLMNOP", example_id="e-1", item=IMAGE_12, new_subject=True),
    ExampleAdded(subject="Person 0 ALICE", example_id="e-2"),  # from a performer's own image: no item
    ExampleCopied(subject="Person 0 ALICE", engine="builtin", example_id="e-3", direction="import", source_id="s-1",
                  new_subject=True),
    CandidateRetired(subject="Person 7 QRSTUVWXYZABCDEF", reason="rejected", previous="unlinked"),
    SubjectMerged(subject="Person 7 QRSTUVWXYZABCDEF", into="Person 12 ABCDEFGHIJKLMNOP", engine="builtin",
                  copies=("e-4", "e-5"), sightings=(IMAGE_12, ItemRef(ItemKind.SCENE, "3")), deleted=True),
    ExampleRemoved(subject="Person 0 ALICE", example_id="e-2", engine="compreface", image="/9j/4AAQ", item=IMAGE_12),
    PerformersMerged(removed_id="7", into_id="6", name="Person 14 QRSTUVWXYZ012345", aliases=("Person 15 X",),
                     subjects=("Person 14 QRSTUVWXYZ012345", "Person 15 X"), image="/9j/", image_ids=("12", "13"),
                     scene_ids=()),
]


def test_every_kind_reads_back_as_it_was_written() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(KINDS.values())
    assert {cls.KIND for cls in KINDS.values()} == set(KINDS)  # one stored name per class
    for entry in ONE_OF_EACH:
        assert decode(*encode(entry)) == entry


def test_an_entry_is_stored_compactly() -> None:
    """The item is in the target only, empty fields are left out, JSON without spaces (a link row: about 65
    bytes on disk)."""
    kind, target, detail = encode(Linked(item=ItemRef(ItemKind.IMAGE, "123456"), performers=("5",), tags=("10", "11")))
    assert (kind, target, detail) == ("link", "image:123456", '{"performers":["5"],"tags":["10","11"]}')
    assert encode(ExampleAdded(subject="Person 0 ALICE", example_id="e-2"))[1:] == (
        "", '{"example_id":"e-2","subject":"Person 0 ALICE"}')


def test_a_run_is_opened_by_its_first_write_and_never_by_a_look() -> None:
    state = StateStore(None)
    look = Journal(state.runs)
    look.begin("identifyImage")
    assert look.run_id is None and state.runs.record(1) is None  # nothing written: no run

    unarmed = Journal(state.runs)  # a correction (rejectMatch, undoRun) is not a run to undo
    unarmed.record(Tagged(item=ItemRef(ItemKind.IMAGE, "1"), tags=("10",)))
    assert unarmed.run_id is None and state.runs.record(1) is None

    dry = Journal(state.runs, dry_run=True)
    dry.begin("recognizeImagesHQ")
    dry.record(Tagged(item=ItemRef(ItemKind.IMAGE, "1"), tags=("10",)))
    assert dry.run_id is None and state.runs.record(1) is None

    run = Journal(state.runs)
    run.begin("recognizeImagesHQ")
    run.record(ONE_OF_EACH[0])
    run.record(ONE_OF_EACH[2])
    assert run.run_id == 1 and run.open() == 1  # opened once
    assert run.entries(1) == [ONE_OF_EACH[0], ONE_OF_EACH[2]]
    assert run.run(1) == journal.RunRecord(1, "recognizeImagesHQ", undone=False, trimmed=False)


def test_only_the_last_journal_runs_keep_their_entries() -> None:
    state = StateStore(None)
    for number in range(1, 6):
        run = Journal(state.runs, keep_runs=3)
        run.begin("recognizeImagesHQ")
        run.record(Tagged(item=ItemRef(ItemKind.IMAGE, str(number)), tags=("10",)))
    reader = Journal(state.runs)
    assert [reader.entries(n) != [] for n in range(1, 6)] == [False, False, True, True, True]
    assert [reader.run(n).trimmed for n in range(1, 6)] == [True, True, False, False, False]  # type: ignore[union-attr]
    assert [r.run_id for r in state.runs.recent(20)] == [5, 4, 3]  # the review page lists what can be undone


def test_the_readers_find_links_and_examples_through_the_typed_entries() -> None:
    state = StateStore(None)
    first = Journal(state.runs)
    first.begin("recognizeImagesHQ")
    for entry in ONE_OF_EACH:
        first.record(entry)
    second = Journal(state.runs)
    second.begin("identifyImagesAll")
    second.record(Linked(item=ItemRef(ItemKind.IMAGE, "12"), performers=("7",)))
    # Each run's first links of performers (not plain tags) and how many in all, in one query; run 3 has none.
    assert first.links([1, 2, 3], 1) == {1: ([ONE_OF_EACH[0]], 2), 2: ([Linked(item=IMAGE_12, performers=("7",))], 1)}
    assert first.examples_from(IMAGE_12, ["person 12 abcdefghijklmnop"]) == [ONE_OF_EACH[7]]  # names match casefolded
    assert first.examples_from(IMAGE_12, ["Person 0 ALICE"]) == []
    assert first.linked_elsewhere(1) == {IMAGE_12}  # run 2 linked image 12 too
    first.mark_undone(2)
    assert first.linked_elsewhere(1) == frozenset()


def _version_5_file(path: Path) -> None:
    """A state file as the previous plugin (schema 5) left it, with its journal in the old layout."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for migration in _MIGRATIONS[:5]:
            for statement in migration:
                db.execute(statement)
        db.execute("PRAGMA user_version = 5")
        db.execute("INSERT INTO runs(id, mode, started_at) VALUES (1, 'recognizeImagesHQ', 1.0)")
        old = [
            ("link", "image:12", {"item": "12", "kind": "image", "performers": ["5"], "tags": ["10", "11"]}),
            ("link", "image:13", {"item": "13", "kind": "image", "performers": [], "tags": ["10"]}),
            ("link", "scene:3", {"item": "3", "kind": "scene", "performers": ["6"], "maybe_tags": ["11"],
                                 "removed_tags": ["12"]}),
            ("performer", "6", {"name": "Person 3 X"}),
            ("performer_state", "6", {"name": "Person 3 X", "aliases": [], "image_path": "/p/6?t=1", "tags": []}),
            ("alias", "5", {"alias": "Person 3 X"}),
            ("performer_tags", "5", {"tags": ["13"]}),
            ("example", "Person 3 X", {"example_id": "e-1", "item": "scene:3", "new_subject": True}),
            ("example", "Person 0 ALICE", {"example_id": "e-2", "item": None, "new_subject": False}),
            ("copied_example", "Person 0 ALICE", {"engine": "builtin", "example_id": "e-3", "direction": "import",
                                                  "source_id": "s-1", "new_subject": False}),
        ]
        for seq, (kind, target, detail) in enumerate(old, start=1):
            db.execute("INSERT INTO run_writes VALUES (1, ?, ?, ?, ?)", (seq, kind, target, json.dumps(detail)))
        db.commit()


def test_a_journal_of_the_previous_layout_is_migrated_and_reads_as_typed_entries(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    _version_5_file(path)
    state = StateStore(path)
    reader = Journal(state.runs)
    assert reader.entries(1) == [
        Linked(item=ItemRef(ItemKind.IMAGE, "12"), performers=("5",), tags=("10", "11")),
        Tagged(item=ItemRef(ItemKind.IMAGE, "13"), tags=("10",)),  # a link without a performer is plain tags now
        Linked(item=ItemRef(ItemKind.SCENE, "3"), performers=("6",), maybe_tags=("11",), removed_tags=("12",)),
        PerformerCreated(performer_id="6", name="Person 3 X"),
        PerformerSeen(performer_id="6", name="Person 3 X", aliases=(), image_path="/p/6?t=1", tags=()),
        AliasAdded(performer_id="5", alias="Person 3 X"),
        PerformerTagged(performer_id="5", tags=("13",)),
        ExampleAdded(subject="Person 3 X", example_id="e-1", item=ItemRef(ItemKind.SCENE, "3"), new_subject=True),
        ExampleAdded(subject="Person 0 ALICE", example_id="e-2"),
        ExampleCopied(subject="Person 0 ALICE", engine="builtin", example_id="e-3", direction="import",
                      source_id="s-1"),
    ]
    assert reader.examples_from(ItemRef(ItemKind.SCENE, "3"), ["Person 3 X"])[0].example_id == "e-1"
    assert reader.run(1) == journal.RunRecord(1, "recognizeImagesHQ", undone=False, trimmed=False)
    state.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        stored = db.execute("SELECT detail FROM run_writes WHERE seq = 1").fetchone()[0]
        assert stored == '{"performers":["5"],"tags":["10","11"]}'  # compact, no kind or item repeated
        assert db.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'sqlite_autoindex_run_writes%'").fetchall() \
            == []  # clustered by (run_id, seq): no separate key index
