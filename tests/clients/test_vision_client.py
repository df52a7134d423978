"""The Vision Service client against the Vision double: job life cycle, route fallback, errors."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from stash_compreface.errors import ItemError, MediaError, ProtocolError, ServiceError, ServiceUnavailable, Stopped
from stash_compreface.vision.client import Enhancement, Sprites, VisionClient, parse_clusters, parse_faces
from testdoubles.synthetic import SyntheticFace, draw_image
from testdoubles.vision import VisionDouble
from tests.timeouts import ANSWERED_S

FRAMES = [(2.0 * i, draw_image(640, 360, [SyntheticFace(4, 100, 60, 150)], seed=i)) for i in range(3)]


@contextlib.contextmanager
def vision_double(*, legacy_frame_route: bool = False) -> Iterator[VisionDouble]:
    with VisionDouble.running(legacy_frame_route=legacy_frame_route) as double:
        double.add_video("/v/a.mp4", FRAMES)
        double.not_found_polls = 2  # the job is unknown at first, as the real service answers
        double.processing_polls = 2
        yield double


@pytest.fixture(params=[False, True], ids=["frames-route", "legacy-route"])
def vision(request):
    with vision_double(legacy_frame_route=request.param) as double:
        yield double


def test_job_life_cycle_and_frames(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01)
    client.health()
    job = client.analyze("/v/a.mp4", "7", min_confidence=0.7)
    clusters, source = parse_clusters(client.wait(job, threading.Event()))
    assert source == "/v/a.mp4"
    (cluster,) = clusters
    assert len(cluster.detections) == 3 and cluster.representative.box.min_side > 100
    frame = client.extract_frame("/v/a.mp4", 2.0)
    assert frame == FRAMES[1][1]
    client.close()


def test_unseen_video_and_failed_job(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01)
    with pytest.raises(MediaError, match="same path"):
        client.analyze("/v/missing.mp4", "1", min_confidence=0.7)
    vision.fail_jobs = True
    job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
    with pytest.raises(ItemError, match="decoder crashed"):
        client.wait(job, threading.Event())
    client.close()


def test_a_stop_interrupts_the_wait(vision) -> None:
    vision.processing_polls = 10_000
    client = VisionClient(vision.url, vision.url, first_poll_s=3600)
    stop = threading.Event()
    job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(Stopped):  # not an item failure: the scene is not tagged Error
        client.wait(job, stop)
    client.close()


def test_a_stop_interrupts_a_retry_backoff(vision) -> None:
    stop = threading.Event()
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01, backoff_s=3600, stop=stop)
    job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
    vision.fail_next(f"/vision/jobs/{job}/status", 502, times=5)

    def stop_once_polled() -> None:  # not on a timer: a stop before the first poll would be another test
        deadline = time.monotonic() + 30  # a guard against a hang, not a timing assertion
        while not vision.calls[f"GET /vision/jobs/{job}/status"] and time.monotonic() < deadline:
            time.sleep(0.001)
        stop.set()

    threading.Thread(target=stop_once_polled, daemon=True).start()
    with pytest.raises(Stopped) as info:
        client.wait(job)  # the client's own stop event by default
    assert isinstance(info.value.__cause__, ServiceError)
    assert vision.calls[f"GET /vision/jobs/{job}/status"] == 1
    client.close()


def test_status_timeouts_are_retried_then_the_job_completes() -> None:
    """Two polls that are never answered time out and are retried; the job then completes as usual.

    The status route is the same on both frame routes: one double is enough.
    """
    with vision_double() as vision:
        client = VisionClient(vision.url, vision.url, first_poll_s=0.01, timeout_s=ANSWERED_S, backoff_s=0.001)
        job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
        status = f"GET /vision/jobs/{job}/status"
        vision.hang(f"/vision/jobs/{job}/status", times=2)
        clusters, _ = parse_clusters(client.wait(job, threading.Event()))
        assert len(clusters) == 1
        assert vision.wait_for_cut_off(status, 2) == 2, "the client gave up on both hung polls"
        # 2 timed out + 2 "unknown" + 2 "processing" + 1 "completed"
        assert vision.calls[status] == 7
        assert client.breaker.consecutive_failures == 0
        client.close()


def test_an_html_status_page_is_a_protocol_error(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01, backoff_s=0.001)
    job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
    vision.fail_next(f"/vision/jobs/{job}/status", 200, times=3)
    with pytest.raises(ProtocolError, match="visionServiceUrl"):
        client.wait(job, threading.Event())
    client.close()


def test_an_outage_trips_the_breaker_naming_the_setting(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01, backoff_s=0.001)
    job = client.analyze("/v/a.mp4", "1", min_confidence=0.7)
    vision.fail_next("/vision/", 502, times=1000)
    with pytest.raises(ServiceError):
        client.wait(job, threading.Event())  # 3 failed polls: this scene fails
    with pytest.raises(ServiceUnavailable) as info:
        client.wait(job, threading.Event())  # 2 more: the service is down, the run stops
    assert str(info.value).startswith("the Vision Service failed 5 times in a row")
    assert info.value.setting == "visionServiceUrl"
    with pytest.raises(ServiceUnavailable):
        client.health()
    client.close()


def test_a_frame_server_timeout_is_retried(vision) -> None:
    client = VisionClient(vision.url, vision.url, timeout_s=ANSWERED_S, backoff_s=0.001)
    route = "/extract-frame" if vision.legacy_frame_route else "/frames/extract-frame"
    client.extract_frame("/v/a.mp4", 0.0)  # learns the route
    calls = vision.calls[f"GET {route}"]
    vision.hang(route, times=1)
    assert client.extract_frame("/v/a.mp4", 2.0) == FRAMES[1][1]
    assert vision.wait_for_cut_off(f"GET {route}") == 1, "the client gave up on the hung request"
    assert vision.calls[f"GET {route}"] == calls + 2  # the hung one, then its retry
    client.close()


def test_unreachable_service_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServiceUnavailable) as info:
        VisionClient(f"http://127.0.0.1:{port}").health()
    assert info.value.setting == "visionServiceUrl"


def test_unreachable_frame_server_names_its_setting(vision) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = VisionClient(vision.url, f"http://127.0.0.1:{port}")
    with pytest.raises(ServiceUnavailable) as info:
        client.extract_frame("/v/a.mp4", 1.0)
    assert info.value.setting == "frameServerUrl" and isinstance(info.value.__cause__, httpx.ConnectError)
    client.close()


def test_sprite_mode_sends_the_documented_fields_and_skips_scene_detection(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01)
    sprites = Sprites("http://stash:9999/scene/abc_thumbs.vtt", "http://stash:9999/scene/abc_sprite.jpg")
    job = client.analyze("/v/a.mp4", "7", min_confidence=0.7, min_quality=0.3, sprites=sprites,
                         enhancement=Enhancement())
    result = parse_faces(client.wait(job, threading.Event()))
    body = vision.analyze_bodies[-1]
    assert body["modules"]["scenes"]["enabled"] is False  # else the service scans the whole video first
    parameters = body["modules"]["faces"]["parameters"]
    assert parameters["use_sprites"] is True
    assert parameters["sprite_vtt_url"] == sprites.vtt_url and parameters["sprite_image_url"] == sprites.image_url
    assert parameters["face_min_quality"] == 0.3 and parameters["face_min_confidence"] == 0.7
    assert result.sprites and "enhancement" not in parameters  # never applied to sprite tiles (§5)
    assert not any(d.enhanced for c in result.clusters for d in (*c.detections, c.representative))
    client.close()


def test_enhancement_parameters_are_sent_and_enhanced_frames_fetched_alike(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01)
    job = client.analyze("/v/a.mp4", "7", min_confidence=0.7, enhancement=Enhancement(fidelity_weight=0.4))
    result = parse_faces(client.wait(job, threading.Event()))
    parameters = vision.analyze_bodies[-1]["modules"]["faces"]["parameters"]
    assert parameters["enhancement"] == {"enabled": True, "quality_trigger": 0.5, "model": "codeformer",
                                         "fidelity_weight": 0.4}
    assert "face_min_quality" not in parameters and parameters["use_sprites"] is False
    assert result.enhancement == Enhancement(fidelity_weight=0.4) and not result.sprites
    (cluster,) = result.clusters
    assert cluster.representative.enhanced
    frame = client.extract_frame("/v/a.mp4", cluster.representative.timestamp_s, enhancement=result.enhancement)
    query = vision.frame_queries[-1]
    assert (query["enhance"], query["model"], query["fidelity_weight"]) == ("1", "codeformer", "0.4")
    assert frame != FRAMES[0][1] and frame[:2] == b"\xff\xd8"  # the 2x restored frame the box refers to
    client.close()


def test_an_invalid_enhancement_fails_the_job_readably(vision) -> None:
    client = VisionClient(vision.url, vision.url, first_poll_s=0.01)
    job = client.analyze("/v/a.mp4", "7", min_confidence=0.7, enhancement=Enhancement(fidelity_weight=1.5))
    with pytest.raises(ItemError, match="fidelity_weight"):
        client.wait(job, threading.Event())
    client.close()
