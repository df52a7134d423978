"""The subject store: round trips, exact search, model ids kept apart, damage recovery, threads."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from stash_compreface.engine import FACES_FILE
from stash_compreface.engine.store import SCHEMA_VERSION, Hit, SubjectStore
from stash_compreface.faces.models import Box
from stash_compreface.faceservice import ExampleNotFound, SubjectNotFound
from stash_compreface.tasks.state import NewerStateError

MODEL = "sface-test"


def unit(seed: int, dim: int = 128) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, amount: float, seed: int) -> np.ndarray:
    """A vector at a controlled distance from ``vector`` (cosine falls as ``amount`` grows)."""
    mixed = vector + amount * unit(seed, vector.size)
    return (mixed / np.linalg.norm(mixed)).astype(np.float32)


def search(store: SubjectStore, vector: np.ndarray, model_id: str, *, limit: int = 5) -> list[Hit]:
    """The subjects nearest to one vector, best first."""
    return store.search_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), model_id, limit=limit)[0]


@pytest.fixture
def store(tmp_path):
    s = SubjectStore(tmp_path / FACES_FILE)
    yield s
    s.close()


def test_round_trip(store):
    alice, bob = unit(1), unit(2)
    first = store.add_example("Alice", MODEL, alice, source="image 12", box=Box(1, 2, 30, 40), quality=0.93,
                              crop=b"jpeg")
    store.add_example("Bob", MODEL, bob)
    assert store.subjects() == ["Alice", "Bob"]
    assert store.count_examples("Alice") == 1 and store.count_examples("Nobody") == 0
    (example,) = store.examples("Alice")
    assert (example.id, example.subject, example.model_id, example.source) == (first, "Alice", MODEL, "image 12")
    assert example.box == Box(1, 2, 30, 40) and example.quality == pytest.approx(0.93)
    assert store.crop(first) == b"jpeg"

    hits = search(store, near(alice, 0.3, 9), MODEL)
    assert [h.subject for h in hits] == ["Alice", "Bob"]
    assert hits[0].cosine > 0.9 > hits[1].cosine and hits[0].example_id == first

    store.delete_example(first)
    assert store.count_examples("Alice") == 0 and "Alice" in store.subjects()  # as in CompreFace
    assert [h.subject for h in search(store, alice, MODEL)] == ["Bob"]
    assert store.delete_subject("Bob") == 1
    assert store.subjects() == ["Alice"] and search(store, alice, MODEL) == []
    with pytest.raises(SubjectNotFound):
        store.delete_subject("Bob")
    with pytest.raises(ExampleNotFound):
        store.delete_example(first)
    with pytest.raises(ExampleNotFound):
        store.crop(first)


def test_search_is_exact_and_gives_each_subject_its_best_example(store):
    query = unit(7)
    store.add_example("Alice", MODEL, near(query, 1.5, 1))
    best = store.add_example("Alice", MODEL, near(query, 0.2, 2))
    store.add_example("Alice", MODEL, near(query, 0.8, 3))
    for i in range(20):
        store.add_example(f"Other {i:02d}", MODEL, unit(100 + i))
    hits = search(store, query, MODEL, limit=5)
    assert len(hits) == 5 and len({h.subject for h in hits}) == 5
    assert hits[0].subject == "Alice" and hits[0].example_id == best
    assert hits[0].cosine == pytest.approx(float(near(query, 0.2, 2) @ query), abs=1e-6)
    assert [h.cosine for h in hits] == sorted((h.cosine for h in hits), reverse=True)
    # exact: the same as comparing with every example by hand
    everyone = {f"Other {i:02d}": float(unit(100 + i) @ query) for i in range(20)}
    expected = sorted(everyone.items(), key=lambda kv: -kv[1])[:4]
    assert [(h.subject, round(h.cosine, 5)) for h in hits[1:]] == [(s, round(c, 5)) for s, c in expected]


def test_vectors_of_another_model_are_never_compared(store):
    query = unit(3)
    store.add_example("Alice", "other-model", query)  # identical vector, other model
    store.add_example("Bob", MODEL, unit(4))
    assert [h.subject for h in search(store, query, MODEL)] == ["Bob"]
    assert [h.subject for h in search(store, query, "other-model")] == ["Alice"]
    assert store.count_examples("Alice", MODEL) == 0 and store.count_examples("Alice") == 1
    store.add_example("Carol", "wide-model", unit(5, dim=512))  # another size: its own matrix
    assert [h.subject for h in search(store, unit(5, dim=512), "wide-model")] == ["Carol"]


def test_search_many_answers_each_face(store):
    a, b = unit(10), unit(11)
    store.add_example("A", MODEL, a)
    store.add_example("B", MODEL, b)
    hits = store.search_many(np.vstack([b, a]), MODEL, limit=1)
    assert [[h.subject for h in row] for row in hits] == [["B"], ["A"]]
    assert store.search_many(np.zeros((0, 128), dtype=np.float32), MODEL) == []


def test_a_failed_write_leaves_nothing_behind(store):
    with pytest.raises(ValueError, match="non-zero"):
        store.add_example("Ghost", MODEL, np.zeros(128, dtype=np.float32))
    assert store.subjects() == [] and store.count_examples("Ghost") == 0


def test_everything_survives_a_reopen(tmp_path):
    path = tmp_path / FACES_FILE
    first = SubjectStore(path)
    example = first.add_example("Alice", MODEL, unit(1), crop=b"x")
    first.delete_example(first.add_example("Empty", MODEL, unit(3)))  # the subject stays, empty
    first.close()
    again = SubjectStore(path)
    try:
        assert again.subjects() == ["Alice", "Empty"]
        assert [h.example_id for h in search(again, unit(1), MODEL)] == [example]
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        again.close()


def test_a_damaged_file_is_moved_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / FACES_FILE
    path.write_bytes(b"this is not a database, it was overwritten by something else" * 100)
    warnings: list[str] = []
    store = SubjectStore(path, warn=warnings.append)
    try:
        store.add_example("Alice", MODEL, unit(1))
        assert store.count_examples("Alice") == 1
    finally:
        store.close()
    (moved,) = tmp_path.glob(f"{FACES_FILE}.damaged-*")
    assert moved.read_bytes().startswith(b"this is not a database")
    (warning,) = warnings
    assert str(moved) in warning and "synchronizePerformers" in warning


def test_someone_elses_database_is_moved_aside(tmp_path):
    path = tmp_path / FACES_FILE
    foreign = sqlite3.connect(path)
    foreign.execute("CREATE TABLE subjects (id INTEGER)")
    foreign.commit()
    foreign.close()
    warnings: list[str] = []
    SubjectStore(path, warn=warnings.append).close()
    assert len(warnings) == 1 and list(tmp_path.glob(f"{FACES_FILE}.damaged-*"))


def test_a_newer_file_is_refused_and_kept(tmp_path):
    path = tmp_path / FACES_FILE
    SubjectStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(NewerStateError, match="newer stash-compreface"):
        SubjectStore(path)
    assert path.exists() and not list(tmp_path.glob(f"{FACES_FILE}.damaged-*"))


def test_a_dry_run_reads_the_store_and_never_changes_its_file(tmp_path):
    """read_only (a dry run): a copy in memory. No file is created, a damaged one is not moved aside, and a
    write lands in the copy only."""
    path = tmp_path / FACES_FILE
    empty = SubjectStore(path, read_only=True)
    empty.close()
    assert list(tmp_path.iterdir()) == []

    first = SubjectStore(path)
    first.add_example("Alice", MODEL, unit(1))
    first.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    dry = SubjectStore(path, read_only=True)
    try:
        assert dry.subjects() == ["Alice"]
        dry.add_example("Bob", MODEL, unit(2))
        assert dry.subjects() == ["Alice", "Bob"]
    finally:
        dry.close()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    path.write_bytes(b"this is not a database" * 100)
    warnings: list[str] = []
    dry = SubjectStore(path, warn=warnings.append, read_only=True)
    assert dry.subjects() == ["Alice"], "a dry run reads the backup a real run would restore"
    dry.close()
    (warning,) = warnings
    assert "dry run reads that backup" in warning and "leaves the file as is" in warning
    assert sorted(p.name for p in tmp_path.iterdir()) == [FACES_FILE, f"{FACES_FILE}.backup",  # not moved aside
                                                          f"{FACES_FILE}.open-lock"]


def test_concurrent_writers_and_readers(tmp_path):
    store = SubjectStore(tmp_path / FACES_FILE)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(worker: int) -> None:
        try:
            start.wait()
            for i in range(25):
                store.add_example(f"Subject {worker}", MODEL, unit(worker * 1000 + i))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for i in range(50):
                hits = search(store, unit(i), MODEL, limit=3)
                assert len({h.subject for h in hits}) == len(hits)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [store.count_examples(f"Subject {w}") for w in range(4)] == [25] * 4
        assert len(search(store, unit(0), MODEL, limit=10)) == 4
    finally:
        store.close()
    reopened = SubjectStore(tmp_path / FACES_FILE)
    assert sum(reopened.count_examples(f"Subject {w}") for w in range(4)) == 100
    reopened.close()


def test_in_memory_store_needs_no_folder():
    store = SubjectStore(None)
    store.add_example("Alice", MODEL, unit(1))
    assert store.subjects() == ["Alice"] and store.path is None
