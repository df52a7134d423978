"""The two face-service methods that move examples between engines, on the CompreFace client."""

from __future__ import annotations

import pytest

from stash_compreface.compreface import client as client_module
from stash_compreface.compreface.client import CompreFaceClient
from stash_compreface.faceservice import ExampleRef
from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
from testdoubles.synthetic import SyntheticFace, draw_image


@pytest.fixture
def world():
    with CompreFaceDouble.running() as double:
        client = CompreFaceClient(double.url, recognition_key=RECOGNITION_KEY, backoff_s=0.01, timeout_s=2)
        yield double, client
        client.close()


def test_list_examples_pages_through_every_example_of_one_subject(world, monkeypatch):
    double, client = world
    monkeypatch.setattr(client_module, "EXAMPLES_PAGE_SIZE", 2)
    ids = [double.add_subject_example("Alice", draw_image(400, 320, [SyntheticFace(1, 80, 60, 160)], seed=i))
           for i in range(5)]
    double.add_subject_example("Alice B", draw_image(400, 320, [SyntheticFace(2, 80, 60, 160)]))
    assert client.list_examples("Alice") == [ExampleRef(i, "Alice") for i in ids]
    assert client.list_examples("Nobody") == []
    assert client.count_examples("Alice") == 5
