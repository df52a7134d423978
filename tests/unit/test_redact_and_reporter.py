from __future__ import annotations

import io

from stash_compreface.errors import AuthError
from stash_compreface.redact import redact, register_secret
from stash_compreface.runtime.reporter import MAX_LINE_BYTES, StashReporter


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    register_secret("11111111-2222-3333-4444-555555555555")
    text = redact("key 11111111-2222-3333-4444-555555555555 url http://s/scene/1/stream?apikey=abc.def&x=1 "
                  "data:image/jpeg;base64,AAAA/9j== img http://cf/api/v1/static/zzz/images/1")
    assert "11111111-2222" not in text and "abc.def" not in text and "AAAA" not in text and "zzz" not in text
    assert "x=1" in text


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
    def write(self, s: str) -> int:
        raise BrokenPipeError


def test_broken_pipe_is_swallowed() -> None:
    reporter = StashReporter(_Broken())
    reporter.log("info", "hello")
    reporter.progress(0.5)
