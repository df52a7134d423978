"""The writer: tags found once and created on first use, a concurrent create survived, dry run writes nothing."""

from __future__ import annotations

import pytest

from stash_compreface.settings import Settings
from stash_compreface.stash.client import StashClient
from stash_compreface.stash.models import Image, ItemKind
from stash_compreface.tasks.writes import Writes
from testdoubles.reporter import MemoryReporter
from testdoubles.stash import StashDouble


@pytest.fixture
def stash():
    with StashDouble.running() as double:
        yield double


def _writes(stash: StashDouble, **settings):
    client = StashClient(stash.url)
    reporter = MemoryReporter()

    def no_face_service():
        raise AssertionError("not needed")

    return Writes(client, Settings(**settings), no_face_service, reporter.log), reporter


def _image(stash: StashDouble, image_id: str) -> Image:
    record = stash.images[image_id]
    return Image(id=image_id, title="", url="", path="", is_video=False, width=1, height=1,
                 tag_ids=frozenset(record.tag_ids), performer_ids=frozenset(record.performer_ids))


def test_a_tag_created_by_someone_else_meanwhile_is_used_not_duplicated(stash) -> None:
    writes, _ = _writes(stash)
    original = writes._stash.find_tag
    calls = {"n": 0}

    def racing_find(name: str) -> str | None:
        calls["n"] += 1
        if calls["n"] == 1:  # someone creates it right after our first look
            stash.add_tag(name)
            return None
        return original(name)

    writes._stash.find_tag = racing_find  # type: ignore[method-assign]
    tag_id = writes.tag_id("Compreface Scanned", create=True)
    assert tag_id == stash.tag_id("Compreface Scanned")
    assert writes.tag_id("compreface scanned") == tag_id  # remembered, case-insensitive
    assert len([t for t in stash.tags.values() if t.name == "Compreface Scanned"]) == 1


def test_outcome_keeps_the_users_tags_and_performers(stash) -> None:
    mine = stash.add_tag("Holiday")
    performer = stash.add_performer("Alice")
    image_id = stash.add_image(b"", tags=[mine], performers=[performer])
    writes, _ = _writes(stash)
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=False)
    assert stash.tag_names("image", image_id) == {"Holiday", "Compreface Scanned"}
    other = stash.add_performer("Bob")
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=False, performers={other})
    assert stash.tag_names("image", image_id) == {"Holiday", "Compreface Scanned", "Compreface Matched"}
    assert set(stash.images[image_id].performer_ids) == {performer, other}


def test_a_failure_after_a_match_leaves_error_alone(stash) -> None:
    image_id = stash.add_image(b"")
    writes, _ = _writes(stash)
    performer = stash.add_performer("Alice")
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=False, performers={performer})
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=True)
    assert stash.tag_names("image", image_id) == {"Compreface Error"}


def test_dry_run_logs_each_write_and_makes_none(stash) -> None:
    image_id = stash.add_image(b"")
    performer = stash.add_performer("Alice")
    writes, reporter = _writes(stash, dry_run=True)
    before = stash.mutation_count()
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=False, performers={performer})
    assert writes.create_performer("Person 1 AAAAAAAAAAAAAAAA", b"jpeg", None) is None
    assert writes.add_example("Person 1 AAAAAAAAAAAAAAAA", b"jpeg", why="a face") is None
    assert stash.mutation_count() == before
    assert stash.tag_id("Compreface Scanned") is None
    lines = reporter.messages("info")
    assert any("would" in m and "Compreface Scanned" in m and performer in m for m in lines)
    assert any("would create performer Person 1" in m for m in lines)
    finds = sum(1 for name, _ in stash.operations if name == "FindTagByName")
    writes.record_outcome(ItemKind.IMAGE, _image(stash, image_id), failed=False)
    assert sum(1 for name, _ in stash.operations if name == "FindTagByName") == finds  # missing tags remembered
