"""Local scene extraction on real H.264 files: from a readable path, from Stash's stream with Range,
corrupt files, a three-hour file, a stop, duplicates, and the ffmpeg fallback."""

from __future__ import annotations

import builtins
import dataclasses
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from stash_compreface import imaging
from stash_compreface.errors import AuthError, MediaError, Stopped
from stash_compreface.video import ExtractionStats, Frame, VideoSource, frames, sample_frames
from testdoubles import synthetic
from testdoubles.stash import StashDouble

from .videos import FACE, face_scene, write_h264

API_KEY = "s3cr3t-api-key"
ENGINE = synthetic.SyntheticEngine()


def people(frame: Frame) -> set[int]:
    return {face.person for face in ENGINE.detect(synthetic.encode(frame.image))}


def run(source: VideoSource, interval_s: float, stats: ExtractionStats | None = None, **kwargs: Any) -> list[Frame]:
    return list(sample_frames(source, interval_s=interval_s, stop=threading.Event(), stats=stats, **kwargs))


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_scene(tmp_path_factory.mktemp("video") / "scene.mp4")


@pytest.fixture(scope="module")
def long_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours at 64x48 and 1 fps, a keyframe every 3 minutes, the picture changing with each."""
    shades = []
    for i in range(60):  # a white block at a different place in each 3-minute segment
        shade = Image.new("RGB", (64, 48), (20, 30, 40))
        shade.paste((240, 240, 240), (i % 8 * 8, i // 8 * 6, i % 8 * 8 + 8, i // 8 * 6 + 6))
        shades.append(shade)
    return write_h264(tmp_path_factory.mktemp("video") / "long.mp4", seconds=3 * 3600, fps=1, gop_s=180,
                      size=(64, 48), picture=lambda t: shades[int(t // 180)])


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 minutes at 64x48 and 1 fps of changing noise (so megabytes lie between keyframes), a keyframe a minute."""
    rng = np.random.default_rng(5)
    noise = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), "RGB") for _ in range(7)]
    return write_h264(tmp_path_factory.mktemp("video") / "noisy.mp4", seconds=1800, fps=1, gop_s=60,
                      size=(64, 48), picture=lambda t: noise[int(t) % 7])


@pytest.fixture
def stash() -> Iterator[StashDouble]:
    with StashDouble.running(api_key=API_KEY) as double:
        yield double


def stream_source(stash: StashDouble, data: bytes, duration: float) -> VideoSource:
    scene_id = stash.add_scene("s", path="/nowhere/on/this/machine/scene.mp4", duration=duration, video=data)
    outcome, body = stash.execute("{ findScenes { scenes { id files { path } paths { stream } } } }")
    assert outcome == "ok", body
    scene = next(s for s in body["data"]["findScenes"]["scenes"] if s["id"] == scene_id)  # type: ignore[index]
    url = scene["paths"]["stream"].replace("http://127.0.0.1", stash.url).split("?")[0]
    assert url.endswith(f"/scene/{scene_id}/stream")
    return VideoSource(path=scene["files"][0]["path"], stream_url=url, headers={"ApiKey": API_KEY},
                       duration_s=duration)


def test_readable_path_samples_keyframes_every_interval_and_sees_the_face(scene_file):
    stats = ExtractionStats()
    got = run(VideoSource(str(scene_file), None, {}, 40.0), 5, stats)
    assert [f.timestamp_s for f in got] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert [people(f) for f in got] == [set(), set(), {FACE.person}, {FACE.person}, set(), set(), set(), set()]
    assert all(f.image.mode == "RGB" and f.image.size == (320, 240) for f in got)
    assert stats.decoded == stats.keyframes == 8 and stats.exact_seeks == 0, stats


