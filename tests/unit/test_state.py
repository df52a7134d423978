from __future__ import annotations

from pathlib import Path

from stash_compreface.tasks.state import StateStore


def test_sightings_survive_reopening_and_count_distinct_images(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = StateStore(path)
    assert store.record_sighting("Person 1 A", "10") == 1
    assert store.record_sighting("Person 1 A", "10") == 1
    store.close()
    store = StateStore(path)
    assert store.record_sighting("Person 1 A", "11") == 2
    assert store.sightings("Person 1 A") == ["10", "11"]
    assert store.promoted_performer("Person 1 A") is None
    store.mark_promoted("Person 1 A", "7")
    assert store.promoted_performer("Person 1 A") == "7"


def test_an_image_teaches_a_subject_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    assert store.claim_example("Person 1 A", "10")
    assert not store.claim_example("Person 1 A", "10")
    assert store.claim_example("Person 2 B", "10")


def test_dry_run_reads_the_file_but_never_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    real = StateStore(path)
    real.record_sighting("Person 1 A", "10")
    real.close()
    dry = StateStore(path, dry_run=True)
    assert dry.record_sighting("Person 1 A", "11") == 2
    dry.close()
    assert StateStore(path).sightings("Person 1 A") == ["10"]
