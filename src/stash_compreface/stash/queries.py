"""The shapes of the questions tasks ask Stash, so no task builds a GraphQL filter dict.

A task says *which* items it wants (a :class:`Selection`); this module turns that into Stash's filter
types and pages through the answer by id cursor: ``id > last`` with ``sort: id``, never page numbers,
so items that leave the filter because this run tagged them cannot push others off a page (the
original plugin skipped half the library that way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .client import StashClient
from .models import ItemKind, Performer


@dataclass(frozen=True)
class Selection:
    """Which items a run visits. Empty = all of them.

    ``without_tags``: items carrying none of these (Stash's EXCLUDES keeps untagged items, as needed for
    "not yet scanned"); ``with_any_tags``: items carrying at least one, minus those with ``but_not_tags``;
    ``gallery``: images of one gallery; ``ids``: only these item ids (empty = no id constraint), queried
    as runs of consecutive ids (a scan adds items with consecutive ids, so a queue is a few runs).
    """

    without_tags: tuple[str, ...] = ()
    with_any_tags: tuple[str, ...] = ()
    but_not_tags: tuple[str, ...] = ()
    gallery: str | None = None
    ids: tuple[int, ...] = ()

    def as_filter(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.with_any_tags:
            result["tags"] = {"value": list(self.with_any_tags), "modifier": "INCLUDES"}
            if self.but_not_tags:
                result["tags"]["excludes"] = list(self.but_not_tags)
        elif self.without_tags:
            result["tags"] = {"value": list(self.without_tags), "modifier": "EXCLUDES"}
        if self.gallery:
            result["galleries"] = {"value": [self.gallery], "modifier": "INCLUDES"}
        return result


def id_runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted distinct ids as inclusive ``(first, last)`` runs of consecutive ids."""
    runs: list[tuple[int, int]] = []
    for value in sorted(set(ids)):
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def unscanned(scanned_tag: str | None, error_tag: str | None) -> Selection:
    """Items carrying neither Scanned nor Error (tags that do not exist yet exclude nothing)."""
    return Selection(without_tags=tuple(t for t in (scanned_tag, error_tag) if t))


def _after(item_filter: dict[str, Any], last_id: int) -> dict[str, Any]:
    cursor = {"id": {"value": last_id, "modifier": "GREATER_THAN"}}
    if not item_filter:
        return cursor
    if "id" in item_filter:
        return {**cursor, "AND": item_filter}
    return {**item_filter, **cursor}


def pages(
    stash: StashClient,
    kind: ItemKind,
    selection: Selection,
    *,
    per_page: int,
    limit: int = 0,
    before_each: Callable[[], None] = lambda: None,
) -> Iterator[tuple[int, list[Any]]]:
    """Yield ``(total, page)`` over every item matching ``selection`` at the start of the run.

    ``limit`` caps the number of items (0 = all); ``before_each`` runs before each query (a stop check).
    """
    find: Callable[[dict[str, Any], dict[str, Any]], tuple[int, list[Any]]]
    if kind is ItemKind.IMAGE:
        find = stash.find_images
    elif kind is ItemKind.SCENE:
        find = stash.find_scenes
    else:
        raise ValueError(f"cannot page over {kind.value}s")
    item_filter = selection.as_filter()
    if not selection.ids:
        yield from _span_pages(find, item_filter, per_page=per_page, limit=limit, before_each=before_each)
        return
    runs = id_runs(selection.ids)
    # The total is known run by run: counted runs plus the size of the runs still to query (an upper bound).
    counted = 0
    seen = 0
    for index, (first, last) in enumerate(runs):
        ahead = sum(b - a + 1 for a, b in runs[index + 1:])
        span_filter = {**item_filter, "id": {"value": first, "value2": last, "modifier": "BETWEEN"}}
        run_total: int | None = None
        for count, items in _span_pages(find, span_filter, per_page=per_page,
                                        limit=limit - seen if limit else 0, before_each=before_each):
            run_total = count
            seen += len(items)
            total = counted + count + ahead
            yield (min(total, limit) if limit else total), items
        counted += run_total or 0
        if limit and seen >= limit:
            return


def _span_pages(
    find: Callable[[dict[str, Any], dict[str, Any]], tuple[int, list[Any]]],
    item_filter: dict[str, Any],
    *,
    per_page: int,
    limit: int,
    before_each: Callable[[], None],
) -> Iterator[tuple[int, list[Any]]]:
    """Pages over one filter by ascending id cursor; the count is the filter's at the first query."""
    last_id = 0
    total: int | None = None
    seen = 0
    while True:
        before_each()
        size = per_page if not limit else min(per_page, limit - seen)
        if size <= 0:
            return
        count, items = find({"per_page": size, "sort": "id", "direction": "ASC"}, _after(item_filter, last_id))
        if total is None:
            total = min(count, limit) if limit else count
        if not items:
            return
        seen += len(items)
        last_id = max(int(item.id) for item in items)
        yield total, items
        if len(items) < size:
            return


# Subjects are named "Person …": every performer that can own one has it as name or alias.
_PERSON_FILTER = {
    "name": {"value": "Person", "modifier": "INCLUDES"},
    "OR": {"aliases": {"value": "Person", "modifier": "INCLUDES"}},
}


def person_performers(stash: StashClient) -> list[Performer]:
    """Every performer whose name or an alias contains "Person", in one query."""
    _, performers = stash.find_performers({"per_page": -1, "sort": "id"}, _PERSON_FILTER)
    return performers


def performers_without_tag(stash: StashClient, tag_id: str | None) -> list[Performer]:
    """A snapshot of all performers not carrying ``tag_id`` (all of them when it is None), by id.

    Performers have no id criterion to page by in every supported Stash, and there are few of them: one
    snapshot query gives full coverage even as the run tags them.
    """
    performer_filter = {"tags": {"value": [tag_id], "modifier": "EXCLUDES"}} if tag_id else {}
    _, performers = stash.find_performers({"per_page": -1, "sort": "id", "direction": "ASC"}, performer_filter)
    return performers


def performer_items(stash: StashClient, kind: ItemKind, performer_id: str, first: int) -> tuple[int, list[str]]:
    """How many items of ``kind`` hold the performer, and the ids of the first ``first`` of them (by id)."""
    find = stash.find_images if kind is ItemKind.IMAGE else stash.find_scenes
    count, items = find({"per_page": first, "sort": "id", "direction": "ASC"},
                        {"performers": {"value": [performer_id], "modifier": "INCLUDES"}})
    return count, [str(item.id) for item in items]
