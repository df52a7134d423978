"""The hooks' settings cache, refreshed by every task the plugin runs.

Stash starts the plugin once per new image or scene during a scan and waits for it. So that such a hook
costs no GraphQL request, the hook keeps the two settings it needs, ``autoRecognize`` and ``stateDir``, in
``<pluginDir>/data/hook-settings.json``, trusted while Stash's ``config.yml`` is unchanged (Stash rewrites
it whenever settings are saved) and for at most a few minutes. A task run as the plugin has just read the
same settings, so it rewrites that file too, through the hooks' own definition of it
(``stash_compreface.hookqueue``). Nothing here may fail a task: a read-only folder only means the hooks
ask Stash themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import hookqueue
from ..settings import Settings


def hook_view(settings: Settings) -> dict[str, Any]:
    """``hookqueue.hook_view`` of parsed settings: what a hook reads of them."""
    return {"autoRecognize": settings.auto_recognize, "stateDir": settings.state_dir}


class HookCache:
    """Rewrites the hooks' cache for one Stash connection with settings a task has read."""

    def __init__(self, connection: Mapping[str, Any], stamp: list[int] | None) -> None:
        self._connection = dict(connection)
        self._stamp = stamp

    @classmethod
    def prepare(cls, connection: Mapping[str, Any]) -> HookCache:
        """Note the state of Stash's config.yml; call it *before* reading the settings, so that a change saved
        meanwhile leaves a cache the next hook does not trust."""
        return cls(connection, hookqueue.config_stamp(connection))

    def store(self, settings: Settings, log: Callable[[str, str], None] | None = None) -> bool:
        """Write ``settings`` (as read from Stash after :meth:`prepare`) for the hooks; False when it could not."""
        try:
            stored = hookqueue.store_settings(self._connection, hook_view(settings), self._stamp, time.time())
        except Exception as exc:  # never a reason to fail the task
            if log is not None:
                log("debug", f"Hook settings cache: not written ({type(exc).__name__})")
            return False
        if not stored and log is not None:
            log("debug", "Hook settings cache: not written (read-only plugin folder?); hooks ask Stash each time")
        return stored
