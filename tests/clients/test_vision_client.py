"""The Vision Service client against the Vision double: job life cycle, route fallback, errors."""

from __future__ import annotations

import socket
import threading

import pytest

from stash_compreface.errors import ItemError, MediaError, ServiceUnavailable
from stash_compreface.vision.client import VisionClient, parse_clusters
from testdoubles.synthetic import SyntheticFace, draw_image
from testdoubles.vision import VisionDouble

FRAMES = [(2.0 * i, draw_image(640, 360, [SyntheticFace(4, 100, 60, 150)], seed=i)) for i in range(3)]


@pytest.fixture(params=[False, True], ids=["frames-route", "legacy-route"])
def vision(request):
    with VisionDouble.running(legacy_frame_route=request.param) as double:
        double.add_video("/v/a.mp4", FRAMES)
        double.not_found_polls = 2  # the job is unknown at first, as the real service answers
        double.processing_polls = 2
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
    client = VisionClient(vision.url, vision.url, first_poll_s=5)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(ItemError, match="stopped"):
        client.wait(client.analyze("/v/a.mp4", "1", min_confidence=0.7), stop)
    client.close()


def test_unreachable_service_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServiceUnavailable) as info:
        VisionClient(f"http://127.0.0.1:{port}").health()
    assert info.value.setting == "visionServiceUrl"
