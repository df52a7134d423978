from __future__ import annotations

import io

import pytest

from stash_compreface.errors import AuthError, ServiceUnavailable
from stash_compreface.redact import redact, register_secret
from stash_compreface.runtime.reporter import MAX_LINE_BYTES, StashReporter


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    register_secret("11111111-2222-3333-4444-555555555555")
    text = redact("key 11111111-2222-3333-4444-555555555555 url http://s/scene/1/stream?apikey=abc.def&x=1 "
                  "data:image/jpeg;base64,AAAA/9j== img http://cf/api/v1/static/zzz/images/1")
    assert "11111111-2222" not in text and "abc.def" not in text and "AAAA" not in text and "zzz" not in text
    assert "x=1" in text


@pytest.mark.parametrize(("text", "secret", "kept"), [
    ("Cannot reach CompreFace at http://admin:hunter22@cf.lan:8000/api", "hunter22", "http://<redacted>@cf.lan:8000/api"),
    ("proxy https://user@stash.example.com/graphql", "user@", "https://<redacted>@stash.example.com/graphql"),
    ("GET /scene/1/stream?apikey=eyJhbGciOi.x&resolution=720", "eyJhbGciOi", "resolution=720"),
    ("GET /x?api_key=s3cr3t-value&page=2", "s3cr3t-value", "page=2"),
    ("GET /x?page=2&token=tok-123456", "tok-123456", "page=2"),
    ("GET /x?key=abcd-efgh&monkey=banana", "abcd-efgh", "monkey=banana"),
    ("login with password=Pa55word! failed", "Pa55word!", "login with password=<redacted> failed"),
    ("GET /x?access_token=zz9zz9&x=1", "zz9zz9", "x=1"),
])
def test_url_credentials_and_secret_query_values_are_redacted(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out and kept in out


def test_redaction_reaches_error_messages_built_from_urls() -> None:
    error = ServiceUnavailable("Cannot reach Stash at http://me:pw1234@stash:9999/graphql?apikey=k-9z8y7x",
                               setting="stashHostUrl")
    assert "pw1234" not in str(error) and "k-9z8y7x" not in str(error)
    assert "stash:9999" in str(error)


def test_an_email_address_is_not_a_url_credential() -> None:
    assert redact("performer contact: jane@example.com") == "performer contact: jane@example.com"


def test_error_messages_are_redacted_at_construction() -> None:
    register_secret("cookie-value-123")
    assert "cookie-value-123" not in str(AuthError("bad session=cookie-value-123"))


def test_stash_lines_are_prefixed_per_line_and_capped() -> None:
    stream = io.StringIO()
    reporter = StashReporter(stream)
    reporter.log("info", "first\nsecond\n\n")
    reporter.log("error", "x" * 100_000)
    reporter.progress(1.7)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "\x01i\x02first" and lines[1] == "\x01i\x02second"
    assert lines[2].startswith("\x01e\x02") and len(lines[2].encode()) < 64 * 1024
    assert len(lines[2].encode()) <= MAX_LINE_BYTES + 40
    assert lines[3] == "\x01p\x021.0000"


class _Broken(io.StringIO):
    """A pipe Stash closed (after an over-long line): every write fails."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def write(self, s: str) -> int:
        self.attempts += 1
        raise BrokenPipeError


def test_broken_pipe_is_swallowed() -> None:
    """The task keeps running when Stash stops reading its log, and stops writing to the dead pipe."""
    stream = _Broken()
    reporter = StashReporter(stream)
    reporter.log("info", "hello")  # would raise BrokenPipeError into the task if not swallowed
    reporter.progress(0.5)
    reporter.log("error", "still running")
    assert stream.attempts == 1
