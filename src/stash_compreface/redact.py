"""One redaction function for every path that can reach a log line or an error message.

Secrets are registered at start (API keys, the session cookie) and also recognized by shape:
credentials in URLs (``http://user:pass@host``), secret-looking query or form values (``apikey=``,
``api_key=``, ``token=``, ``key=``, ``password=`` ...), ``x-api-key`` headers, CompreFace static-image
URLs and data URLs. A URL setting may carry credentials for a reverse proxy, and Stash puts its API key
in stream URLs, so any message quoting a URL needs this.
"""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+"), "data:<redacted>"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@\"'<>]+@"), r"\1<redacted>@"),
    (re.compile(r"(?i)(apikey=)[^&\s\"']+"), r"\1<redacted>"),
    (re.compile(r"(?i)((?:^|[?&;\s,(\"'])(?:api[_-]?key|access[_-]?token|token|key|pass(?:word|wd)?|pwd|secret)=)"
                r"[^&#\s\"']+"), r"\1<redacted>"),
    (re.compile(r"(?i)(x-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"), r"\1<redacted>"),
    (re.compile(r"(?i)(/api/v1/static/)[^/\s]+"), r"\1<redacted>"),
    (re.compile(r"(?i)(api key )[0-9a-f-]{8,}"), r"\1<redacted>"),
    (re.compile(r"(?i)(session=)[^;\s\"']+"), r"\1<redacted>"),
)


def register_secret(value: object) -> None:
    """Remember a secret so that every later log line and error hides it."""
    if isinstance(value, str) and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "<redacted>")
    return text
