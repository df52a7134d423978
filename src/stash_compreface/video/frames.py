"""Sample frames of a scene locally, without a Vision Service (issue #9).

PyAV decodes in-process: keyframes only by default (the cheap path: no inter-frame decoding at all), one
keyframe seek per sample point, and an exact seek (decode forward from the keyframe) only where keyframes
are sparser than the sample interval. Frames are yielded as they are decoded, so memory stays bounded
whatever the length of the video. Where PyAV cannot be imported, Stash's own ffmpeg runs as a subprocess.

The source is the scene's file when this process can read it, else Stash's ``/scene/{id}/stream`` (Go's
``http.ServeFile``, with Range) with a bounded request size, so a seek never makes Stash send the rest of
the file. Cookies and API keys go in headers and never into a message.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from .. import imaging
from ..errors import AuthError, MediaError, Stopped

# ffmpeg's HTTP reads ask for at most this many bytes per request (its default range is open-ended).
HTTP_REQUEST_SIZE = 1 << 20
OPEN_TIMEOUT_S = 20.0
READ_TIMEOUT_S = 60.0
# Two frames whose 16x16 grey thumbnails differ by less than this (mean absolute, 0-255) are one picture.
DUPLICATE_DIFF = 3.0
_HASH_SIDE = 16
_RECENT_HASHES = 8
# Packets read after a seek before giving up on finding a decodable frame (a broken file, not a slow one).
_MAX_PACKETS_PER_SEEK = 100_000


@dataclass(frozen=True)
class Frame:
    timestamp_s: float
    image: Image.Image  # upright RGB, at most imaging.DETECT_MAX_SIDE px on the long side


@dataclass(frozen=True)
class VideoSource:
    path: str | None  # the scene's file path as Stash reports it (used when readable here)
    stream_url: str | None  # Stash's /scene/{id}/stream URL (already rebased onto our Stash base URL)
    headers: Mapping[str, str] = field(default_factory=dict)  # Cookie / ApiKey (secrets: never logged)
    duration_s: float = 0.0

    @property
    def name(self) -> str:
        """What a message may call this video: the path, or the stream URL without query or credentials."""
        if self.path:
            return self.path
        if self.stream_url:
            parts = urlsplit(self.stream_url)
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
            return f"{parts.scheme}://{host}{parts.path}"
        return "a scene without a file"


@dataclass
class ExtractionStats:
    """What one extraction cost: tests and the benchmark read it."""

    seeks: int = 0
    packets: int = 0
    decoded: int = 0  # frames out of the decoder
    keyframes: int = 0  # of which keyframes
    yielded: int = 0
    duplicates: int = 0
    exact_seeks: int = 0
    backend: str = ""


def _readable(path: str | None) -> bool:
    return bool(path) and os.path.isfile(path) and os.access(path, os.R_OK)  # type: ignore[arg-type]


def sample_frames(
    source: VideoSource,
    *,
    interval_s: float,
    stop: threading.Event,
    ffmpeg_path: str | None = None,
    stats: ExtractionStats | None = None,
) -> Iterator[Frame]:
    """Frames as they come (memory bounded), keyframes by default, exact seeks when keyframes are sparser
    than interval_s, near-duplicate frames dropped. Raises errors.MediaError naming the problem for a corrupt
    or unreadable video, errors.Stopped at once when stop is set.

    ``ffmpeg_path`` is used only where PyAV cannot be imported (the runtime passes the ``ffmpeg`` found on
    PATH)."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    stats = stats if stats is not None else ExtractionStats()
    if stop.is_set():
        raise Stopped()
    local = _readable(source.path)
    if not local and not source.stream_url:
        raise MediaError(f"video {source.name}: the file is not readable here and Stash gave no stream URL")
    try:
        import av  # noqa: F401
    except ImportError:
        if not ffmpeg_path:
            raise MediaError(f"video {source.name}: PyAV is not installed and no ffmpeg was found") from None
        stats.backend = "ffmpeg"
        frames = _ffmpeg_frames(source, local, interval_s, stop, ffmpeg_path, stats)
    else:
        stats.backend = "pyav"
        frames = _pyav_frames(source, local, interval_s, stop, stats)
    recent: list[bytes] = []
    for frame in frames:
        thumb = frame.image.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BILINEAR).tobytes()
        if any(_diff(thumb, seen) < DUPLICATE_DIFF for seen in recent):
            stats.duplicates += 1
            continue
        recent = [thumb, *recent[: _RECENT_HASHES - 1]]
        stats.yielded += 1
        yield frame


