"""Every GraphQL document the plugin sends must be valid on Stash develop and every release since v0.25."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, build_schema, parse, validate

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
DOCUMENTS = sorted(Path(str(files("stash_compreface.stash") / "graphql")).glob("*.graphql"))
UI_SCRIPT = Path(__file__).resolve().parents[1] / "plugin" / "ui" / "compreface.js"


def _ui_documents() -> list[str]:
    """The documents the browser sends (single-quoted one-line constants in the plugin's UI script)."""
    return re.findall(r"'((?:query|mutation) CompreFace\w+[^']*)'", UI_SCRIPT.read_text())


def _schemas() -> list[Path]:
    if not REFERENCE.is_dir():
        return []
    releases = sorted(p for p in REFERENCE.glob("stash-schema-v*.graphql") if p.name >= "stash-schema-v0.25")
    return [REFERENCE / "stash-schema.graphql", *releases]


def test_documents_exist_one_operation_each_named_after_the_file() -> None:
    assert len(DOCUMENTS) >= 14
    for path in DOCUMENTS:
        operations = [d for d in parse(path.read_text()).definitions if isinstance(d, OperationDefinitionNode)]
        assert len(operations) == 1, path.name
        assert operations[0].name is not None and operations[0].name.value == path.stem


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not beside the repository")
@pytest.mark.parametrize("schema_path", _schemas(), ids=lambda p: p.name)
def test_documents_validate_against_schema(schema_path: Path) -> None:
    schema = build_schema(schema_path.read_text())
    problems = []
    for path in DOCUMENTS:
        problems += [f"{path.name}: {error.message}" for error in validate(schema, parse(path.read_text()))]
    for document in _ui_documents():
        problems += [f"compreface.js: {error.message}" for error in validate(schema, parse(document))]
    assert problems == []


def test_the_ui_sends_only_its_listed_documents() -> None:
    documents = _ui_documents()
    assert [d.split("(")[0] for d in documents] == ["mutation CompreFaceOperation", "query CompreFacePerformers"]
    script = UI_SCRIPT.read_text()
    assert script.count("graphql(") == 1 + len(documents)  # the function itself, and one call per document


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not beside the repository")
def test_every_supported_release_is_checked() -> None:
    names = [p.name for p in _schemas()]
    assert "stash-schema-v0.25.1.graphql" in names and "stash-schema-v0.30.1.graphql" in names
    assert "stash-schema-v0.24.3.graphql" not in names