def test_sparse_keyframes_get_exact_seeks(tmp_path):
    path = face_scene(tmp_path / "sparse.mp4", gop_s=10.0)  # a keyframe every 10 s, samples every 2.5 s
    stats = ExtractionStats()
    got = run(VideoSource(str(path), None, {}, 40.0), 2.5, stats)
    assert [f.timestamp_s for f in got] == [i * 2.5 for i in range(16)]
    assert [t.timestamp_s for t in got if people(t)] == [10.0, 12.5, 15.0, 17.5]
    assert stats.exact_seeks == 12 and stats.decoded > stats.keyframes, stats


def test_big_frames_are_downscaled(tmp_path, monkeypatch):
    monkeypatch.setattr(imaging, "DETECT_MAX_SIDE", 160)
    got = run(VideoSource(str(face_scene(tmp_path / "s.mp4", seconds=4)), None, {}, 4.0), 2)
    assert got and all(f.image.size == (160, 120) for f in got)


def test_stream_with_range_when_the_path_is_not_here(stash, scene_file, monkeypatch):
    monkeypatch.setattr(frames, "HTTP_REQUEST_SIZE", 64 * 1024)
    data = scene_file.read_bytes()
    stats = ExtractionStats()
    got = run(stream_source(stash, data, 40.0), 10, stats)
    assert [f.timestamp_s for f in got] == [0, 10, 20, 30]
    assert [people(f) for f in got] == [set(), {FACE.person}, set(), set()]
    assert stash.auth_failures == 0 and stash.stream_ranges
    for header in stash.stream_ranges:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", header or "")
        assert match, f"an open-ended or missing range: {header}"
        assert int(match.group(2)) - int(match.group(1)) + 1 <= 64 * 1024
    assert stash.stream_bytes_sent < len(data), (stash.stream_bytes_sent, len(data))


def test_stream_seeks_read_a_fraction_of_the_file(stash, noisy_file, monkeypatch):
    monkeypatch.setattr(frames, "HTTP_REQUEST_SIZE", 64 * 1024)
    data = noisy_file.read_bytes()
    stats = ExtractionStats()
    got = run(stream_source(stash, data, 1800.0), 300, stats)
    assert [f.timestamp_s for f in got] == [i * 300 for i in range(6)]
    assert stats.decoded == stats.keyframes == 6, stats
    # Open-ended ranges would make the double send the rest of the file on every seek (~3x the file).
    assert stash.stream_bytes_sent < len(data) / 4, (stash.stream_bytes_sent, len(data))


def test_three_hour_file_decodes_only_keyframes(long_file):
    stats = ExtractionStats()
    got = run(VideoSource(str(long_file), None, {}, 3 * 3600.0), 300, stats)
    assert len(got) == 36 and got[-1].timestamp_s == 10440, "the keyframe at or before 2:55:00"
    assert stats.exact_seeks == 0 and stats.decoded == stats.keyframes, stats
    assert stats.decoded <= 3 * 3600 / 300 + 1, "one decoded keyframe per sample point"
    # Keyframe times are 3-minute marks: each sample is the keyframe at or before its time.
    assert all(f.timestamp_s % 180 == 0 and f.timestamp_s <= i * 300 < f.timestamp_s + 180
               for i, f in enumerate(got))


