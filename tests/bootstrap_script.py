"""plugin/compreface.py, the stdlib-only script Stash runs, loaded as a module so tests can call it directly.

It is not a package module (Stash runs it by path, before any venv exists), so it is loaded from its path.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from scripts.build_plugin import PLUGIN_SRC

SCRIPT = PLUGIN_SRC / "compreface.py"


def load_bootstrap(name: str = "compreface_bootstrap") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
