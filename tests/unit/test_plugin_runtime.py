from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from stash_compreface.runtime.plugin import InputError, base_url, main, read_input, session_cookie, state_dir


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


# ------------------------------------------------------------------------------------------------ input checks

COOKIE = "MTczNjk1ODQwMHxEdi1CQkFFQ180SUFB"
GOOD_CONNECTION = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999, "Dir": "/root/.stash",
                   "PluginDir": "/root/.stash/plugins/compreface",
                   "SessionCookie": {"Name": "session", "Value": COOKIE, "Quoted": False, "Path": "",
                                     "Expires": "0001-01-01T00:00:00Z", "MaxAge": 0, "Unparsed": None}}


def test_stash_input_as_documented_is_accepted() -> None:
    connection, args = read_input(json.dumps({"server_connection": GOOD_CONNECTION, "args": {"mode": "x"}}))
    assert args == {"mode": "x"}
    assert base_url(connection) == "http://127.0.0.1:9999"
    assert session_cookie(connection) == COOKIE
    assert state_dir(connection) == Path("/root/.stash/plugins/compreface/data")


@pytest.mark.parametrize("raw", ["", "  \n", '{"args": null, "server_connection": null}', "{}"])
def test_missing_parts_fall_back_to_defaults(raw: str) -> None:
    connection, args = read_input(raw)
    assert args == {}
    assert base_url(connection) == "http://127.0.0.1:9999"
    assert session_cookie(connection) is None


@pytest.mark.parametrize(
    ("connection", "expected_port"),
    [({"Port": "9999"}, 9999), ({"Port": 8080.0}, 8080), ({"Port": None}, 9999), ({"Port": 443}, 443)],
)
def test_port_spellings_that_mean_a_number_are_accepted(connection: dict, expected_port: int) -> None:
    checked, _ = read_input(json.dumps({"server_connection": connection}))
    assert checked["Port"] == expected_port


def test_cookie_without_a_value_means_no_cookie() -> None:
    for cookie in ({}, {"Name": "session"}, {"Name": "session", "Value": ""}, {"Name": None, "Value": None}):
        connection, _ = read_input(json.dumps({"server_connection": {"SessionCookie": cookie}}))
        assert session_cookie(connection) is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("[1, 2]", "must be a JSON object, got a list"),
        ("null", "must be a JSON object, got null"),
        ('"text"', "must be a JSON object, got a string"),
        ("42", "must be a JSON object, got a number"),
        ("{not json", "is not JSON"),
        ("[" * 100_000, "JSON"),
        ('{"args": ["mode", "x"]}', "args must be an object, got a list"),
        ('{"args": "mode=x"}', "args must be an object, got a string"),
        ('{"args": 3}', "args must be an object, got a number"),
        ('{"server_connection": []}', "server_connection must be an object, got a list"),
        ('{"server_connection": "http://x"}', "server_connection must be an object, got a string"),
        ('{"server_connection": 1}', "server_connection must be an object, got a number"),
        ('{"server_connection": {"Port": "abc"}}', "server_connection.Port must be a port number 1..65535, got 'abc'"),
        ('{"server_connection": {"Port": true}}', "server_connection.Port must be a port number"),
        ('{"server_connection": {"Port": [9999]}}', "server_connection.Port must be a port number"),
        ('{"server_connection": {"Port": 70000}}', "server_connection.Port must be a port number 1..65535, got 70000"),
        ('{"server_connection": {"Port": 99.5}}', "server_connection.Port must be a port number"),
        ('{"server_connection": {"Scheme": "ftp"}}', "server_connection.Scheme must be \"http\" or \"https\""),
        ('{"server_connection": {"Host": 12}}', "server_connection.Host must be a string, got a number"),
        ('{"server_connection": {"PluginDir": ["a"]}}', "server_connection.PluginDir must be a string, got a list"),
        ('{"server_connection": {"SessionCookie": "abc"}}',
         "server_connection.SessionCookie must be an object with Name and Value, got a string"),
        ('{"server_connection": {"SessionCookie": ["session", "abc"]}}',
         "server_connection.SessionCookie must be an object with Name and Value, got a list"),
        ('{"server_connection": {"SessionCookie": 5}}',
         "server_connection.SessionCookie must be an object with Name and Value, got a number"),
        ('{"server_connection": {"SessionCookie": {"Name": "session", "Value": 123456}}}',
         "server_connection.SessionCookie.Value must be a string, got a number"),
        ('{"server_connection": {"SessionCookie": {"Name": 1, "Value": "abc"}}}',
         "server_connection.SessionCookie.Name must be a string, got a number"),
    ],
)
def test_malformed_input_names_the_field(payload: str, field: str) -> None:
    with pytest.raises(InputError) as refused:
        read_input(payload)
    assert field in str(refused.value)
    assert "\n" not in str(refused.value)


def test_every_bad_field_is_named_in_one_message() -> None:
    with pytest.raises(InputError) as refused:
        read_input('{"args": [], "server_connection": {"Port": "x", "SessionCookie": "s"}}')
    message = str(refused.value)
    assert "args" in message and "server_connection.Port" in message
    assert "server_connection.SessionCookie" in message


def test_a_cookie_of_the_wrong_type_is_never_shown() -> None:
    with pytest.raises(InputError) as refused:
        read_input(json.dumps({"server_connection": {"SessionCookie": [COOKIE]}}))
    assert COOKIE not in str(refused.value)
    with pytest.raises(InputError) as refused:
        read_input(json.dumps({"server_connection": {"SessionCookie": {"Value": {"v": COOKIE}}}}))
    assert COOKIE not in str(refused.value)


def test_state_dir_is_the_plugin_folder_and_ignores_the_old_environment_variable(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("STASH_COMPREFACE_STATE_DIR", str(tmp_path))
    assert state_dir({"PluginDir": "/plugins/compreface"}) == Path("/plugins/compreface/data")
    assert state_dir({}).name == "data"


def _run_main(monkeypatch, stdin: bytes) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main() == 0
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("stdin", "field"),
    [
        (b"[]", "JSON object"),
        (b"\xff\xfe garbage", "not JSON"),
        (b'{"server_connection": {"Port": "nine"}, "args": {"mode": "recognizeImages"}}', "server_connection.Port"),
        (b'{"server_connection": {"SessionCookie": "abc"}, "args": {}}', "server_connection.SessionCookie"),
        (b'{"server_connection": {}, "args": "recognizeImages"}', "args must be an object"),
    ],
)
def test_bad_input_gives_one_error_line_and_exactly_one_json_object(monkeypatch, stdin: bytes, field: str) -> None:
    out, err = _run_main(monkeypatch, stdin)
    assert json.loads(out) == {"output": None, "error": json.loads(out)["error"]}
    assert field in json.loads(out)["error"]
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("\x01e\x02") and field in lines[0]
    assert "Traceback" not in err


def test_a_bug_becomes_an_error_result_with_the_traceback_in_the_log(monkeypatch) -> None:
    import stash_compreface.runtime.plugin as plugin

    def broken(**_: object):
        raise KeyError("a bug")

    monkeypatch.setattr(plugin, "task_context", broken)
    out, err = _run_main(monkeypatch, json.dumps({"server_connection": {"Port": 9},
                                                  "args": {"mode": "recognizeImagesHQ"}}).encode())
    result = json.loads(out)
    assert result["output"] is None and result["error"].startswith("KeyError")
    lines = [line for line in err.splitlines() if line]
    assert lines and all(line.startswith("\x01") for line in lines)
    assert any("Traceback" in line for line in lines)
