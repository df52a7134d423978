"""Stash's sprite VTT: which cell of the sprite sheet shows which moment of the scene."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_CUE_TIME = re.compile(rf"^{_TIME}\s*-->\s*{_TIME}")
_XYWH = re.compile(r"#xywh=(\d+),(\d+),(\d+),(\d+)")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    x: int
    y: int
    width: int
    height: int


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str | None) -> float:
    fraction = int((millis or "0").ljust(3, "0")) / 1000
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + fraction


def parse_vtt(text: str) -> list[Cue]:
    """Cues with a sprite cell; HH:MM:SS.mmm and MM:SS.mmm both occur, identifiers and notes are skipped."""
    cues: list[Cue] = []
    pending: tuple[float, float] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        times = _CUE_TIME.match(line)
        if times:
            groups = times.groups()
            pending = (_seconds(*groups[:4]), _seconds(*groups[4:]))
            continue
        cell = _XYWH.search(line)
        if cell and pending is not None:
            x, y, w, h = (int(v) for v in cell.groups())
            if w > 0 and h > 0:
                cues.append(Cue(pending[0], pending[1], x, y, w, h))
            pending = None
    return cues
