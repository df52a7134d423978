"""The CompreFace client against the CompreFace double, over real HTTP: answers, typed errors, recovery."""

from __future__ import annotations

import socket
import threading
import uuid

import httpx
import pytest

from stash_compreface.compreface.client import CompreFaceClient
from stash_compreface.errors import (
    AuthError,
    MediaError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
    Stopped,
)
from stash_compreface.faceservice import ExampleNotFound, NoFaceFound, SubjectNotFound, TooManyFaces
from stash_compreface.transport import Breaker
from testdoubles.compreface import DETECTION_KEY, RECOGNITION_KEY, CompreFaceDouble
from testdoubles.synthetic import SyntheticFace, draw_image, noise_image
from tests.timeouts import ANSWERED_S


@pytest.fixture
def compreface():
    with CompreFaceDouble.running() as double:
        yield double


@pytest.fixture
def client(compreface):
    c = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, detection_key=DETECTION_KEY,
                         backoff_s=0.01, timeout_s=2)
    yield c
    c.close()


def face_of(person: int, size: int = 160, seed: int = 0) -> bytes:
    return draw_image(400, 320, [SyntheticFace(person, 80, 60, size)], seed=seed)


def test_enrol_then_recognize_the_same_person_elsewhere(compreface, client) -> None:
    client.add_example("Person 1 AAAAAAAAAAAAAAAA", face_of(1))
    client.add_example("Person 2 BBBBBBBBBBBBBBBB", face_of(2))
    (face,) = client.recognize(face_of(1, size=120, seed=5), min_probability=0.8)
    assert face.best is not None and face.best.subject == "Person 1 AAAAAAAAAAAAAAAA"
    assert face.best.similarity > 0.95
    assert [m.subject for m in face.matches] == ["Person 1 AAAAAAAAAAAAAAAA", "Person 2 BBBBBBBBBBBBBBBB"]
    assert face.matches[1].similarity < 0.5
    assert face.pose is not None and face.gender in ("male", "female")
    assert len(face.landmarks) == 5  # eyes, nose, mouth corners, for the quality library
    left_eye, right_eye = face.landmarks[:2]
    assert face.box.x_min <= left_eye[0] < right_eye[0] <= face.box.x_max


def test_no_face_is_an_empty_result_not_an_error(client) -> None:
    assert client.recognize(noise_image(200, 200), min_probability=0.8) == []
    assert client.detect(noise_image(200, 200), min_probability=0.8) == []
    with pytest.raises(MediaError):  # refused before upload, with a reason a user can read
        client.recognize(b"garbage that is no image", min_probability=0.8)


def test_example_rules(client) -> None:
    two = draw_image(600, 300, [SyntheticFace(3, 20, 20, 150), SyntheticFace(4, 300, 20, 150)])
    with pytest.raises(TooManyFaces):
        client.add_example("Person 3 CCCCCCCCCCCCCCCC", two)
    with pytest.raises(NoFaceFound) as info:
        client.add_example("Person 3 CCCCCCCCCCCCCCCC", noise_image(200, 200))
    assert info.value.code == 28 and "CompreFace" in str(info.value)
    with pytest.raises(SubjectNotFound):
        client.delete_subject("nobody")
    with pytest.raises(ExampleNotFound):
        client.delete_example(str(uuid.uuid4()))


def test_examples_are_counted_listed_and_deleted(compreface, client) -> None:
    first = client.add_example("Person 5 DDDDDDDDDDDDDDDD", face_of(5))
    client.add_example("Person 5 DDDDDDDDDDDDDDDD", face_of(5, size=140, seed=2))
    assert client.count_examples("Person 5 DDDDDDDDDDDDDDDD") == 2
    assert client.count_examples("person 5 dddddddddddddddd") == 0  # the list filter is exact-case
    client.delete_example(first)
    assert compreface.example_count("Person 5 DDDDDDDDDDDDDDDD") == 1
    assert client.list_subjects() == ["Person 5 DDDDDDDDDDDDDDDD"]
    client.delete_subject("Person 5 DDDDDDDDDDDDDDDD")
    assert client.list_subjects() == []


def test_a_stored_embedding_is_recognized(compreface, client) -> None:
    client.add_example("Person 6 FFFFFFFFFFFFFFFF", face_of(6))
    embedding = list(compreface.subjects["Person 6 FFFFFFFFFFFFFFFF"][0].embedding)
    (hit,) = client.recognize_embeddings([embedding])
    assert hit.best is not None and hit.best.subject == "Person 6 FFFFFFFFFFFFFFFF"


@pytest.mark.parametrize("key", ["5d0c5f1e-3b7a-4c9e-9f4e-2a6b8c1d7e90", DETECTION_KEY])
def test_wrong_key_names_the_setting_and_hides_the_key(compreface, key: str) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=key)
    with pytest.raises(AuthError) as info:
        client.list_subjects()
    assert info.value.setting == "recognitionApiKey" and key not in str(info.value)
    client.close()


