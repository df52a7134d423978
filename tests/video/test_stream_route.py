"""The Stash double's /scene/{id}/stream: Go's http.ServeFile with Range, behind Stash's auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from testdoubles.stash import StashDouble
from tests import localhttp

KEY = "k3y"
DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def stash() -> Iterator[StashDouble]:
    with StashDouble.running(api_key=KEY) as double:
        double.add_scene("s", path="/data/s.mp4", video=DATA)
        yield double


def get(stash: StashDouble, range_header: str | None = None, key: str | None = KEY) -> httpx.Response:
    headers = {"ApiKey": key} if key else {}
    if range_header is not None:
        headers["Range"] = range_header
    return localhttp.get(f"{stash.url}/scene/1/stream", headers=headers)


def test_whole_file_without_range(stash):
    got = get(stash)
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["accept-ranges"] == "bytes" and got.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, 10239), ("bytes=-50", 10190, 10239),
    ("bytes=10000-99999", 10000, 10239), ("bytes= 5 - 9", 5, 9),
])
def test_single_range_is_206_with_content_range(stash, header, start, end):
    got = get(stash, header)
    assert got.status_code == 206 and got.content == DATA[start : end + 1]
    assert got.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert stash.stream_ranges == [header] and stash.stream_bytes_sent == end - start + 1


def test_range_past_the_end_is_416_with_the_size(stash):
    got = get(stash, "bytes=20000-")
    assert got.status_code == 416 and got.headers["content-range"] == f"bytes */{len(DATA)}"
    assert got.text == "invalid range: failed to overlap\n"


@pytest.mark.parametrize("header", ["bytes=9-5", "items=0-5", "bytes=x-5", "bytes=5", "bytes=--5"])
def test_malformed_range_is_416(stash, header):
    got = get(stash, header)
    assert got.status_code == 416 and got.text == "invalid range\n" and "content-range" not in got.headers


def test_stream_needs_auth_and_scenes_without_video_stay_unmodelled(stash):
    assert get(stash, key=None).status_code in (302, 401)
    assert get(stash, key="wrong").status_code == 401
    stash.add_scene("no video")
    assert localhttp.get(f"{stash.url}/scene/2/stream", headers={"ApiKey": KEY}).status_code == 501
    assert localhttp.get(f"{stash.url}/scene/9/stream", headers={"ApiKey": KEY}).status_code == 501
