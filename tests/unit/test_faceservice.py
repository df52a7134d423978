"""The face-service errors are the engines' contract: neutral classes, retryability said where they are
raised, engines that name themselves, and CompreFace's codes known to its client alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import stash_compreface
from stash_compreface import errors
from stash_compreface.compreface.client import CompreFaceClient
from stash_compreface.errors import ServiceError
from stash_compreface.faceservice import (
    ExampleNotFound,
    FaceRejected,
    FaceServiceError,
    NoFaceFound,
    SubjectExists,
    SubjectNotFound,
    TooManyFaces,
)
from stash_compreface.runtime.engines import ENGINE_NAMES

PACKAGE = Path(stash_compreface.__file__).parent
REFUSALS = (NoFaceFound, TooManyFaces, FaceRejected, SubjectNotFound, SubjectExists, ExampleNotFound)


@pytest.mark.parametrize("cls", REFUSALS, ids=lambda cls: cls.__name__)
def test_a_refusal_is_an_item_failure_not_worth_another_try(cls: type[FaceServiceError]) -> None:
    error = cls("the built-in engine says no", service="builtin")
    assert isinstance(error, FaceServiceError) and isinstance(error, ServiceError)
    assert not error.retryable and error.status is None and error.code is None


def test_retryability_is_what_the_engine_said() -> None:
    failed = FaceServiceError("CompreFace answered HTTP 500 code 41: core", service="compreface", status=500,
                              code=41, retryable=True)
    assert failed.retryable
    assert not FaceServiceError("CompreFace answered HTTP 400 code 27", service="compreface", status=400,
                                code=27).retryable


def test_each_engine_names_itself_as_messages_do() -> None:
    from stash_compreface.engine.service import BuiltinFaceService

    assert CompreFaceClient.name == ENGINE_NAMES["compreface"] == "CompreFace"
    assert BuiltinFaceService.name == ENGINE_NAMES["builtin"] == "the built-in engine"


def test_the_face_service_errors_live_in_faceservice_only() -> None:
    for name in ("CompreFaceError", "TooManyFaces", "SubjectNotFound"):
        assert not hasattr(errors, name)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names relative to the package (``compreface.codes``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = (node.module or "").removeprefix("stash_compreface.")
            found.add(base)
            found.update(f"{base}.{alias.name}".lstrip(".") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name.removeprefix("stash_compreface.") for alias in node.names)
    return found


def test_only_the_compreface_client_knows_its_error_codes() -> None:
    offenders = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if path.parent.name != "compreface" and "compreface.codes" in _imports(path)]
    assert offenders == []