def test_stream_refused_is_an_auth_error_without_the_key(stash, scene_file):
    source = stream_source(stash, scene_file.read_bytes(), 40.0)
    bad = VideoSource(source.path, source.stream_url + "?apikey=" + API_KEY + "x", {"ApiKey": API_KEY + "x"}, 40.0)
    with pytest.raises(AuthError) as caught:
        run(bad, 10)
    assert API_KEY not in str(caught.value) and str(source.path) in str(caught.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_file_is_a_media_error_naming_it(scene_file, tmp_path, damage):
    data = scene_file.read_bytes()
    body = {"truncated": data[: len(data) // 2], "garbage": bytes(range(256)) * 400, "empty": b""}[damage]
    path = tmp_path / f"{damage}.mp4"
    path.write_bytes(body)
    with pytest.raises(MediaError, match=re.escape(str(path))):
        run(VideoSource(str(path), None, {}, 40.0), 5)


def test_no_readable_path_and_no_stream_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="not readable here"):
        run(VideoSource(str(tmp_path / "gone.mp4"), None, {}, 40.0), 5)


def test_missing_stream_is_a_media_error(stash):
    source = VideoSource(None, f"{stash.url}/scene/999/stream", {"ApiKey": API_KEY}, 40.0)
    with pytest.raises(MediaError) as caught:
        run(source, 5)
    assert "/scene/999/stream" in str(caught.value) and API_KEY not in str(caught.value)


def test_stop_mid_extraction_raises_at_once(scene_file):
    stop = threading.Event()
    stats = ExtractionStats()
    frames_iter = sample_frames(VideoSource(str(scene_file), None, {}, 40.0), interval_s=5, stop=stop, stats=stats)
    assert next(frames_iter).timestamp_s == 0
    stop.set()
    with pytest.raises(Stopped):
        next(frames_iter)
    assert stats.decoded == 1, "nothing decoded after the stop"
    with pytest.raises(Stopped):
        next(sample_frames(VideoSource(str(scene_file), None, {}, 40.0), interval_s=5, stop=stop))


def test_duplicate_frames_are_dropped(tmp_path):
    still = synthetic.render(320, 240, [FACE], seed=4)
    path = write_h264(tmp_path / "still.mp4", seconds=30, fps=2, gop_s=2, size=(320, 240), picture=lambda t: still)
    stats = ExtractionStats()
    got = run(VideoSource(str(path), None, {}, 30.0), 2, stats)
    assert [f.timestamp_s for f in got] == [0.0] and people(got[0]) == {FACE.person}
    assert stats.duplicates == 14, stats


# ----------------------------------------------------------------------------------- ffmpeg fallback

FFMPEG = shutil.which("ffmpeg")


@pytest.fixture
def no_pyav(monkeypatch):
    real_import = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "av" or name.startswith("av."):
            raise ImportError("no av here")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "av", raising=False)
    monkeypatch.setattr(builtins, "__import__", refuse)


def test_without_pyav_or_ffmpeg_is_a_media_error(scene_file, no_pyav):
    with pytest.raises(MediaError, match="PyAV is not installed"):
        run(VideoSource(str(scene_file), None, {}, 40.0), 5)


@pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg on PATH")
def test_ffmpeg_fallback_samples_keyframes(scene_file, no_pyav):
    stats = ExtractionStats()
    got = run(VideoSource(str(scene_file), None, {}, 40.0), 5, stats, ffmpeg_path=FFMPEG)
    assert stats.backend == "ffmpeg"
    assert [f.timestamp_s for f in got] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert [t.timestamp_s for t in got if people(t)] == [10, 15]


@pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg on PATH")
def test_ffmpeg_fallback_over_the_stream_and_stop(scene_file, no_pyav):
    with StashDouble.running() as open_stash:  # a Stash without credentials: nothing secret on the command line
        source = dataclasses.replace(stream_source(open_stash, scene_file.read_bytes(), 40.0), headers={})
        stop = threading.Event()
        frames_iter = sample_frames(source, interval_s=10, stop=stop, ffmpeg_path=FFMPEG)
        assert people(next(frames_iter)) == set()
        assert people(next(frames_iter)) == {FACE.person}
        stop.set()
        with pytest.raises(Stopped):
            next(frames_iter)


@pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg on PATH")
def test_ffmpeg_fallback_never_puts_the_session_key_on_its_command_line(stash, scene_file, no_pyav):
    source = stream_source(stash, scene_file.read_bytes(), 40.0)
    with pytest.raises(MediaError, match="PyAV") as refused:
        run(source, 10, ffmpeg_path=FFMPEG)
    assert API_KEY not in str(refused.value)


@pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg on PATH")
def test_ffmpeg_fallback_corrupt_file(tmp_path, no_pyav):
    path = tmp_path / "bad.mp4"
    path.write_bytes(b"\x00" * 5000)
    with pytest.raises(MediaError, match=re.escape(str(path))):
        run(VideoSource(str(path), None, {}, 40.0), 5, ffmpeg_path=FFMPEG)
