"""The layers of src/stash_compreface, enforced: what each part of the package may import.

Every module's imports are read from its source (``ast``, every ``import`` anywhere in the file, typing-only
ones included), resolved to absolute module names, and checked against the contract:

* ``faces/`` holds pure decisions: it imports nothing that does I/O (no HTTP, SQLite, files, processes, no
  client, engine, runtime or task);
* the clients (``stash/``, ``compreface/``, ``vision/``) import no task, no runtime and no other client: each
  speaks one protocol and raises typed errors, whoever calls it;
* ``tasks/`` imports no ``runtime/``: the front ends (plugin runtime, CLI, tests) build a TaskContext and
  call the tasks, never the other way round (what tasks report through is ``reporting.Reporter``);
* ``engine/`` (the built-in face service) does not import ``compreface/``: both implement ``faceservice``;
* ``hookqueue`` imports nothing of the package but ``oslock``, which imports nothing of it: the bootstrap imports
  them with Stash's bare Python.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "stash_compreface"
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Rule:
    """Modules under ``layer`` (a module or package, dotted, without the package name) import none of
    ``forbidden`` (dotted; the package's own given without its name, e.g. ``runtime``, third-party and
    standard-library modules as themselves, e.g. ``httpx``)."""

    name: str
    layers: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()  # the package's own modules the rule lets through all the same


OWN_IO = ("stash", "compreface", "vision", "engine", "runtime", "tasks", "video", "transport", "imaging",
          "hookqueue", "sqlite_file", "quality")
FOREIGN_IO = ("httpx", "sqlite3", "PIL", "urllib", "socket", "ssl", "subprocess", "av", "cv2", "ncnn")

RULES = {
    "faces-are-pure": Rule("faces/ imports nothing that does I/O", ("faces",), (*OWN_IO, *FOREIGN_IO)),
    "clients-below-tasks": Rule("clients import no task and no runtime", ("stash", "compreface", "vision"),
                                ("tasks", "runtime")),
    "tasks-below-runtime": Rule("tasks/ imports no runtime/", ("tasks",), ("runtime",)),
    "engine-not-compreface": Rule("engine/ does not import compreface/", ("engine",), ("compreface",)),
    "hookqueue-alone": Rule("hookqueue imports nothing of the package but oslock", ("hookqueue",), ("",),
                            allowed=("oslock",)),
    "oslock-alone": Rule("oslock imports nothing of the package", ("oslock",), ("",)),
}
CLIENTS = ("stash", "compreface", "vision")
RULES.update({f"{client}-apart": Rule(f"{client}/ imports no other client", (client,),
                                      tuple(other for other in (*CLIENTS, "engine") if other != client))
              for client in CLIENTS})


def module_name(path: Path, root: Path) -> str:
    """``stash_compreface.tasks.context`` for ``<root>/stash_compreface/tasks/context.py``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line, absolute module names) of every import in the file, one per imported module: ``import a.b``
    gives ``a.b``; ``from a import b, c`` gives ``a``, ``a.b`` and ``a.c`` (b may be a submodule)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, (alias.name,)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            yield node.lineno, (base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*"))


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _forbidden(rule: Rule, module: str) -> bool:
    if not _within(module, PACKAGE):
        return any(forbidden and _within(module, forbidden) for forbidden in rule.forbidden)
    if module == PACKAGE or any(_within(module, f"{PACKAGE}.{allowed}") for allowed in rule.allowed):
        return False  # the package itself (its __init__ imports nothing), or a module the rule allows
    return any(_within(module, f"{PACKAGE}.{forbidden}") if forbidden else True for forbidden in rule.forbidden)


def violations(rule: Rule, root: Path = SRC) -> list[str]:
    """Each import statement of the rule's layers under ``root`` that reaches a forbidden module, as
    ``file:line imports module`` (the first forbidden module it names)."""
    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        name = module_name(path, root)
        if not any(_within(name, f"{PACKAGE}.{layer}") for layer in rule.layers):
            continue
        for line, modules in sorted(imports_of(path, root)):
            crossing = [module for module in modules if _forbidden(rule, module)]
            if crossing:
                found.append(f"{path.relative_to(root).as_posix()}:{line} imports {crossing[0]}")
    return found


@pytest.mark.parametrize("rule_id", list(RULES))
def test_the_package_keeps_its_layers(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert violations(rule) == [], f"{rule.name}: the imports above cross the layer"


def test_every_layer_named_in_a_rule_exists() -> None:
    for rule in RULES.values():
        for layer in rule.layers:
            path = SRC / PACKAGE / layer
            assert path.is_dir() or path.with_suffix(".py").is_file(), layer


# -- the checker itself, on a synthetic package ---------------------------------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checker_finds_a_task_that_imports_the_runtime_however_it_is_written(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "reporting.py": "",
        "runtime/__init__.py": "",
        "runtime/reporter.py": "",
        "tasks/__init__.py": "from . import context\n",
        "tasks/context.py": "from ..reporting import Reporter\nfrom .state import Store\n",
        "tasks/relative.py": "from ..runtime.reporter import Reporter\n",
        "tasks/absolute.py": "import stash_compreface.runtime.reporter\n",
        "tasks/package.py": "from .. import runtime\n",
        "tasks/late.py": "def f():\n    from ..runtime import reporter\n    return reporter\n",
        "tasks/scenes/__init__.py": "from ...runtime import reporter\n",
        "tasks/state.py": "import sqlite3\n",
    })
    assert violations(RULES["tasks-below-runtime"], root) == [
        "stash_compreface/tasks/absolute.py:1 imports stash_compreface.runtime.reporter",
        "stash_compreface/tasks/late.py:2 imports stash_compreface.runtime",
        "stash_compreface/tasks/package.py:1 imports stash_compreface.runtime",
        "stash_compreface/tasks/relative.py:1 imports stash_compreface.runtime.reporter",
        "stash_compreface/tasks/scenes/__init__.py:1 imports stash_compreface.runtime",
    ]


def test_the_checker_tells_foreign_modules_from_the_packages_own(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "",
        "faces/__init__.py": "",
        "faces/pure.py": "import math\nfrom . import other\nfrom .other import x\n",
        "faces/other.py": "x = 1\n",
        "faces/io.py": "import sqlite3\n",
        "faces/http.py": "from httpx import Client\n",
        "faces/client.py": "from ..stash.client import StashClient\n",
        "faces/stash.py": "",  # a faces module named like a client is not the client
        "faces/near.py": "from .stash import x\n",
        "hookqueue.py": "import os\nfrom . import settings\nfrom .oslock import file_lock\n",
    })
    assert violations(RULES["faces-are-pure"], root) == [
        "stash_compreface/faces/client.py:1 imports stash_compreface.stash.client",
        "stash_compreface/faces/http.py:1 imports httpx",
        "stash_compreface/faces/io.py:1 imports sqlite3",
    ]
    assert violations(RULES["hookqueue-alone"], root) == [
        "stash_compreface/hookqueue.py:2 imports stash_compreface.settings"]
