"""Real H.264 files for the extraction tests, written with PyAV (small, so they are made in a blink)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
from PIL import Image

from testdoubles import synthetic


def write_h264(path: Path, *, seconds: float, fps: int, gop_s: float, size: tuple[int, int],
               picture: Callable[[float], Image.Image]) -> Path:
    """An MP4 whose keyframes fall exactly every ``gop_s`` seconds; ``picture(t)`` draws the frame at t
    (called once per distinct picture: consecutive equal results are reused as-is)."""
    gop = max(1, round(gop_s * fps))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "ultrafast", "keyint_min": str(gop), "sc_threshold": "0", "bf": "0"}
        last: tuple[int, av.VideoFrame] | None = None
        for index in range(round(seconds * fps)):
            image = picture(index / fps)
            if last is None or last[0] != id(image):
                last = (id(image), av.VideoFrame.from_image(image.convert("RGB")))
            frame = last[1]
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


FACE = synthetic.SyntheticFace(person=3, x=110, y=60, size=90)


def face_scene(path: Path, *, face_from: float = 10.0, face_to: float = 20.0, seconds: float = 40.0,
               fps: int = 4, gop_s: float = 1.0) -> Path:
    """320x240: a background whose clutter changes every second, person 3's face between the two times."""
    cache: dict[tuple[int, bool], Image.Image] = {}

    def picture(t: float) -> Image.Image:
        key = (int(t), face_from <= t < face_to)
        if key not in cache:
            cache[key] = synthetic.render(320, 240, [FACE] if key[1] else [], seed=key[0])
        return cache[key]

    return write_h264(path, seconds=seconds, fps=fps, gop_s=gop_s, size=(320, 240), picture=picture)
