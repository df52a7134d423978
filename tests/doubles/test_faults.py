"""Fault injection on the doubles: each fault is visible to a client as it would be in the field, and goes away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.stash import StashDouble
from testdoubles.synthetic import SyntheticFace, draw_image
from testdoubles.vision import VisionDouble
from tests.timeouts import HUNG_ONLY_S

API = "/api/v1"
DOCS = Path(__file__).resolve().parents[2] / "src" / "stash_compreface" / "stash" / "graphql"
PHOTO = draw_image(480, 360, [SyntheticFace(7, 150, 80, 180)], seed=1)


def doc(name: str) -> str:
    return (DOCS / f"{name}.graphql").read_text(encoding="utf-8")


@pytest.fixture
def cf() -> Iterator[CompreFaceDouble]:
    with CompreFaceDouble.running() as double:
        yield double


def client_for(cf: CompreFaceDouble, timeout: float = 5) -> httpx.Client:
    return httpx.Client(base_url=cf.url + API, headers={"x-api-key": RECOGNITION_KEY}, timeout=timeout)


def recognize(client: httpx.Client) -> httpx.Response:
    return client.post("/recognition/recognize", files={"file": ("a.jpg", PHOTO, "image/jpeg")})


# -- CompreFace: outages, hangs, odd answers ----------------------------------------------------------------


def test_go_down_refuses_connections_then_comes_back_on_the_same_port(cf: CompreFaceDouble) -> None:
    cf.add_subject_example("Alice", PHOTO)
    port = cf.port
    with client_for(cf) as pooled:
        assert pooled.get("/recognition/subjects").status_code == 200  # a keep-alive connection is open
        cf.go_down()
        assert cf.is_down
        with pytest.raises(httpx.ConnectError):
            httpx.get(cf.url + API + "/config")
        with pytest.raises(httpx.TransportError):  # the pooled connection was reset, a new one is refused
            pooled.get("/recognition/subjects")
        cf.come_back()
        assert cf.port == port and not cf.is_down
        assert pooled.get("/recognition/subjects").json() == {"subjects": ["Alice"]}, "state survives a restart"
    with cf.down(), pytest.raises(httpx.ConnectError):
        httpx.get(cf.url + API + "/config")
    assert httpx.get(cf.url + API + "/config").status_code == 200


def test_hang_accepts_and_never_answers_until_cleared(cf: CompreFaceDouble) -> None:
    cf.hang(API + "/recognition/recognize", times=None)
    with client_for(cf, timeout=HUNG_ONLY_S) as impatient, client_for(cf) as patient:
        with pytest.raises(httpx.ReadTimeout):
            recognize(impatient)
        with pytest.raises(httpx.ReadTimeout):
            recognize(impatient)
        assert cf.wait_for_cut_off(f"POST {API}/recognition/recognize", 2) == 2, "the double saw the client give up"
        assert patient.get("/recognition/subjects").status_code == 200, "only the scoped route hangs"
        cf.clear_faults()
        assert recognize(patient).status_code == 200
    assert cf.cut_off[f"POST {API}/recognition/recognize"] == 2


def test_hang_for_seconds_answers_late_but_normally(cf: CompreFaceDouble) -> None:
    cf.hang(API + "/recognition/recognize", seconds=30)
    with client_for(cf, timeout=HUNG_ONLY_S) as impatient, pytest.raises(httpx.ReadTimeout):
        recognize(impatient)
    cf.clear_faults()  # lets the stalled request go
    cf.hang(API + "/recognition/recognize", seconds=0.2)
    with client_for(cf) as patient:
        late = recognize(patient)
        assert late.status_code == 200 and late.json()["result"][0]["subjects"] == []
        assert recognize(patient).status_code == 200
    assert cf.calls[f"POST {API}/recognition/recognize"] == 3


@pytest.mark.parametrize(
    "kwargs,content_type,text",
    [
        ({"status": 200, "html": False}, "application/json", ""),
        ({"status": 200, "body": "<html><body>Welcome to nginx!</body></html>"}, "text/html", "Welcome to nginx!"),
        ({"status": 200, "body": {"unexpected": ["shape"]}}, "application/json", '{"unexpected": ["shape"]}'),
        ({"status": 502}, "text/html", "<title>502 Bad Gateway</title>"),
        ({"status": 504, "body": b"\x00\x01", "content_type": "image/png"}, "image/png", "\x00\x01"),
    ],
)
def test_canned_answers_then_recovery(cf: CompreFaceDouble, kwargs: dict[str, Any], content_type: str,
                                      text: str) -> None:
    cf.fail_next(API + "/recognition/recognize", **kwargs)
    with client_for(cf) as client:
        odd = recognize(client)
        assert odd.status_code == kwargs["status"]
        assert odd.headers["content-type"] == content_type and text in odd.text
        assert recognize(client).json()["result"], "the next request is served normally"


def test_faults_are_scoped_by_path_and_method_and_can_last(cf: CompreFaceDouble) -> None:
    cf.fail_next(API + "/recognition/subjects", 502, method="POST", times=None)
    with client_for(cf) as client:
        assert client.get("/recognition/subjects").status_code == 200, "GET is not scoped"
        for _ in range(3):
            assert client.post("/recognition/subjects", json={"subject": "A"}).status_code == 502
        assert recognize(client).status_code == 200
        cf.clear_faults()
        assert client.post("/recognition/subjects", json={"subject": "A"}).status_code == 201


# -- Stash: named operations, HTTP errors, outage -----------------------------------------------------------


@pytest.fixture
def stash() -> Iterator[StashDouble]:
    with StashDouble.running() as double:
        yield double


def gql(url: str, name: str, variables: dict[str, Any]) -> httpx.Response:
    body = {"operationName": name, "query": doc(name), "variables": variables}
    return httpx.post(url + "/graphql", json=body, headers={"Accept": "application/json"})


def test_a_named_mutation_fails_n_times_with_a_graphql_error_and_writes_nothing(stash: StashDouble) -> None:
    tag = stash.add_tag("Scanned")
    image = stash.add_image(PHOTO)
    stash.fail_operation("BulkImageUpdate", "sql: database is locked", times=2)
    update = {"input": {"ids": [image], "tag_ids": {"ids": [tag], "mode": "ADD"}}}
    for _ in range(2):
        failed = gql(stash.url, "BulkImageUpdate", update)
        assert failed.status_code == 200
        assert failed.json() == {"errors": [{"message": "sql: database is locked", "path": ["bulkImageUpdate"]}],
                                 "data": {"bulkImageUpdate": None}}
        assert stash.tag_names("image", image) == set()
    assert gql(stash.url, "FindTagByName", {"name": "Scanned"}).json()["data"]["findTags"]["tags"], "others unaffected"
    assert "errors" not in gql(stash.url, "BulkImageUpdate", update).json()
    assert stash.tag_names("image", image) == {"Scanned"}
    assert stash.operation_count("BulkImageUpdate") == 3
    assert [m.ok for m in stash.mutations] == [False, False, True]


def test_an_operation_fails_always_until_cleared(stash: StashDouble) -> None:
    stash.fail_operation("PerformerCreate", "performer with name 'Ann' already exists", times=None)
    for _ in range(3):
        errors = gql(stash.url, "PerformerCreate", {"input": {"name": "Ann"}}).json()["errors"]
        assert errors[0]["message"] == "performer with name 'Ann' already exists"
    assert stash.performers == {}
    stash.clear_faults()
    created = gql(stash.url, "PerformerCreate", {"input": {"name": "Ann"}}).json()["data"]["performerCreate"]
    assert created["name"] == "Ann" and stash.performer_by_name("Ann") is not None


def test_a_failing_non_null_query_nulls_the_whole_data(stash: StashDouble) -> None:
    stash.fail_operation("FindImages", "context deadline exceeded")
    body = gql(stash.url, "FindImages", {}).json()
    assert body["data"] is None and body["errors"][0]["message"] == "context deadline exceeded"
    assert gql(stash.url, "FindImages", {}).json()["data"]["findImages"]["count"] == 0


def test_an_operation_can_fail_with_an_http_status(stash: StashDouble) -> None:
    stash.fail_operation("FindImages", "service unavailable", status=503)
    failed = gql(stash.url, "FindImages", {})
    assert failed.status_code == 503 and failed.text == "service unavailable\n"
    assert failed.headers["content-type"].startswith("text/plain")
    assert gql(stash.url, "FindImages", {}).status_code == 200
    stash.fail_next("/graphql", 502)  # a reverse proxy in front of Stash
    assert "502 Bad Gateway" in gql(stash.url, "FindImages", {}).text
    assert gql(stash.url, "FindImages", {}).status_code == 200


def test_stash_outage_then_back_on_the_same_port(stash: StashDouble) -> None:
    stash.add_image(PHOTO)
    url = stash.url
    with stash.down(), pytest.raises(httpx.ConnectError):
        gql(url, "FindImages", {})
    assert gql(url, "FindImages", {}).json()["data"]["findImages"]["count"] == 1


# -- Vision: failed and wedged jobs --------------------------------------------------------------------------


@pytest.fixture
def vision() -> Iterator[VisionDouble]:
    with VisionDouble.running() as double:
        double.add_video("/v/a.mp4", [(0.0, PHOTO), (2.0, PHOTO)])
        yield double


def poll(vision: VisionDouble, job_id: str, times: int) -> list[dict[str, Any]]:
    answers = []
    for _ in range(times):
        response = httpx.get(f"{vision.url}/vision/jobs/{job_id}/status")
        answers.append(response.json() if response.status_code == 200 else {"status": response.status_code})
    return answers


def submit(vision: VisionDouble) -> str:
    response = httpx.post(f"{vision.url}/vision/analyze", json={"source": "/v/a.mp4", "source_id": "1"})
    assert response.status_code == 202
    return str(response.json()["job_id"])


def test_a_failed_job_then_a_good_one(vision: VisionDouble) -> None:
    reason = "faces job failed: Frame extraction failed: moov atom not found"
    vision.fail_next_jobs(error=reason)
    failed, good = submit(vision), submit(vision)
    last = poll(vision, failed, 3)[-1]
    assert last["status"] == "failed" and last["error"] == reason
    assert httpx.get(f"{vision.url}/vision/jobs/{failed}/results").status_code == 409
    assert [a["status"] for a in poll(vision, good, 3)] == [404, "processing", "completed"]
    results = httpx.get(f"{vision.url}/vision/jobs/{good}/results").json()
    assert results["faces"]["metadata"]["unique_faces"] == 1


def test_a_wedged_job_stays_processing_while_later_ones_complete(vision: VisionDouble) -> None:
    vision.hang_next_jobs()
    wedged, good = submit(vision), submit(vision)
    assert {a["status"] for a in poll(vision, wedged, 20)[1:]} == {"processing"}
    assert httpx.get(f"{vision.url}/vision/jobs/{wedged}/results").status_code == 409
    assert poll(vision, good, 3)[-1]["status"] == "completed"


def test_vision_http_hang_and_outage(vision: VisionDouble) -> None:
    job = submit(vision)
    vision.hang("/vision/jobs/", method="GET")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{vision.url}/vision/jobs/{job}/status", timeout=HUNG_ONLY_S)
    assert vision.wait_for_cut_off(f"GET /vision/jobs/{job}/status") == 1
    with vision.down(), pytest.raises(httpx.ConnectError):
        httpx.get(f"{vision.url}/vision/health")
    assert httpx.get(f"{vision.url}/vision/health").json()["status"] == "healthy"
