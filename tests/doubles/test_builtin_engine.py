"""The CompreFace double on the built-in engine: real photos over HTTP, in CompreFace's wire format.

Why: e2e tests and benchmarks on real faces are only worth something if the double then behaves as a
CompreFace would on those photos: the right subject first, strangers below ``minSimilarity`` (0.81), one
example per face, boxes and landmarks on the face, similarities on the scale the plugin's thresholds assume.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stash_compreface.engine.service import BuiltinFaceService
from testdoubles.builtin_engine import BuiltinEngine
from testdoubles.compreface import DETECTION_KEY, RECOGNITION_KEY, CompreFaceDouble
from testdoubles.photos import Photos, side_by_side
from testdoubles.synthetic import noise_image
from tests import localhttp

API = "/api/v1"
MIN_SIMILARITY = 0.81  # the plugin's default minSimilarity
ENROLLED = {"Obama": "obama_1", "Macron": "macron_2014", "Ardern": "ardern_2018", "Sunak": "sunak"}


@pytest.fixture(scope="module")
def cf(photos: Photos) -> Iterator[CompreFaceDouble]:
    """One double for the module, its subjects enrolled over HTTP (the add-example test of its own)."""
    with CompreFaceDouble.running(engine="builtin") as double, client(double, RECOGNITION_KEY) as rec:
        for subject, name in ENROLLED.items():
            answer = rec.post("/recognition/faces", params={"subject": subject}, files=upload(photos[name]))
            assert answer.status_code == 201, answer.text
            assert answer.json()["subject"] == subject
        yield double


def client(double: CompreFaceDouble, key: str) -> httpx.Client:
    return localhttp.Client(base_url=double.url + API, headers={"x-api-key": key}, timeout=30)


def upload(data: bytes, field: str = "file") -> dict[str, Any]:
    return {field: ("photo.jpg", data, "image/jpeg")}


def best(face: dict[str, Any]) -> tuple[str, float]:
    return face["subjects"][0]["subject"], face["subjects"][0]["similarity"]


def test_recognize_names_the_right_person_and_keeps_strangers_below_the_threshold(cf, photos) -> None:
    with client(cf, RECOGNITION_KEY) as rec:
        for name, expected in (("obama_2", "Obama"), ("obama_3", "Obama"), ("obama_portrait", "Obama"),
                               ("macron_2025", "Macron"), ("ardern_2022", "Ardern"), ("biden", None)):
            answer = rec.post("/recognition/recognize", params={"prediction_count": "4", "face_plugins": "pose"},
                              files=upload(photos[name]))
            assert answer.status_code == 200, answer.text
            faces = answer.json()["result"]
            assert len(faces) == 1, name
            subject, score = best(faces[0])
            if expected is None:
                assert score < MIN_SIMILARITY, f"{name} matched {subject} at {score}"
            else:
                assert (subject, score >= MIN_SIMILARITY) == (expected, True), f"{name}: {faces[0]['subjects']}"
                others = [s["similarity"] for s in faces[0]["subjects"] if s["subject"] != expected]
                assert len(others) == 3 and max(others) < MIN_SIMILARITY, f"{name}: {faces[0]['subjects']}"
            assert abs(faces[0]["pose"]["yaw"]) < 30 and faces[0]["box"]["probability"] > 0.85


def test_two_people_in_one_photo_are_two_faces_each_with_its_own_subject(cf, photos) -> None:
    pair = side_by_side((photos["macron_2025"], 500), (photos["ardern_2022"], 400))  # Macron is larger
    with client(cf, RECOGNITION_KEY) as rec:
        faces = rec.post("/recognition/recognize", files=upload(pair)).json()["result"]
    assert [best(f)[0] for f in faces] == ["Macron", "Ardern"]
    assert all(best(f)[1] >= MIN_SIMILARITY for f in faces)
    assert faces[0]["box"]["x_max"] < faces[1]["box"]["x_min"]  # each box on its own photo


def test_the_example_photo_itself_is_a_perfect_match(cf, photos) -> None:
    with client(cf, RECOGNITION_KEY) as rec:
        faces = rec.post("/recognition/recognize", files=upload(photos["sunak"])).json()["result"]
    assert best(faces[0]) == ("Sunak", 1.0)


def test_similarities_are_those_the_built_in_engine_gives(cf, photos) -> None:
    """One scale for both engines: a threshold means the same whichever engine a user picks."""
    assert isinstance(cf.engine, BuiltinEngine)
    service = BuiltinFaceService(None, backend=cf.engine.model)
    try:
        service.add_example("Obama", photos["obama_1"])
        service.add_example("Macron", photos["macron_2014"])
        with client(cf, RECOGNITION_KEY) as rec:
            for name in ("obama_3", "macron_2025"):
                [face] = service.recognize(photos[name], min_probability=0.5)
                ours = {m.subject: m.similarity for m in face.matches}
                faces = rec.post("/recognition/recognize", params={"prediction_count": "4"},
                                 files=upload(photos[name])).json()["result"]
                double = {s["subject"]: s["similarity"] for s in faces[0]["subjects"] if s["subject"] in ours}
                assert double == pytest.approx(ours, abs=1e-4), name
    finally:
        service.close()


def test_detect_gives_boxes_and_real_landmarks_on_the_face(cf, photos) -> None:
    with client(cf, DETECTION_KEY) as det:
        answer = det.post("/detection/detect", params={"face_plugins": "landmarks,pose"},
                          files=upload(photos["macron_2025"]))
    assert answer.status_code == 200, answer.text
    [face] = answer.json()["result"]
    box = face["box"]
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face["landmarks"]
    assert all(box["x_min"] <= x <= box["x_max"] and box["y_min"] <= y <= box["y_max"]
               for x, y in face["landmarks"])
    assert lex < nx < rex and lmx < rmx  # as seen in the image
    assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose tip, above the mouth
    assert abs(face["pose"]["yaw"]) < 30 and abs(face["pose"]["roll"]) < 20


def test_an_example_needs_exactly_one_face(cf, photos) -> None:
    pair = side_by_side((photos["obama_2"], 400), (photos["biden"], 400))
    with client(cf, RECOGNITION_KEY) as rec:
        two = rec.post("/recognition/faces", params={"subject": "Nobody"}, files=upload(pair))
        none = rec.post("/recognition/faces", params={"subject": "Nobody"},
                        files=upload(noise_image(320, 240, seed=3)))
        recognized = rec.post("/recognition/recognize", files=upload(noise_image(320, 240, seed=3)))
    assert (two.status_code, two.json()["code"]) == (400, 31)
    assert (none.status_code, none.json()["code"]) == (400, 28)
    assert (recognized.status_code, recognized.json()["code"]) == (400, 28)
    assert "Nobody" not in cf.subject_names()