def test_html_502_is_retried_then_recovers(compreface, client) -> None:
    compreface.fail_next("/api/v1/recognition/recognize", 502, times=2)
    assert client.recognize(face_of(1), min_probability=0.8) != []
    compreface.fail_next("/api/v1/recognition/recognize", 502, times=10)
    with pytest.raises(ServiceError) as info:
        client.recognize(face_of(1), min_probability=0.8)
    assert "HTML" in str(info.value)
    compreface.faults.clear()
    assert client.recognize(face_of(1), min_probability=0.8) != []


def test_timeouts_are_retried_then_reported(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.01, timeout_s=ANSWERED_S)
    compreface.hang("/api/v1/recognition/recognize", times=3)
    with pytest.raises(ServiceError, match="in time") as info:
        client.recognize(face_of(1), min_probability=0.8)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert compreface.wait_for_cut_off("POST /api/v1/recognition/recognize", 3) == 3
    assert compreface.calls["POST /api/v1/recognition/recognize"] == 3  # default: 3 attempts
    compreface.hang("/api/v1/recognition/recognize", times=1)
    assert client.recognize(face_of(1), min_probability=0.8) != []  # the second attempt gets through
    assert compreface.wait_for_cut_off("POST /api/v1/recognition/recognize", 4) == 4
    assert compreface.calls["POST /api/v1/recognition/recognize"] == 5
    client.close()


RECOGNIZE = "/api/v1/recognition/recognize"


@pytest.mark.parametrize(
    ("body", "html", "problem"),
    [
        (None, True, "web page"),
        (None, False, "empty body"),
        ({"result": {"box": {}}}, False, "`result` list"),
        ({"faces": []}, False, "`result` list"),
        ({"result": [{"subjects": [{"subject": "A", "similarity": 0.99}]}]}, False, "without a box"),
        ({"result": [{"box": {"x_min": "a", "y_min": 0, "x_max": 9, "y_max": 9}}]}, False, "x_min"),
    ],
    ids=["html", "empty", "result-not-list", "no-result", "face-without-box", "box-not-numbers"],
)
def test_a_200_that_is_not_the_protocol_is_never_no_faces(compreface, client, body, html, problem) -> None:
    compreface.fail_next(RECOGNIZE, 200, html=html, body=body, times=3)
    with pytest.raises(ProtocolError, match=problem) as info:
        client.recognize(face_of(1), min_probability=0.8)
    assert info.value.retryable and compreface.calls[f"POST {RECOGNIZE}"] == 3
    compreface.fail_next(RECOGNIZE, 200, html=html, body=body, times=1)
    assert client.recognize(face_of(1), min_probability=0.8) != []  # retried, then the real answer


def test_a_url_answering_html_is_named_at_check(compreface) -> None:
    """comprefaceUrl pointing at some web UI: one clear error, not a JSONDecodeError."""
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001)
    compreface.fail_next("/api/v1/", 200, times=100)
    with pytest.raises(ServiceUnavailable) as info:
        client.check()
    assert info.value.setting == "comprefaceUrl"
    assert "web page (HTML)" in str(info.value) and "comprefaceUrl" in str(info.value)
    with pytest.raises(ServiceUnavailable, match=r"CompreFace failed 5 times in a row .*web page.*comprefaceUrl"):
        client.list_subjects()  # had the check been skipped: the breaker says the same after 5 attempts
    compreface.faults.clear()
    client.breaker.reset()
    client.check()
    client.close()


def test_upload_limit_from_an_html_config_is_a_protocol_error(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001)
    compreface.fail_next("/api/v1/config", 200, times=3)
    with pytest.raises(ProtocolError, match="comprefaceUrl"):
        client.recognize(face_of(1), min_probability=0.8)
    assert client.recognize(face_of(1), min_probability=0.8) != []  # read again once it answers JSON
    client.close()


def test_an_outage_trips_the_breaker_naming_the_setting(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001)
    client.list_subjects()
    compreface.fail_next(RECOGNIZE, 502, times=1000)
    with pytest.raises(ServiceError):  # one item fails after its retries; the run could go on
        client.recognize(face_of(1), min_probability=0.8)
    with pytest.raises(ServiceUnavailable) as info:
        client.recognize(face_of(2), min_probability=0.8)
    assert str(info.value).startswith("CompreFace failed 5 times in a row")
    assert str(info.value).endswith("check that it is running and comprefaceUrl")
    assert info.value.setting == "comprefaceUrl"
    attempts = sum(compreface.calls.values())
    with pytest.raises(ServiceUnavailable):  # every later call, any route, fails at once
        client.list_subjects()
    assert sum(compreface.calls.values()) == attempts
    client.close()


