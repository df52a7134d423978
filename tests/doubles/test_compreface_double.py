"""The CompreFace double over real HTTP: if it drifts from CompreFace's wire format (compreface-api.md §12.2),
client and task tests prove nothing."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image, ImageOps

from testdoubles.compreface import (
    DETECTION_KEY,
    RECOGNITION_KEY,
    VERIFICATION_KEY,
    CompreFaceDouble,
    jackson,
    similarity,
)
from testdoubles.synthetic import SyntheticFace, draw_image, encode, noise_image, person_embedding, render
from tests import localhttp

API = "/api/v1"


def photo(*faces: SyntheticFace, size: tuple[int, int] = (480, 360), seed: int = 0, **kwargs) -> bytes:
    return draw_image(*size, list(faces), seed=seed, **kwargs)


def portrait(person: int, *, seed: int = 0, **kwargs) -> bytes:
    return photo(SyntheticFace(person, 150 + seed % 7, 80 + seed % 5, 180, **kwargs), seed=seed)


ALICE, BOB, CAROL = 101, 202, 303
TWO_FACES = photo(SyntheticFace(ALICE, 30, 40, 160), SyntheticFace(BOB, 260, 60, 120))
NO_FACE = noise_image(320, 240, seed=3, block=4)


@pytest.fixture(scope="module")
def server() -> Iterator[CompreFaceDouble]:
    with CompreFaceDouble.running() as double:
        yield double


@pytest.fixture
def cf(server: CompreFaceDouble) -> Iterator[CompreFaceDouble]:
    server.reset()
    yield server


@pytest.fixture
def rec(cf: CompreFaceDouble) -> Iterator[httpx.Client]:
    with localhttp.Client(base_url=cf.url + API, headers={"x-api-key": RECOGNITION_KEY}, timeout=5) as client:
        yield client


def error(response: httpx.Response) -> tuple[int, int | None, str]:
    body = response.json() if response.content else {}
    return response.status_code, body.get("code"), body.get("message", "")


def add(client: httpx.Client, subject: str, data: bytes, name: str = "face.jpg") -> httpx.Response:
    return client.post("/recognition/faces", params={"subject": subject}, files={"file": (name, data, "image/jpeg")})


def recognize(client: httpx.Client, data: bytes, name: str = "photo.jpg", **params) -> httpx.Response:
    return client.post("/recognition/recognize", params=params, files={"file": (name, data, "image/jpeg")})


# -- authentication (§2) ------------------------------------------------------------------------------------------


def test_api_key_filter(cf: CompreFaceDouble) -> None:
    url = cf.url + API + "/recognition/subjects"
    assert error(localhttp.get(url)) == (400, 20, "Missing header: x-api-key")
    for bad in ("", "short", "x" * 36, RECOGNITION_KEY + "0"):
        assert error(localhttp.get(url, headers={"x-api-key": bad})) == (400, 26, "Service API key should be UUID")
    assert error(localhttp.get(url, headers={"x-api-key": DETECTION_KEY})) == (
        404,
        10,
        f"Recognition service with API Key {DETECTION_KEY} not found",  # the real service echoes the key
    )
    detect = cf.url + API + "/detection/detect"
    assert error(localhttp.post(detect, headers={"x-api-key": RECOGNITION_KEY}))[:2] == (404, 10)
    verify = cf.url + API + "/verification/verify"
    assert "Verification service" in error(localhttp.post(verify, headers={"x-api-key": DETECTION_KEY}))[2]
    assert localhttp.get(url, headers={"X-API-KEY": RECOGNITION_KEY}).status_code == 200  # header names: any case
    assert localhttp.get(cf.url + API + "/config").json() == {"clientMaxFileSize": 5242880,
                                                             "clientMaxBodySize": 10485760}


def test_errors_are_pretty_printed_like_jackson(rec: httpx.Client) -> None:
    response = recognize(rec, NO_FACE)
    assert response.headers["content-type"].startswith("application/json")
    assert response.text == '{\n  "message" : "No face is found in the given image",\n  "code" : 28\n}'
    assert jackson({"a": [], "b": {}, "c": [1.0, 9.424854069948196e-4, 1e7]}) == (
        '{\n  "a" : [ ],\n  "b" : { },\n  "c" : [ 1.0, 9.424854069948196E-4, 1.0E7 ]\n}'
    )


def test_unknown_path_and_wrong_method(rec: httpx.Client) -> None:
    missing = rec.get("/recognition/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "Not Found"
    assert error(rec.put("/recognition/recognize")) == (404, 0, "Request method 'PUT' not supported")
    assert rec.post("/recognition/recognize", content=b"x", headers={"content-type": "text/plain"}).status_code == 415


# -- subjects (§4.2) ----------------------------------------------------------------------------------------------


def test_subject_lifecycle(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    created = rec.post("/recognition/subjects", json={"subject": "Ada Lovelace"})
    assert (created.status_code, created.json()) == (201, {"subject": "Ada Lovelace"})
    assert error(rec.post("/recognition/subjects", json={"subject": "ada lovelace"})) == (
        400,
        43,
        "Subject already exists",
    )
    assert error(rec.post("/recognition/subjects", json={"subject": "  "}))[:2] == (400, 26)
    assert error(rec.post("/recognition/subjects", json={"subject": "x" * 51}))[:2] == (400, 26)
    assert error(rec.post("/recognition/subjects", json={"subject": "a/b"}))[:2] == (400, 36)
    assert rec.post("/recognition/subjects", json={"subject": "Grace"}).status_code == 201
    assert sorted(rec.get("/recognition/subjects/").json()["subjects"]) == ["Ada Lovelace", "Grace"]

    assert rec.put("/recognition/subjects/Grace", json={"subject": "Grace"}).json() == {"updated": False}
    assert rec.put("/recognition/subjects/grace", json={"subject": "Grace Hopper"}).json() == {"updated": True}
    assert error(rec.put("/recognition/subjects/Nobody", json={"subject": "X"})) == (
        404,
        42,
        "Subject Nobody not found",
    )
    assert cf.subject_names() == ["Ada Lovelace", "Grace Hopper"]

    add(rec, "Ada Lovelace", portrait(ALICE))
    add(rec, "Grace Hopper", portrait(BOB))
    assert rec.put("/recognition/subjects/Grace%20Hopper", json={"subject": "ADA LOVELACE"}).json() == {"updated": True}
    assert cf.subject_names() == ["Ada Lovelace"]  # merged into the existing subject
    assert [e.subject for e in cf.subjects["Ada Lovelace"]] == ["Ada Lovelace"] * 2

    assert rec.delete("/recognition/subjects/ada%20lovelace").json() == {"subject": "Ada Lovelace"}
    assert error(rec.delete("/recognition/subjects/Ada%20Lovelace")) == (404, 42, "Subject Ada Lovelace not found")
    assert cf.subject_names() == []


# -- examples (§4.3) ----------------------------------------------------------------------------------------------


def test_add_example_creates_subject_and_echoes_name(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    first = add(rec, "Person 1 ABC", portrait(ALICE))
    assert first.status_code == 201
    assert first.json()["subject"] == "Person 1 ABC" and uuid.UUID(first.json()["image_id"])
    second = add(rec, "person 1 abc", portrait(ALICE, seed=1), name="second.PNG")
    assert second.json()["subject"] == "person 1 abc"  # echoed as sent, stored under the first spelling
    assert cf.subject_names() == ["Person 1 ABC"] and cf.example_count("Person 1 ABC") == 2
    (example,) = [e for e in cf.subjects["Person 1 ABC"] if e.image_id == first.json()["image_id"]]
    assert example.person == ALICE and example.image == portrait(ALICE) and len(example.embedding) == 128

    encoded = base64.b64encode(portrait(BOB)).decode()
    as_json = rec.post("/recognition/faces", params={"subject": "Bob"}, json={"file": encoded})
    assert as_json.status_code == 201 and cf.example_count("Bob") == 1


def test_add_example_errors(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    assert error(add(rec, "X", TWO_FACES)) == (400, 31, "More than one face in the source image")
    assert error(add(rec, "X", NO_FACE))[:2] == (400, 28)
    assert error(add(rec, "X", b"\xff\xd8\xff garbage"))[:2] == (400, 28)  # undecodable reads as "no face"
    assert error(add(rec, "X", portrait(ALICE), name="face.heic")) == (
        400,
        21,
        "File [face.heic] has an unavailable extension",
    )
    raw = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename=""\r\n\r\n' + portrait(ALICE) + b"\r\n--b--\r\n"
    )
    empty_name = rec.post(
        "/recognition/faces",
        params={"subject": "X"},
        content=raw,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert error(empty_name) == (400, 21, "File [] has an unavailable extension")
    # httpx drops an empty filename altogether; Spring then sees a plain form field, not a file
    assert error(add(rec, "X", portrait(ALICE), name=""))[:2] == (400, 34)
    missing = rec.post("/recognition/faces", files={"file": ("a.jpg", portrait(ALICE))})
    assert error(missing) == (400, 33, "Required parameter subject is missing")
    assert error(add(rec, " ", portrait(ALICE))) == (400, 26, "Subject name is empty; ")
    no_part = rec.post("/recognition/faces", params={"subject": "X"}, files={"image": ("a.jpg", portrait(ALICE))})
    assert error(no_part) == (400, 34, "Required part file is missing")
    data_url = "data:image/jpeg;base64," + base64.b64encode(portrait(ALICE)).decode()
    assert error(rec.post("/recognition/faces", params={"subject": "X"}, json={"file": data_url})) == (
        400,
        21,
        "Provided value is not Base64",
    )
    assert error(rec.post("/recognition/faces", params={"subject": "X"}, json={})) == (
        400,
        5,
        "Field content cannot be empty",
    )
    low = photo(SyntheticFace(ALICE, 100, 80, 150, probability=0.8))
    assert error(add(rec, "X", low))[:2] == (400, 28)  # below the default 0.85 threshold
    kept = rec.post(
        "/recognition/faces", params={"subject": "X", "det_prob_threshold": "0.7"}, files={"file": ("a.jpg", low)}
    )
    assert kept.status_code == 201
    assert cf.subject_names() == ["X"] and cf.example_count("X") == 1


def test_size_limits(rec: httpx.Client) -> None:
    big = portrait(ALICE) + bytes(5 * 1024 * 1024)
    assert error(add(rec, "X", big)) == (400, 0, "Something went wrong, please try again")
    huge = rec.post("/recognition/recognize", files={"file": ("a.jpg", bytes(11 * 1024 * 1024))})
    assert huge.status_code == 413 and "<title>413 Request Entity Too Large</title>" in huge.text
    # base64 bodies skip the 5 MB multipart check; only the 10 MiB body limit applies
    payload = {"file": base64.b64encode(bytes(6 * 1024 * 1024)).decode()}
    assert error(rec.post("/recognition/recognize", json=payload))[:2] == (400, 28)
    assert rec.get("/recognition/subjects").status_code == 200  # the connection pool survived the 413


def test_list_examples_paging_and_exact_subject_filter(rec: httpx.Client) -> None:
    ids = [add(rec, "Ann", portrait(ALICE, seed=s)).json()["image_id"] for s in range(3)]
    ids += [add(rec, "Ben", portrait(BOB, seed=s)).json()["image_id"] for s in range(2)]
    page = rec.get("/recognition/faces", params={"page": 1, "size": 2}).json()
    assert page == {
        "faces": [{"image_id": ids[2], "subject": "Ann"}, {"image_id": ids[3], "subject": "Ben"}],
        "total_pages": 3,
        "total_elements": 5,
        "page_number": 1,
        "page_size": 2,
    }
    assert rec.get("/recognition/faces", params={"size": 0}).json()["page_size"] == 20
    assert rec.get("/recognition/faces", params={"size": 9999}).json()["page_size"] == 2000
    assert rec.get("/recognition/faces", params={"page": -3}).json()["page_number"] == 0
    assert rec.get("/recognition/faces", params={"page": 7}).json()["faces"] == []
    assert rec.get("/recognition/faces", params={"subject": "Ben"}).json()["total_elements"] == 2
    assert rec.get("/recognition/faces", params={"subject": "ben"}).json()["total_elements"] == 0


def test_delete_examples(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    a1, a2 = (add(rec, "Ann", portrait(ALICE, seed=s)).json()["image_id"] for s in range(2))
    b1 = add(rec, "Ben", portrait(BOB)).json()["image_id"]
    assert rec.delete(f"/recognition/faces/{a1}").json() == {"image_id": a1, "subject": "Ann"}
    assert error(rec.delete(f"/recognition/faces/{a1}")) == (404, 44, f"Image {a1} not found")
    bad = rec.delete("/recognition/faces/not-a-uuid")
    assert (bad.status_code, bad.content) == (400, b"")
    assert rec.delete(f"/recognition/faces/{a2}").status_code == 200 and rec.delete(f"/recognition/faces/{b1}")
    assert cf.subject_names() == ["Ann", "Ben"]  # deleting examples one by one keeps the subject
    assert cf.example_count() == 0 and cf.find_example(b1) is None


def test_an_example_image_is_served_as_uploaded(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    photo = portrait(ALICE)
    image_id = add(rec, "Ann", photo).json()["image_id"]
    served = rec.get(f"/recognition/faces/{image_id}/img")
    assert served.status_code == 200 and served.content == photo
    assert served.headers["content-type"] == "application/octet-stream"
    missing = rec.get("/recognition/faces/0b7f3c52-8e1d-4a6f-9c2b-5d4e3f2a1b0c/img")
    assert error(missing)[:2] == (404, 44)


@pytest.mark.parametrize(
    "method,path",
    [
        ("DELETE", "/recognition/subjects"),
        ("DELETE", "/recognition/faces?subject=Ann"),
        ("POST", "/recognition/faces/delete"),
        ("POST", "/recognition/embeddings/faces/0b7f3c52-8e1d-4a6f-9c2b-5d4e3f2a1b0c/verify"),
        ("GET", "/consistence/status"),
    ],
)
def test_routes_the_plugin_never_calls_fail_loudly(cf: CompreFaceDouble, rec: httpx.Client, method, path) -> None:
    add(rec, "Ann", portrait(ALICE))
    response = rec.request(method, path, json=[])
    assert error(response)[0] == 501 and "compreface double:" in error(response)[2]
    assert cf.unsupported == [error(response)[2]] and cf.example_count("Ann") == 1, "nothing was changed"


# -- recognition (§4.4, §6) ---------------------------------------------------------------------------------------


def test_recognize_same_and_different_people(rec: httpx.Client) -> None:
    assert recognize(rec, portrait(ALICE)).json()["result"][0]["subjects"] == []  # empty collection: no error
    add(rec, "Alice", portrait(ALICE))
    add(rec, "Bob", portrait(BOB))
    scene = photo(
        SyntheticFace(ALICE, 300, 150, 130, blur=0.04, yaw=15),
        SyntheticFace(CAROL, 20, 20, 100),
        size=(640, 400),
        seed=9,
    )
    result = recognize(rec, scene, prediction_count=2).json()["result"]
    assert [r["box"]["x_min"] for r in result] == pytest.approx([300, 20], abs=3)  # largest first
    best = result[0]["subjects"]
    assert best[0]["subject"] == "Alice" and best[0]["similarity"] >= 0.95
    assert best[1]["subject"] == "Bob" and best[1]["similarity"] < 0.5
    assert all(s["similarity"] < 0.5 for s in result[1]["subjects"])  # Carol is a stranger
    assert set(result[0]) == {"box", "subjects"}  # no embedding, no timings unless asked
    assert result[0]["box"]["probability"] == round(result[0]["box"]["probability"], 5)


def test_prediction_count_ranks_examples_not_subjects(rec: httpx.Client) -> None:
    for seed in range(3):
        add(rec, "Alice", portrait(ALICE, seed=seed))
    add(rec, "Bob", portrait(BOB))
    subjects = recognize(rec, portrait(ALICE, seed=5), prediction_count=3).json()["result"][0]["subjects"]
    assert [s["subject"] for s in subjects] == ["Alice"] * 3
    everything = recognize(rec, portrait(ALICE, seed=5), prediction_count=10).json()["result"][0]["subjects"]
    assert [s["subject"] for s in everything] == ["Alice"] * 3 + ["Bob"]  # min(count, examples)
    sims = [s["similarity"] for s in everything]
    assert sims == sorted(sims, reverse=True)


def test_recognize_parameters(rec: httpx.Client) -> None:
    add(rec, "Alice", portrait(ALICE))
    scene = photo(
        SyntheticFace(ALICE, 20, 20, 150, probability=0.99),
        SyntheticFace(BOB, 250, 40, 120, probability=0.8),
        SyntheticFace(CAROL, 250, 220, 100, probability=0.9),
    )
    assert len(recognize(rec, scene).json()["result"]) == 2  # 0.8 <= 0.85 is dropped
    assert len(recognize(rec, scene, det_prob_threshold=0.5).json()["result"]) == 3
    assert len(recognize(rec, scene, det_prob_threshold=0.95).json()["result"]) == 1
    assert len(recognize(rec, scene, limit=1).json()["result"]) == 1
    assert error(recognize(rec, scene, det_prob_threshold=1.5))[:2] == (400, 28)
    assert error(recognize(rec, scene, limit=-1)) == (400, 26, "Limit should be equal or greater than 0; ")
    assert error(recognize(rec, scene, prediction_count=0)) == (
        400,
        26,
        "prediction_count should be equal or greater than 1; ",
    )
    empty = recognize(rec, scene, limit="many")
    assert (empty.status_code, empty.content) == (400, b"")

    full = recognize(rec, scene, face_plugins="age,gender,landmarks,pose,mask,calculator,bogus").json()
    face = full["result"][0]
    assert set(face) == {"age", "gender", "pose", "embedding", "box", "mask", "subjects", "landmarks"}
    assert len(face["embedding"]) == 128 and len(face["landmarks"]) == 5
    assert face["gender"]["value"] in ("male", "female") and face["mask"]["value"] == "without_mask"
    assert face["pose"]["yaw"] == pytest.approx(0, abs=6)
    for unmodelled in ({"status": "true"}, {"detect_faces": "false"}):
        assert error(recognize(rec, scene, **unmodelled))[0] == 501

    form = rec.post(
        "/recognition/recognize", data={"limit": "1"}, files={"file": ("a.jpg", scene)}
    )  # form fields bind too
    assert len(form.json()["result"]) == 1
    b64 = rec.post("/recognition/recognize", json={"file": base64.b64encode(scene).decode()})
    assert len(b64.json()["result"]) == 2


def test_recognize_image_formats(rec: httpx.Client) -> None:
    add(rec, "Alice", portrait(ALICE))
    image = render(480, 360, [SyntheticFace(ALICE, 150, 80, 180)])
    for name, data in [
        ("a.png", encode(image, fmt="PNG")),
        ("a.gif", encode(image, fmt="GIF")),
        ("a.webp", encode(image, fmt="WEBP")),
        ("a.jpg", encode(image, mode="CMYK")),
    ]:
        (face,) = recognize(rec, data, name=name).json()["result"]
        assert face["subjects"][0]["subject"] == "Alice" and face["subjects"][0]["similarity"] >= 0.95, name


def test_exif_rotation_is_the_clients_job(rec: httpx.Client) -> None:
    add(rec, "Alice", portrait(ALICE))
    data = photo(SyntheticFace(ALICE, 150, 80, 180), exif_orientation=6)
    assert error(recognize(rec, data))[:2] == (400, 28)  # stored sideways, like an iPhone photo (issue #1170)
    upright = io.BytesIO()
    ImageOps.exif_transpose(Image.open(io.BytesIO(data))).save(upright, "JPEG")
    (face,) = recognize(rec, upright.getvalue()).json()["result"]
    assert face["box"]["x_min"] == 150 and face["subjects"][0]["subject"] == "Alice"


# -- verify, detect, embeddings (§4.5-4.8) ------------------------------------------------------------------------


def test_verify_against_stored_example(rec: httpx.Client) -> None:
    image_id = add(rec, "Alice", portrait(ALICE)).json()["image_id"]
    url = f"/recognition/faces/{image_id}/verify"
    result = rec.post(url, files={"file": ("a.jpg", TWO_FACES)}).json()["result"]
    assert [r["subject"] for r in result] == ["Alice", "Alice"]
    assert result[0]["similarity"] >= 0.95 > 0.5 > result[1]["similarity"]
    assert error(rec.post(url, files={"file": ("a.jpg", NO_FACE)}))[:2] == (400, 28)
    unknown = rec.post(f"/recognition/faces/{uuid.uuid4()}/verify", files={"file": ("a.jpg", TWO_FACES)})
    assert error(unknown) == (404, 44, "Image Id is incorrect")


def test_detection_service(cf: CompreFaceDouble) -> None:
    with localhttp.Client(base_url=cf.url + API, headers={"x-api-key": DETECTION_KEY}) as det:
        result = det.post("/detection/detect", files={"file": ("a.jpg", TWO_FACES)}).json()["result"]
        assert [set(r) for r in result] == [{"box"}, {"box"}]
        assert result[0]["box"]["x_min"] == 30 and result[1]["box"]["x_min"] == 260
        assert result[0]["box"]["probability"] != round(result[0]["box"]["probability"], 5)  # not rounded here
        calc = det.post("/detection/detect", params={"face_plugins": "calculator"},
                        files={"file": ("a.jpg", TWO_FACES)})
        assert len(calc.json()["result"][0]["embedding"]) == 128
        assert error(det.post("/detection/detect", files={"file": ("a.jpg", NO_FACE)}))[:2] == (400, 28)


def test_verification_service(cf: CompreFaceDouble) -> None:
    with localhttp.Client(base_url=cf.url + API, headers={"x-api-key": VERIFICATION_KEY}) as ver:

        def verify(source: bytes, target: bytes, **params) -> httpx.Response:
            files = {"source_image": ("s.jpg", source), "target_image": ("t.jpg", target)}
            return ver.post("/verification/verify", params=params, files=files)

        (element,) = verify(portrait(BOB), TWO_FACES).json()["result"]
        assert set(element) == {"source_image_face", "face_matches"}
        sims = [m["similarity"] for m in element["face_matches"]]  # largest target face first, not best match
        assert sims[0] < 0.5 <= 0.95 <= sims[1]
        assert error(verify(TWO_FACES, portrait(BOB))) == (400, 31, "More than one face in the source image")
        assert verify(TWO_FACES, portrait(ALICE), limit=1).status_code == 200
        assert error(verify(portrait(BOB), NO_FACE))[:2] == (400, 28)
        missing = ver.post("/verification/verify", files={"source_image": ("s.jpg", TWO_FACES)})
        assert error(missing) == (400, 34, "Required part target_image is missing")
        b64 = {
            "source_image": base64.b64encode(portrait(ALICE)).decode(),
            "target_image": base64.b64encode(TWO_FACES).decode(),
        }
        body = ver.post("/verification/verify", json=b64).json()
        assert body["result"][0]["face_matches"][0]["similarity"] >= 0.95  # Alice is the larger face
        assert error(ver.post("/verification/verify", json={"source_image": b64["source_image"]}))[:2] == (400, 5)


def test_embedding_endpoints(cf: CompreFaceDouble, rec: httpx.Client) -> None:
    assert error(rec.post("/recognition/embeddings/recognize", json={"embeddings": []})) == (
        400,
        5,
        "Field embeddings cannot be empty",
    )
    query = [list(person_embedding(ALICE)), list(person_embedding(BOB))]
    assert (
        rec.post("/recognition/embeddings/recognize", json={"embeddings": query}).json()["result"][0]["similarities"]
        == []
    )
    image_id = add(rec, "Alice", portrait(ALICE)).json()["image_id"]
    result = rec.post("/recognition/embeddings/recognize", json={"embeddings": query}).json()["result"]
    assert result[0]["embedding"] == query[0]  # echoed back
    assert result[0]["similarities"][0]["similarity"] >= 0.95 > 0.5 > result[1]["similarities"][0]["similarity"]
    wrong_dim = rec.post("/recognition/embeddings/recognize", json={"embeddings": [[0.1] * 512]})
    assert error(wrong_dim)[:2] == (400, 0)
    assert cf.find_example(image_id).subject == "Alice"


def test_similarity_follows_the_facenet_curve() -> None:
    def at_cosine(cos: float) -> float:
        # two unit vectors with the given cosine
        return similarity((1.0, 0.0), (cos, (1 - cos * cos) ** 0.5))

    assert at_cosine(1.0) == 1.0
    assert at_cosine(0.5) == pytest.approx(0.873, abs=0.001)
    assert at_cosine(0.3) == pytest.approx(0.496, abs=0.001)
    assert at_cosine(0.0) == pytest.approx(0.079, abs=0.001)


# -- state, concurrency, faults -----------------------------------------------------------------------------------


class _StubFace:
    def __init__(self, x: int, embedding: tuple[float, ...]) -> None:
        self.box, self.probability, self.embedding = (x, 0, x + 10, 10), 0.99, embedding


class _StubEngine:
    """Any object with ``detect(bytes)`` can replace the synthetic engine; errors behave like a crashing core."""

    def detect(self, data: bytes) -> list[_StubFace]:
        if data == b"crash":
            raise RuntimeError("model exploded")
        return [_StubFace(0, (1.0, 0.0, 0.0)), _StubFace(20, (0.0, 1.0, 0.0))][: int(data or b"0")]


def test_pluggable_engine() -> None:
    with (
        CompreFaceDouble.running(engine=_StubEngine()) as double,
        localhttp.Client(base_url=double.url + API, headers={"x-api-key": RECOGNITION_KEY}) as client,
    ):
        assert add(client, "One", b"1").status_code == 201
        assert error(add(client, "Two", b"2"))[:2] == (400, 31)
        (face,) = recognize(client, b"1", face_plugins="age,gender").json()["result"]
        assert face["subjects"] == [{"subject": "One", "similarity": 1.0}]
        assert face["gender"]["value"] == "male"  # attributes the engine lacks get neutral defaults
        assert error(recognize(client, b"crash"))[:2] == (500, 41)
