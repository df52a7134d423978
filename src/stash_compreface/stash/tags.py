"""Find-or-create tags by name, once per run, safe against a concurrent "already exists"."""

from __future__ import annotations

import threading

from ..errors import GraphQLError
from .client import StashClient


class TagResolver:
    def __init__(self, client: StashClient, *, create: bool = True) -> None:
        self._client = client
        self._create = create
        self._ids: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str) -> str | None:
        """The tag's id, or None when it does not exist (and we may not create it: dry run)."""
        key = name.strip().casefold()
        with self._lock:
            if key in self._ids and self._ids[key] is not None:
                return self._ids[key]
            tag_id = self._client.find_tag(name)
            if tag_id is None and self._create:
                try:
                    tag_id = self._client.create_tag(name)
                except GraphQLError as exc:
                    # Another run (or the user) created it between our find and create.
                    tag_id = self._client.find_tag(name)
                    if tag_id is None:
                        raise exc
            self._ids[key] = tag_id
            return tag_id
