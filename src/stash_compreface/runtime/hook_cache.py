"""The hooks' settings cache, refreshed by every task the plugin runs.

Stash starts the plugin once per new image or scene during a scan and waits for it. So that such a hook
costs no GraphQL request, the hook (``plugin/compreface.py``, standard library only) keeps the two
settings it needs, ``autoRecognize`` and ``stateDir``, in ``<pluginDir>/data/hook-settings.json``, trusted
while Stash's ``config.yml`` is unchanged (Stash rewrites it whenever settings are saved) and for at most
a few minutes. A task run as the plugin has just read the same settings, so it rewrites that file too.

The file has one definition, the bootstrap's: this module loads the bootstrap that started the plugin
(the same ``compreface.py`` in the plugin folder) and writes through its ``store_hook_settings``, so the
hooks and the tasks cannot disagree on its name, place or format. Nothing here may fail a task: a
missing bootstrap or a read-only folder only means the hooks ask Stash themselves.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..settings import Settings

BOOTSTRAP_FILE = "compreface.py"  # the script Stash runs (the manifest's exec), in the plugin folder
_MODULE_NAME = "stash_compreface_bootstrap"


def load_bootstrap(path: Path) -> ModuleType:
    """The bootstrap script at ``path`` as a module: the running ``__main__`` when that is it (the plugin
    runtime, started through it), else loaded from the file (its top level only defines names)."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main is not None and main_file and Path(main_file).resolve() == path.resolve():
        return main
    loaded = sys.modules.get(_MODULE_NAME)
    if loaded is not None and Path(str(getattr(loaded, "__file__", ""))).resolve() == path.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[_MODULE_NAME] = module
    return module


def hook_view(settings: Settings) -> dict[str, Any]:
    """The bootstrap's ``hook_view`` of parsed settings: what a hook reads of them."""
    return {"autoRecognize": settings.auto_recognize, "stateDir": settings.state_dir}


class HookCache:
    """Rewrites the hooks' cache for one Stash connection with settings a task has read."""

    def __init__(self, bootstrap: ModuleType, connection: Mapping[str, Any], stamp: Any) -> None:
        self._bootstrap = bootstrap
        self._connection = dict(connection)
        self._stamp = stamp

    @classmethod
    def prepare(cls, connection: Mapping[str, Any], plugin_dir: Path,
                log: Callable[[str, str], None] | None = None) -> HookCache | None:
        """Load the bootstrap and note the state of Stash's config.yml; call it *before* reading the settings,
        so that a change saved meanwhile leaves a cache the next hook does not trust. None when the bootstrap
        cannot be loaded (then the hooks ask Stash themselves)."""
        try:
            bootstrap = load_bootstrap(plugin_dir / BOOTSTRAP_FILE)
            stamp = bootstrap.stash_config_stamp(dict(connection))
        except Exception as exc:  # never a reason to fail the task
            if log is not None:
                log("debug", f"Hook settings cache: cannot load {plugin_dir / BOOTSTRAP_FILE} ({type(exc).__name__})")
            return None
        return cls(bootstrap, connection, stamp)

    def store(self, settings: Settings, log: Callable[[str, str], None] | None = None) -> bool:
        """Write ``settings`` (as read from Stash after :meth:`prepare`) for the hooks; False when it could not."""
        try:
            stored = bool(self._bootstrap.store_hook_settings(self._connection, hook_view(settings), self._stamp,
                                                              time.time()))
        except Exception as exc:  # never a reason to fail the task
            if log is not None:
                log("debug", f"Hook settings cache: not written ({type(exc).__name__})")
            return False
        if not stored and log is not None:
            log("debug", "Hook settings cache: not written (read-only plugin folder?); hooks ask Stash each time")
        return stored
