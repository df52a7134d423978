"""Walk CompreFace's documented error answers (compreface-api.md §5.2, §5.3) through the client.

Each row is transcribed from the spec: code, HTTP status, exact message, and what the spec says the
answer means for us (a key problem, "no face", a subject/example problem, the service's own fault).
The CompreFace double sends each one over real HTTP and the test checks what a caller would see: the
engine-neutral exception class, whether the key setting is named, whether it was retried.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stash_compreface.compreface.client import CompreFaceClient
from stash_compreface.compreface.codes import CODES
from stash_compreface.errors import AuthError, PluginError, ServiceError
from stash_compreface.faceservice import (
    ExampleNotFound,
    FaceRejected,
    FaceServiceError,
    NoFaceFound,
    SubjectExists,
    SubjectNotFound,
    TooManyFaces,
)
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.synthetic import SyntheticFace, draw_image, noise_image

SUBJECTS = "/api/v1/recognition/subjects"


@dataclass(frozen=True)
class Row:
    code: int
    status: int
    message: str
    expect: type[PluginError]


# compreface-api.md §5.2, in table order; where a code has several documented messages, each is a row.
SPEC = [
    Row(0, 400, "Something went wrong, please try again", FaceServiceError),
    Row(0, 404, "Request method 'PATCH' not supported", FaceServiceError),
    Row(5, 400, "Field embeddings cannot be empty", FaceServiceError),
    Row(10, 404, f"Recognition service with API Key {RECOGNITION_KEY} not found", AuthError),
    Row(12, 500, "Model type recognitionx does not exists", FaceServiceError),
    Row(20, 400, "Missing header: x-api-key", AuthError),
    Row(21, 400, "File [face.gif] has an unavailable extension", FaceRejected),
    Row(21, 400, "Provided value is not Base64", FaceRejected),
    Row(26, 400, "Service API key should be UUID", AuthError),
    Row(26, 400, "Subject name is empty; ", FaceServiceError),
    Row(26, 400, "Limit should be equal or greater than 0; ", FaceServiceError),
    Row(26, 400, "prediction_count should be equal or greater than 1; ", FaceServiceError),
    Row(26, 400, "Subject name size must be between 1 and 50", FaceServiceError),
    Row(27, 400, "Migration already executing", FaceServiceError),
    Row(28, 400, "No face is found in the given image", NoFaceFound),
    Row(31, 400, "More than one face in the source image", TooManyFaces),
    Row(32, 405, "Write operations during migration aren't allowed", FaceServiceError),
    Row(33, 400, "Required parameter subject is missing", FaceServiceError),
    Row(34, 400, "Required part file is missing", FaceServiceError),
    Row(35, 400, "Required path variable image_id is missing", FaceServiceError),
    Row(36, 400, "The name cannot contain the following special characters: ';', '/', '\\'", FaceRejected),
    Row(37, 400, "1 embeddings were expected, but 2 were provided", FaceServiceError),
    Row(41, 500, "Error during synchronization between servers: Read timed out executing POST "
                 "http://compreface-core:3000/find_faces", FaceServiceError),
    Row(42, 404, "Subject Jane not found", SubjectNotFound),
    Row(43, 400, "Subject already exists", SubjectExists),
    Row(44, 404, "Image 6b135f5b-a365-4522-b1f1-4c9ac2dd0728 not found", ExampleNotFound),
    Row(44, 404, "Image Id is incorrect", ExampleNotFound),
]


@pytest.fixture(scope="module")
def double():
    with CompreFaceDouble.running() as server:
        yield server


@pytest.fixture
def compreface(double):
    double.reset()
    return double


@pytest.fixture
def client(compreface):
    c = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, retries=1, backoff_s=0.001)
    _ = c.max_upload_bytes  # read /api/v1/config before any fault is scripted
    yield c
    c.close()


def test_the_table_and_the_spec_list_the_same_codes() -> None:
    assert set(CODES) == {row.code for row in SPEC}
    assert all(rule.why for rule in CODES.values())


@pytest.mark.parametrize("row", SPEC, ids=lambda r: f"{r.code}-{r.status}-" + r.message[:24])
def test_each_documented_error_raises_what_it_means(compreface, client, row: Row) -> None:
    compreface.fail_next(SUBJECTS, row.status, body={"message": row.message, "code": row.code}, times=2)
    with pytest.raises(PluginError) as info:
        client.list_subjects()
    error = info.value
    assert type(error) is row.expect, str(error)
    if row.expect is AuthError:
        assert error.setting == "recognitionApiKey" and "recognitionApiKey" in str(error)
        assert RECOGNITION_KEY not in str(error)  # code 10 repeats the key
    else:
        assert isinstance(error, FaceServiceError) and error.code == row.code and error.status == row.status
        assert row.message.strip("; ")[:20] in str(error) and "CompreFace" in str(error)
        assert error.retryable is (row.status >= 500)
    # Only the service's own failures (HTTP 5xx) are worth another try.
    assert compreface.calls[f"GET {SUBJECTS}"] == (2 if row.status >= 500 else 1)


def face_image() -> bytes:
    return draw_image(400, 320, [SyntheticFace(1, 80, 60, 160)])


def test_no_face_found_is_not_an_error_for_detection_but_fails_an_example(compreface, client) -> None:
    (row,) = [r for r in SPEC if r.expect is NoFaceFound]
    body = {"message": row.message, "code": row.code}
    compreface.fail_next("/api/v1/recognition/recognize", row.status, body=body)
    assert client.recognize(face_image(), min_probability=0.8) == []
    assert client.detect(noise_image(200, 200), min_probability=0.8) == []
    compreface.fail_next("/api/v1/recognition/faces", row.status, body=body)
    with pytest.raises(NoFaceFound) as info:
        client.add_example("Jane", face_image())
    assert info.value.code == row.code and not info.value.retryable


@pytest.mark.parametrize(("status", "html", "body", "retried"), [
    (400, False, None, False),    # non-numeric parameter, malformed UUID: Spring's empty body
    (415, False, None, False),    # Content-Type not accepted
    (404, False, {"timestamp": "2024-01-01T00:00:00.000+00:00", "status": 404, "error": "Not Found",
                  "path": SUBJECTS}, False),
    (413, True, None, False),     # nginx: body above client_max_body_size
    (502, True, None, True),      # nginx: compreface-api down or restarting
    (504, True, None, True),      # nginx: request above 60 s
], ids=["400-empty", "415-empty", "404-spring", "413-html", "502-html", "504-html"])
def test_answers_without_a_code_are_service_errors(compreface, client, status, html, body, retried) -> None:
    compreface.fail_next(SUBJECTS, status, html=html, body=body, times=2)
    with pytest.raises(ServiceError) as info:
        client.list_subjects()
    assert type(info.value) is ServiceError and info.value.status == status
    assert info.value.retryable is retried
    assert ("HTML" in str(info.value)) is html
    assert compreface.calls[f"GET {SUBJECTS}"] == (2 if retried else 1)


@pytest.mark.parametrize("status", [401, 403])
def test_a_proxy_refusing_credentials_is_a_key_error(compreface, client, status: int) -> None:
    compreface.fail_next(SUBJECTS, status, html=True)
    with pytest.raises(AuthError, match="recognitionApiKey"):
        client.list_subjects()
