"""Every GraphQL document the plugin sends must be valid on Stash develop and every release since v0.25.

The schemas are in the repository (tests/reference, provenance in its README). A missing one is an error at
collection, never a skip: a fresh clone checks exactly what CI checks.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

from tests.bootstrap_script import SCRIPT, load_bootstrap

REFERENCE = Path(__file__).resolve().parent / "reference"
DEVELOP = "stash-schema-develop.graphqls"
RELEASES = ("0.25.1", "0.26.2", "0.27.2", "0.28.1", "0.29.3", "0.30.1")  # the newest patch of each from v0.25
SCHEMAS = [REFERENCE / DEVELOP, *(REFERENCE / f"stash-schema-v{release}.graphqls" for release in RELEASES)]
DOCUMENTS = sorted(Path(str(files("stash_compreface.stash") / "graphql")).glob("*.graphql"))
UI_SCRIPT = Path(__file__).resolve().parents[1] / "plugin" / "ui" / "compreface.js"

_missing = [path.name for path in SCHEMAS if not path.is_file()]
if _missing:
    raise FileNotFoundError(f"Stash schemas missing from {REFERENCE}: {', '.join(_missing)} (see its README.md)")


def _ui_documents() -> list[str]:
    """The documents the browser sends (single-quoted one-line constants in the plugin's UI script)."""
    return re.findall(r"'((?:query|mutation) CompreFace\w+[^']*)'", UI_SCRIPT.read_text())


def _bootstrap_documents() -> list[str]:
    """The documents the bootstrap script's hook sends (module-level constants of plugin/compreface.py)."""
    module = load_bootstrap("compreface_bootstrap_documents")
    return [value for value in vars(module).values()
            if isinstance(value, str) and re.match(r"(query|mutation) \w+", value)]


def test_documents_exist_one_operation_each_named_after_the_file() -> None:
    assert len(DOCUMENTS) >= 14
    for path in DOCUMENTS:
        operations = [d for d in parse(path.read_text()).definitions if isinstance(d, OperationDefinitionNode)]
        assert len(operations) == 1, path.name
        assert operations[0].name is not None and operations[0].name.value == path.stem


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=lambda p: p.name)
def test_documents_validate_against_schema(schema_path: Path) -> None:
    schema = build_schema(schema_path.read_text())
    problems = []
    for path in DOCUMENTS:
        problems += [f"{path.name}: {error.message}" for error in validate(schema, parse(path.read_text()))]
    for document in _ui_documents():
        problems += [f"compreface.js: {error.message}" for error in validate(schema, parse(document))]
    for document in _bootstrap_documents():
        problems += [f"compreface.py: {error.message}" for error in validate(schema, parse(document))]
    assert problems == []


def test_the_ui_sends_only_its_listed_documents() -> None:
    documents = _ui_documents()
    assert [d.split("(")[0] for d in documents] == ["mutation CompreFaceOperation", "query CompreFacePerformers"]
    script = UI_SCRIPT.read_text()
    assert script.count("graphql(") == 1 + len(documents)  # the function itself, and one call per document


def test_the_bootstrap_sends_only_its_listed_documents() -> None:
    documents = _bootstrap_documents()
    assert sorted(d.split("(")[0] for d in documents) == ["mutation RunQueuedTask", "query HookSettings"]
    script = SCRIPT.read_text(encoding="utf-8")
    calls = re.findall(r"stash_graphql\(connection, (\w+),", script)
    assert sorted(calls) == ["_RUN_TASK_MUTATION", "_SETTINGS_QUERY"]
    assert script.count("stash_graphql(") == 1 + len(calls)  # the function itself, and one call per document


def test_every_supported_release_is_checked() -> None:
    names = {p.name for p in REFERENCE.glob("stash-schema-*.graphqls")}
    assert names == {p.name for p in SCHEMAS}, "a schema in tests/reference that no test reads, or the reverse"
    assert "stash-schema-v0.25.1.graphqls" in names and "stash-schema-v0.30.1.graphqls" in names
    assert not [name for name in names if name.startswith("stash-schema-v0.24")]