def test_a_success_between_failures_keeps_the_breaker_closed(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001)
    for _ in range(4):
        compreface.fail_next(RECOGNIZE, 502, times=4)
        with pytest.raises(ServiceError):
            client.recognize(face_of(1), min_probability=0.8)
        assert client.recognize(face_of(1), min_probability=0.8) != []
    assert not client.breaker.tripped
    client.close()


def test_a_shared_breaker_stops_every_client_of_the_service(compreface) -> None:
    breaker = Breaker()
    first, second = (CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001,
                                      breaker=breaker) for _ in range(2))
    assert first.max_upload_bytes == second.max_upload_bytes  # both have read /api/v1/config
    compreface.fail_next(RECOGNIZE, 502, times=1000)
    with pytest.raises(ServiceError):
        first.recognize(face_of(1), min_probability=0.8)
    with pytest.raises(ServiceUnavailable):
        second.recognize(face_of(1), min_probability=0.8)
    with pytest.raises(ServiceUnavailable):
        first.list_subjects()
    first.close()
    second.close()


def test_a_stop_interrupts_the_backoff(compreface) -> None:
    stop = threading.Event()
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=3600, stop=stop)
    client.list_subjects()
    compreface.fail_next(RECOGNIZE, 502, times=10)
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(Stopped) as info:
        client.recognize(face_of(1), min_probability=0.8)
    assert isinstance(info.value.__cause__, ServiceError)
    assert compreface.calls[f"POST {RECOGNIZE}"] == 1
    client.close()


def test_an_example_is_not_sent_twice_after_a_timeout(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.001,
                              timeout_s=ANSWERED_S)
    client.list_subjects()
    compreface.hang("/api/v1/recognition/faces", method="POST")
    with pytest.raises(ServiceError, match="in time") as info:
        client.add_example("Person 9 GGGGGGGGGGGGGGGG", face_of(9))
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert compreface.wait_for_cut_off("POST /api/v1/recognition/faces") == 1
    assert compreface.calls["POST /api/v1/recognition/faces"] == 1  # it may have been stored
    compreface.fail_next("/api/v1/recognition/faces", 500, html=False, body={"message": "core", "code": 41})
    assert client.add_example("Person 9 GGGGGGGGGGGGGGGG", face_of(9))  # 41: the core refused, resent
    assert compreface.calls["POST /api/v1/recognition/faces"] == 3
    assert compreface.example_count("Person 9 GGGGGGGGGGGGGGGG") == 1
    client.close()


def test_uploads_are_downscaled_under_the_server_limit(compreface) -> None:
    huge = draw_image(2000, 1500, [SyntheticFace(8, 500, 400, 600)], fmt="JPEG", quality=100,
                      background="noise")
    compreface.max_file_size = len(huge) // 3  # the client reads the limit from /api/v1/config
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, detection_key=DETECTION_KEY)
    (face,) = client.detect(huge, min_probability=0.8)
    assert face.box.min_side > 100
    client.close()


def test_unreachable_service_names_the_url_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CompreFaceClient(f"http://127.0.0.1:{port}", recognition_key=RECOGNITION_KEY, backoff_s=0.01)
    with pytest.raises(ServiceUnavailable) as info:
        client.check()
    assert info.value.setting == "comprefaceUrl"
    client.close()


def test_detect_with_embeddings_then_recognize_the_vectors(compreface, client) -> None:
    """Scenes group faces by their vectors before recognizing: detection (calculator plugin) gives them,
    and the embeddings route names them without uploading the picture again."""
    client.add_example("Person 3 CCCCCCCCCCCCCCCC", face_of(3))
    (plain,) = client.detect(face_of(3, size=120, seed=4), min_probability=0.8)
    assert plain.embedding is None and plain.matches == ()
    (face,) = client.detect(face_of(3, size=120, seed=4), min_probability=0.8, embeddings=True)
    assert face.embedding is not None and face.matches == ()
    assert compreface.calls["POST /api/v1/detection/detect"] == 2
    assert compreface.calls["POST /api/v1/recognition/recognize"] == 0
    (hit,) = client.recognize_embeddings([list(face.embedding)])
    assert hit.best is not None and hit.best.subject == "Person 3 CCCCCCCCCCCCCCCC"


def test_detect_with_embeddings_without_a_detection_key_goes_through_recognition(compreface) -> None:
    client = CompreFaceClient(compreface.url, recognition_key=RECOGNITION_KEY, backoff_s=0.01, timeout_s=2)
    (face,) = client.detect(face_of(4), min_probability=0.8, embeddings=True)
    assert face.embedding is not None
    assert compreface.calls["POST /api/v1/recognition/recognize"] == 1
    client.close()
