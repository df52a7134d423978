from __future__ import annotations

import pytest

from stash_compreface.runtime.plugin import base_url, session_cookie


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ({"Scheme": "http", "Host": "0.0.0.0", "Port": 9999}, "http://127.0.0.1:9999"),
        ({"Scheme": "http", "Host": "", "Port": 9999}, "http://127.0.0.1:9999"),
        ({"Scheme": "http", "Host": "::", "Port": 9999}, "http://127.0.0.1:9999"),
        ({"Scheme": "https", "Host": "stash.lan", "Port": 443}, "https://stash.lan:443"),
        ({"Scheme": "http", "Host": "fd00::12", "Port": 9999}, "http://[fd00::12]:9999"),
        ({}, "http://127.0.0.1:9999"),
    ],
)
def test_bind_address_becomes_a_reachable_base_url(connection: dict, expected: str) -> None:
    assert base_url(connection) == expected


def test_session_cookie_may_be_null() -> None:
    assert session_cookie({"SessionCookie": None}) is None
    assert session_cookie({"SessionCookie": {"Name": "session", "Value": "abc"}}) == "abc"
    assert session_cookie({}) is None
