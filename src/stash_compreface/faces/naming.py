"""Subject names and the ``Person …`` alias rule, kept byte-compatible with the original plugin."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

SUFFIX_ALPHABET = string.ascii_uppercase + string.digits
SUFFIX_LENGTH = 16
PERSON_ALIAS = re.compile(r"^Person .*$")


def subject_name(source_id: str, suffix: str) -> str:
    """``Person {sourceId} {16 chars of A-Z0-9}``: existing CompreFace databases depend on this form."""
    if len(suffix) != SUFFIX_LENGTH or any(c not in SUFFIX_ALPHABET for c in suffix):
        raise ValueError(f"suffix must be {SUFFIX_LENGTH} characters of A-Z0-9, got {suffix!r}")
    return f"Person {source_id} {suffix}"


def person_alias(name: str, aliases: Iterable[str]) -> str | None:
    """The performer's subject: the first alias matching ``^Person .*$``, else its name if that matches."""
    for alias in aliases:
        if PERSON_ALIAS.match(alias):
            return alias
    return name if PERSON_ALIAS.match(name) else None


def is_subject_name(text: str) -> bool:
    """Whether ``text`` has the ``Person …`` form the plugin gives the subjects it creates."""
    return bool(PERSON_ALIAS.match(text))
