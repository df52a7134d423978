from __future__ import annotations

from stash_compreface.faces.grouping import Sighting, consistent_subjects
from stash_compreface.faces.vtt import Cue, parse_vtt

STASH_VTT = """WEBVTT

00:00:00.000 --> 00:00:05.000
abc_sprite.jpg#xywh=0,0,160,90

00:00:05.000 --> 00:00:10.000
abc_sprite.jpg#xywh=160,0,160,90

1
01:02:03.500 --> 01:02:08.5
abc_sprite.jpg#xywh=320,90,160,90
"""


def test_parse_stash_sprite_vtt() -> None:
    cues = parse_vtt(STASH_VTT)
    assert cues[0] == Cue(0.0, 5.0, 0, 0, 160, 90)
    assert cues[1] == Cue(5.0, 10.0, 160, 0, 160, 90)
    assert cues[2] == Cue(3723.5, 3728.5, 320, 90, 160, 90)


def test_minute_only_timestamps_and_garbage() -> None:
    assert parse_vtt("WEBVTT\n\n00:05.000 --> 00:10.000\nx.jpg#xywh=1,2,3,4\n") == [Cue(5.0, 10.0, 1, 2, 3, 4)]
    assert parse_vtt("") == []
    assert parse_vtt("WEBVTT\n\nnonsense\nx.jpg#xywh=1,2,3,4\n") == []


def test_one_stray_frame_links_nobody() -> None:
    sightings = [Sighting(1, "A", 0.9), Sighting(2, "A", 0.85), Sighting(3, "A", 0.95), Sighting(7, "B", 0.99)]
    evidence = consistent_subjects(sightings, frames_with_faces=10)
    assert [e.subject for e in evidence] == ["A"]
    assert evidence[0].frames == 3 and evidence[0].share == 0.3


def test_a_subject_must_hold_a_share_of_the_face_frames() -> None:
    sightings = [Sighting(i, "A", 0.9) for i in range(20)] + [Sighting(1, "B", 0.9), Sighting(2, "B", 0.9)]
    assert [e.subject for e in consistent_subjects(sightings, frames_with_faces=40)] == ["A"]
    assert [e.subject for e in consistent_subjects(sightings, frames_with_faces=10)] == ["A", "B"]


def test_same_frame_twice_counts_once() -> None:
    assert consistent_subjects([Sighting(1, "A", 0.9), Sighting(1, "A", 0.9)], frames_with_faces=1) == []


def test_group_faces_by_embedding_never_twice_in_a_frame() -> None:
    from stash_compreface.faces.grouping import group_faces

    a, a2, b = (1.0, 0.0, 0.0), (0.9, 0.1, 0.0), (0.0, 1.0, 0.0)
    faces = [(0, a), (0, a2), (1, a), (1, b), (2, b), (3, None), (3, a2)]
    # frame 0 holds two a-like faces: they are two people, never one group
    assert group_faces(faces) == [[0, 2], [1, 6], [3, 4], [5]]


def test_group_faces_threshold_separates_people() -> None:
    from stash_compreface.faces.grouping import group_faces

    x, y = (1.0, 0.2), (0.2, 1.0)  # cosine 0.38
    assert group_faces([(0, x), (1, y)], threshold=0.5) == [[0], [1]]
    assert group_faces([(0, x), (1, y)], threshold=0.3) == [[0, 1]]