def _diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise Stopped()


def _header_block(headers: Mapping[str, str]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items() if "\r" not in v and "\n" not in v)


# ---------------------------------------------------------------------------------------------- PyAV


def _pyav_error(source: VideoSource, exc: Exception) -> Exception:
    """A message naming the video and what went wrong, never the URL (it may carry ``apikey=``)."""
    import av

    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return AuthError(f"video {source.name}: Stash refused the stream (check the API key or session cookie)",
                         service="stash")
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return MediaError(f"video {source.name}: cannot be read or decoded ({reason})")


def _pyav_frames(
    source: VideoSource, local: bool, interval_s: float, stop: threading.Event, stats: ExtractionStats
) -> Iterator[Frame]:
    import av

    options: dict[str, str] = {}
    if local:
        target: str = source.path  # type: ignore[assignment]
    else:
        target = source.stream_url  # type: ignore[assignment]
        options = {"request_size": str(HTTP_REQUEST_SIZE), "multiple_requests": "1", "reconnect": "0"}
        if source.headers:
            options["headers"] = _header_block(source.headers)
    try:
        container = av.open(target, options=options, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
    except av.FFmpegError as exc:
        raise _pyav_error(source, exc) from None
    try:
        if not container.streams.video:
            raise MediaError(f"video {source.name}: the file has no video stream")
        yield from _pyav_sample(container, source, interval_s, stop, stats)
    except av.FFmpegError as exc:
        raise _pyav_error(source, exc) from None
    finally:
        container.close()


def _pyav_sample(
    container: Any, source: VideoSource, interval_s: float, stop: threading.Event, stats: ExtractionStats
) -> Iterator[Frame]:
    """One keyframe seek per sample point; an exact seek when the keyframe found is a whole interval early."""
    stream = container.streams.video[0]
    codec = stream.codec_context
    codec.skip_frame = "NONKEY"
    time_base = stream.time_base
    start = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
    # The file's own duration bounds the work: Stash's figure can be wrong (a scene reported at 1e9 s).
    in_file = container.duration / 1_000_000 if container.duration else 0.0
    if in_file <= 0 and stream.duration:
        in_file = float(stream.duration * time_base)
    claimed = source.duration_s
    duration = min(claimed, in_file) if claimed > 0 and in_file > 0 else max(claimed, in_file)
    last_key: float | None = None
    target = 0.0
    while duration <= 0 or target < duration:
        _check(stop)
        container.seek(int((start + target) / time_base), stream=stream, backward=True, any_frame=False)
        stats.seeks += 1
        frame = _first_frame(container, stream, stop, stats, after=None)
        if frame is None:
            break
        key_time = float(frame.time) - start if frame.time is not None else target
        if target - key_time >= interval_s:
            # Keyframes are sparser than the interval here: decode forward from this keyframe to the target.
            stats.exact_seeks += 1
            codec.skip_frame = "DEFAULT"
            try:
                frame = _first_frame(container, stream, stop, stats, after=start + target - 1e-3)
            finally:
                codec.skip_frame = "NONKEY"
            if frame is None:
                break
        elif last_key is not None and key_time <= last_key:
            target += interval_s  # the same keyframe again (no duration to stop at): move on
            if duration <= 0 and target - key_time > 10 * interval_s:
                break
            continue
        else:
            last_key = key_time
        yield Frame(timestamp_s=max(0.0, float(frame.time or 0.0) - start), image=_to_image(frame))
        target += interval_s


def _first_frame(container: Any, stream: Any, stop: threading.Event, stats: ExtractionStats,
                 *, after: float | None) -> Any:
    """The first frame the decoder gives (at or past ``after`` seconds), or None at the end of the file."""
    for packets, packet in enumerate(container.demux(stream), 1):
        _check(stop)
        stats.packets += 1
        if packets > _MAX_PACKETS_PER_SEEK:
            return None
        for frame in stream.codec_context.decode(packet if packet.size else None):
            stats.decoded += 1
            if frame.key_frame:
                stats.keyframes += 1
            if after is None or (frame.time is not None and frame.time >= after):
                return frame
        _check(stop)
    return None


def _to_image(frame: Any) -> Image.Image:
    width, height = frame.width, frame.height
    scale = min(1.0, imaging.DETECT_MAX_SIDE / max(width, height))
    if scale < 1.0:
        image = frame.to_image(width=max(1, round(width * scale)), height=max(1, round(height * scale)))
    else:
        image = frame.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        # The display matrix's angle is counter-clockwise; PIL rotates counter-clockwise too.
        image = image.rotate(rotation, expand=True)
    return image.convert("RGB") if image.mode != "RGB" else image


# --------------------------------------------------------------------------------------------- ffmpeg

_PTS_TIME = re.compile(rb"\bpts_time:\s*(-?[0-9.]+)")


def _ffmpeg_frames(
    source: VideoSource, local: bool, interval_s: float, stop: threading.Event, ffmpeg_path: str,
    stats: ExtractionStats,
) -> Iterator[Frame]:
    """``ffmpeg -skip_frame nokey``: keyframes at least ``interval_s`` apart as PPM on a pipe, their times
    from ``showinfo`` on stderr. The subprocess is killed on stop, on error and when the caller lets go."""
    side = imaging.DETECT_MAX_SIDE
    vf = (f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval_s:g})',"
          f"scale='min({side}\\,iw)':'min({side}\\,ih)':force_original_aspect_ratio=decrease,showinfo")
    cmd = [ffmpeg_path, "-nostdin", "-hide_banner", "-loglevel", "info", "-skip_frame", "nokey"]
    if local:
        cmd += ["-i", source.path]  # type: ignore[list-item]
    else:
        if source.headers:
            # ffmpeg takes headers only on its command line, which every user of the machine can read.
            raise MediaError(f"{source.name} is not readable here and reading Stash's stream without PyAV would "
                             "show the session key to other users of this machine: install PyAV (the av "
                             "package) or make the video file readable at its path")
        cmd += ["-multiple_requests", "1", "-rw_timeout", str(int(READ_TIMEOUT_S * 1e6)),
                "-i", source.stream_url]  # type: ignore[list-item]
    cmd += ["-an", "-sn", "-vf", vf, "-fps_mode", "vfr", "-f", "image2pipe", "-c:v", "ppm", "pipe:1"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    times: queue.Queue[float | None] = queue.Queue()
    tail: list[bytes] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if match := _PTS_TIME.search(line):
                times.put(float(match.group(1)))
            elif not line.startswith(b"[Parsed_showinfo"):
                tail[:] = [*tail[-4:], line]
        times.put(None)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    def watch() -> None:
        while proc.poll() is None:
            if stop.wait(0.05):
                proc.kill()
                return

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert proc.stdout is not None
        while True:
            _check(stop)
            try:
                image = _read_ppm(proc.stdout)
            except MediaError:
                _check(stop)
                raise
            _check(stop)
            if image is None:
                break
            stats.decoded += 1
            stats.keyframes += 1
            when = times.get(timeout=READ_TIMEOUT_S)
            yield Frame(timestamp_s=max(0.0, when or 0.0), image=image)
        proc.wait(timeout=READ_TIMEOUT_S)
        _check(stop)
        if proc.returncode != 0:
            reader.join(timeout=5)
            reason = _ffmpeg_reason(b"".join(tail), source)
            raise MediaError(f"video {source.name}: cannot be read or decoded ({reason})")
    except queue.Empty:
        raise MediaError(f"video {source.name}: ffmpeg gave a frame without a time") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ffmpeg_reason(text: bytes, source: VideoSource) -> str:
    message = text.decode("utf-8", "replace").strip().splitlines()
    line = message[-1] if message else "ffmpeg failed"
    for secret in [source.stream_url or "", *source.headers.values()]:
        if secret:
            line = line.replace(secret, "<redacted>")
    return line[:300]


def _read_ppm(pipe: Any) -> Image.Image | None:
    """One binary PPM (P6) from the pipe, or None at its end."""
    tokens: list[bytes] = []
    token = b""
    while len(tokens) < 4:
        ch = pipe.read(1)
        if not ch:
            if tokens or token:
                raise MediaError("ffmpeg's frame pipe ended inside a frame")
            return None
        if ch.isspace():
            if token:
                tokens.append(token)
                token = b""
        else:
            token += ch
    if tokens[0] != b"P6":
        raise MediaError("ffmpeg wrote something other than a PPM frame")
    width, height, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    size = width * height * (3 if maxval < 256 else 6)
    data = pipe.read(size)
    if len(data) != size:
        raise MediaError("ffmpeg's frame pipe ended inside a frame")
    return Image.frombytes("RGB", (width, height), data)
