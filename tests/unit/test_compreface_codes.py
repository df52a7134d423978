"""Every CompreFace error code (compreface-api.md §5.2) maps to a class or a documented non-error."""

from __future__ import annotations

import httpx
import pytest

from stash_compreface.compreface.client import CompreFaceClient, NoFace
from stash_compreface.compreface.codes import CODES, NO_FACE_FOUND
from stash_compreface.errors import (
    AuthError,
    CompreFaceError,
    ExampleNotFound,
    ServiceError,
    SubjectExists,
    SubjectNotFound,
    TooManyFaces,
)

KEY = "11111111-1111-1111-1111-111111111111"
SPEC_CODES = {0, 5, 10, 12, 20, 21, 26, 27, 28, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44}


def _raise(status: int, body: object, content_type: str = "application/json") -> None:
    client = CompreFaceClient("http://cf.invalid", recognition_key=KEY)
    if isinstance(body, (dict, list)):
        response = httpx.Response(status, json=body)
    else:
        response = httpx.Response(status, content=str(body).encode(), headers={"content-type": content_type})
    client._raise_for(response, "recognition")


def test_table_covers_every_documented_code() -> None:
    assert set(CODES) == SPEC_CODES
    assert all(why for _, why in CODES.values())


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, 10, AuthError),
        (400, 20, AuthError),
        (400, 31, TooManyFaces),
        (404, 42, SubjectNotFound),
        (400, 43, SubjectExists),
        (404, 44, ExampleNotFound),
        (500, 41, CompreFaceError),
        (400, 21, CompreFaceError),
        (405, 32, CompreFaceError),
    ],
)
def test_codes_map_to_classes(status: int, code: int, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        _raise(status, {"message": "x", "code": code})


def test_no_face_is_not_an_error_class() -> None:
    assert CODES[NO_FACE_FOUND][0] is None
    with pytest.raises(NoFace):
        _raise(400, {"message": "No face is found in the given image", "code": 28})


def test_code_26_is_a_key_problem_only_when_it_says_so() -> None:
    with pytest.raises(AuthError, match="recognitionApiKey"):
        _raise(400, {"message": "Service API key should be UUID", "code": 26})
    with pytest.raises(CompreFaceError):
        _raise(400, {"message": "Subject name is empty; ", "code": 26})


def test_code_10_message_never_leaks_the_key() -> None:
    with pytest.raises(AuthError) as info:
        _raise(404, {"message": f"Recognition service with API Key {KEY} not found", "code": 10})
    assert KEY not in str(info.value) and "recognitionApiKey" in str(info.value)


def test_html_gateway_pages_are_retryable_service_errors() -> None:
    with pytest.raises(ServiceError) as info:
        _raise(502, "<html><title>502 Bad Gateway</title></html>", "text/html")
    assert info.value.retryable and "HTML" in str(info.value)
    with pytest.raises(ServiceError) as info:
        _raise(413, "<html>413</html>", "text/html")
    assert not info.value.retryable
