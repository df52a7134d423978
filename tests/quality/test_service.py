"""The quality service over real HTTP on 127.0.0.1: the three endpoints, errors, health, the command line."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from stash_compreface.quality.align import aligned_crop
from stash_compreface.quality.service import DECODE_MAX_SIDE, create_app
from testdoubles.synthetic import SyntheticFace, encode, render
from tests import localhttp

from .conftest import SyntheticDetector, serving

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def real_url(face_model):
    with serving(create_app(face_model, workers=2)) as url:
        yield url


@pytest.fixture(scope="module")
def synthetic_url():
    with serving(create_app(SyntheticDetector(), workers=2)) as url:
        yield url


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    return encode(image, fmt="JPEG", quality=92, **kwargs)


def _post(url: str, path: str, data: bytes, **fields) -> httpx.Response:
    return localhttp.post(f"{url}{path}", files={"file": ("image.jpg", data, "image/jpeg")},
                      data={k: str(v) for k, v in fields.items()}, timeout=60)


def _faces(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["faces"]


def _two_faces() -> bytes:
    """A big sharp face and a smaller, blurred one of another person."""
    faces = [SyntheticFace(person=3, x=30, y=40, size=200), SyntheticFace(person=9, x=330, y=60, size=120, blur=0.05)]
    return _jpeg(render(520, 320, faces))


# -- synthetic faces (every run) --------------------------------------------------------------------------


def test_health_answers(synthetic_url):
    response = localhttp.get(f"{synthetic_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "stash-compreface quality", "model": "synthetic-test"}


def test_assess_gives_every_face_largest_first_with_its_measures(synthetic_url):
    faces = _faces(_post(synthetic_url, "/quality/assess", _two_faces()))
    assert [f["box"]["x_min"] for f in faces] == pytest.approx([30, 330], abs=3)
    big, small = faces
    for face in faces:
        assert set(face) >= {"box", "landmarks", "pose", "sharpness", "brightness", "score"}
        assert len(face["landmarks"]) == 5 and set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert small["sharpness"] < big["sharpness"] and small["score"] < big["score"]


def test_a_raw_body_is_an_upload_too(synthetic_url):
    data = _two_faces()
    multipart = _faces(_post(synthetic_url, "/quality/assess", data))
    raw = _faces(localhttp.post(f"{synthetic_url}/quality/assess", content=data, timeout=60))
    assert raw == multipart


def test_detect_keeps_the_faces_at_or_above_min_score(synthetic_url):
    every = _faces(_post(synthetic_url, "/quality/detect", _two_faces(), min_score=0))
    cut = (every[0]["score"] + every[1]["score"]) / 2
    kept = _faces(_post(synthetic_url, "/quality/detect", _two_faces(), min_score=cut))
    assert kept == [every[0]]
    raw = localhttp.post(f"{synthetic_url}/quality/detect", params={"min_score": 1.0}, content=_two_faces(), timeout=60)
    assert _faces(raw) == []


def test_preprocess_answers_the_aligned_padded_crop_as_jpeg(synthetic_url):
    response = _post(synthetic_url, "/quality/preprocess", _two_faces())
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (112, 112)
    padded = _post(synthetic_url, "/quality/preprocess", _two_faces(), padding=0.25, size=200, face_index=1)
    assert padded.status_code == 200
    assert Image.open(io.BytesIO(padded.content)).size == (300, 300)


def test_assess_measures_the_callers_faces_in_the_callers_order(synthetic_url):
    detected = _faces(_post(synthetic_url, "/quality/assess", _two_faces()))
    given = [{"box": detected[1]["box"]}, {"box": detected[0]["box"], "landmarks": detected[0]["landmarks"]}]
    faces = _faces(_post(synthetic_url, "/quality/assess", _two_faces(), faces=json.dumps(given)))
    assert [f["box"] for f in faces] == [detected[1]["box"], detected[0]["box"]]
    assert faces[0]["landmarks_estimated"] is True and faces[0]["pose"] is None
    assert faces[1]["sharpness"] == pytest.approx(detected[0]["sharpness"], rel=0.05)


@pytest.mark.parametrize(("send", "status", "words"), [
    ({"files": {"file": ("notes.txt", b"these are not pixels", "text/plain")}}, 422, "not a usable image"),
    ({"files": {"file": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(64), "video/mp4")}}, 422, "video"),
    ({"files": {"other": ("x.jpg", b"123", "image/jpeg")}}, 400, "multipart field `file`"),
    ({"files": {"min_score": (None, "0.5")}}, 400, "no image"),
    ({"content": b""}, 400, "no image"),
])
def test_a_non_image_or_a_missing_file_is_a_4xx_with_an_error(synthetic_url, send, status, words):
    for path in ("/quality/assess", "/quality/detect", "/quality/preprocess"):
        response = localhttp.post(f"{synthetic_url}{path}", timeout=30, **send)
        assert response.status_code == status, (path, response.text)
        assert words in response.json()["error"]


@pytest.mark.parametrize(("path", "fields", "words"), [
    ("/quality/detect", {"min_score": "high"}, "field `min_score` must be a number"),
    ("/quality/detect", {"min_score": "1.5"}, "field `min_score` must be within 0..1"),
    ("/quality/preprocess", {"padding": "-1"}, "field `padding` must be within"),
    ("/quality/preprocess", {"face_index": "first"}, "field `face_index` must be a whole number"),
    ("/quality/assess", {"faces": "[{\"box\": 3}]"}, "field `faces` item 0"),
    ("/quality/assess", {"faces": "not json"}, "field `faces` is not JSON"),
    ("/quality/assess", {"faces": '[{"box": {"x_min": 1e999, "y_min": 0, "x_max": 9, "y_max": 9}}]'},
     "field `faces` item 0"),  # infinite: was a 500 and a reset connection
    ("/quality/assess", {"faces": '[{"box": {"x_min": NaN, "y_min": 0, "x_max": 9, "y_max": 9}}]'},
     "field `faces` item 0"),
    ("/quality/assess", {"faces": '[{"box": {"x_min": 0, "y_min": 0, "x_max": 90, "y_max": 90}, '
                                  '"landmarks": [[Infinity, 1], [2, 2], [3, 3], [4, 4], [5, 5]]}]'},
     "field `faces` item 0"),
])
def test_a_bad_field_is_a_400_naming_it(synthetic_url, path, fields, words):
    response = _post(synthetic_url, path, _two_faces(), **fields)
    assert response.status_code == 400
    assert words in response.json()["error"]


def test_preprocess_of_a_missing_face_is_a_422(synthetic_url):
    beyond = _post(synthetic_url, "/quality/preprocess", _two_faces(), face_index=2)
    assert beyond.status_code == 422
    assert beyond.json()["error"] == "field `face_index` is 2 but the image has 2 faces (0 is the largest)"
    empty = _post(synthetic_url, "/quality/preprocess", _jpeg(render(300, 200, [])))
    assert empty.status_code == 422 and empty.json()["error"] == "no face found in the image"


def test_unknown_paths_and_methods_answer_json(synthetic_url):
    assert localhttp.get(f"{synthetic_url}/quality/nothing", timeout=10).json() == {"error": "Not Found"}
    response = localhttp.get(f"{synthetic_url}/quality/assess", timeout=10)
    assert response.status_code == 405 and "error" in response.json()


# -- real portraits, real detector ------------------------------------------------------------------------


def test_done_when_blurred_darkened_and_frontal(real_url, portraits):
    """Issue #8: a blurred copy scores lower sharpness and score, a darkened copy lower brightness, a portrait
    is near-frontal."""
    for name in ("impostor_1", "person_b_2"):
        image = Image.open(io.BytesIO(portraits[name])).convert("RGB")
        original = _faces(_post(real_url, "/quality/assess", portraits[name]))[0]
        blurred = _faces(_post(real_url, "/quality/assess", _jpeg(image.filter(ImageFilter.GaussianBlur(3)))))[0]
        dark = _faces(_post(real_url, "/quality/assess", _jpeg(ImageEnhance.Brightness(image).enhance(0.4))))[0]
        assert blurred["sharpness"] < original["sharpness"] * 0.7 and blurred["score"] < original["score"], name
        assert dark["brightness"] < original["brightness"] * 0.6, name
        assert abs(original["pose"]["yaw"]) < 10 and abs(original["pose"]["pitch"]) < 10, name


def test_coordinates_are_those_of_the_upright_image_as_sent(real_url, portraits):
    image = Image.open(io.BytesIO(portraits["impostor_2"])).convert("RGB")
    (upright,) = _faces(_post(real_url, "/quality/assess", _jpeg(image)))
    # Stored turned, with an EXIF orientation that turns it back: the same face, in upright coordinates.
    (turned,) = _faces(_post(real_url, "/quality/assess", _jpeg(image, exif_orientation=6)))
    assert [turned["box"][k] for k in ("x_min", "y_min", "x_max", "y_max")] == pytest.approx(
        [upright["box"][k] for k in ("x_min", "y_min", "x_max", "y_max")], abs=4)
    # Bigger than the service decodes: measured reduced, answered in the pixels that were sent.
    factor = 2 * DECODE_MAX_SIDE / max(image.size)
    big = image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BICUBIC)
    (large,) = _faces(_post(real_url, "/quality/assess", _jpeg(big)))
    assert large["box"]["x_min"] == pytest.approx(upright["box"]["x_min"] * factor, abs=6 * factor)
    assert large["landmarks"][2][0] == pytest.approx(upright["landmarks"][2][0] * factor, abs=6 * factor)


def test_preprocess_picks_the_face_by_index(real_url, portraits, face_model):
    obama = Image.open(io.BytesIO(portraits["impostor_1"])).convert("RGB")
    ardern = Image.open(io.BytesIO(portraits["person_b_1"])).convert("RGB")
    ardern = ardern.resize((ardern.width * 6 // 10, ardern.height * 6 // 10))
    group = Image.new("RGB", (obama.width + ardern.width + 40, obama.height), (120, 120, 120))
    group.paste(obama, (0, 0))
    group.paste(ardern, (obama.width + 40, 100))

    def alone(image: Image.Image) -> np.ndarray:
        crop = aligned_crop(image, face_model.detect(np.asarray(image))[0])
        return np.asarray(crop, dtype=np.float64)

    second = _post(real_url, "/quality/preprocess", _jpeg(group), face_index=1)
    assert second.status_code == 200
    got = np.asarray(Image.open(io.BytesIO(second.content)).convert("RGB"), dtype=np.float64)
    assert np.abs(got - alone(ardern)).mean() < 0.5 * np.abs(got - alone(obama)).mean()


# -- the command line -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def test_the_quality_service_command_serves(face_model):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "stash_compreface", "quality-service", "--host", "127.0.0.1",
                                "--port", str(port)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                response = localhttp.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                time.sleep(0.05)
        else:
            pytest.fail("the quality service did not answer /health")
        assert response.status_code == 200 and response.json()["model"] == face_model.model_id
    finally:
        process.terminate()
        process.wait(30)


def test_an_unknown_backend_is_one_readable_line():
    done = subprocess.run([sys.executable, "-m", "stash_compreface", "quality-service", "--backend", "nope"],
                          env=_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "faceEngine backend 'nope' is unknown" in done.stderr
    assert "Traceback" not in done.stderr
