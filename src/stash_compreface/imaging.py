"""Pillow work in one place: sniff, decode, EXIF-orient, downscale, crop, measure sharpness.

Bytes come in, bytes (or a decoded RGB image) go out, and every failure is a ``MediaError`` that says in
plain words what is wrong with the file, because users read these in Stash's log.

Memory is bounded, because a NAS has little of it: large JPEGs decode reduced (libjpeg's draft), large PNGs
decode in horizontal bands that are reduced one at a time, and every decode first takes its pixels from one
process-wide ``PixelBudget``, so a few huge images in parallel threads queue instead of adding up.
"""

from __future__ import annotations

import collections
import contextlib
import io
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import MediaError
from .faces.models import Box

# Pillow refuses files above ~179 MP by default; we decide ourselves, with a clearer message.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = None
DETECT_MAX_SIDE = 1920
JPEG_QUALITY = 90
# Decoded pixels in flight across all threads (Pillow holds 4 bytes a pixel in RGB). A whole decode peaks
# at ~6 bytes a pixel (PNG, TIFF, GIF) to ~16 (WebP: libwebp's own buffer too), so this bounds decoding to
# a few hundred MB; four ordinary images (drafted JPEGs, PNGs up to BAND_MIN_PIXELS) fit side by side and
# never wait on each other. An image that cannot be decoded reduced and is bigger than this is refused.
DECODE_BUDGET_PIXELS = 64_000_000
# PNGs above this many pixels (and at least twice the wanted side) decode in bands of about BAND_PIXELS.
BAND_MIN_PIXELS = 16_000_000
BAND_PIXELS = 2_000_000

_VIDEO_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "an MP4/MOV video"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM video"),
    (0, b"FLV", "an FLV video"),
    (0, b"\x00\x00\x01\xba", "an MPEG video"),
    (0, b"\x00\x00\x01\xb3", "an MPEG video"),
)


def sniff_video(data: bytes) -> str | None:
    for offset, magic, kind in _VIDEO_SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "an AVI video"
    return None


@dataclass
class Prepared:
    """An image ready for the face service: upright RGB, at most ``DETECT_MAX_SIDE`` px, as JPEG."""

    image: Image.Image
    jpeg: bytes
    original_size: tuple[int, int]

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def _open(data: bytes) -> ImageFile.ImageFile:
    if not data:
        raise MediaError("the file is empty (0 bytes)")
    video = sniff_video(data)
    if video:
        raise MediaError(f"the file is {video}, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaError("the file is not an image Pillow can read (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"the image cannot be opened: {exc}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise MediaError(f"the image is {width}x{height} ({width * height / 1e6:.0f} MP), above the "
                         f"{MAX_PIXELS / 1e6:.0f} MP this plugin decodes")
    return image


class PixelBudget:
    """Decoded pixels in flight, process-wide: a decode takes its pixels before it starts, gives them back after.

    Requests are served in arrival order, so a huge image is not starved by a stream of small ones; small
    images that fit alongside each other never wait. ``peak`` and ``waits`` are there for tests and benchmarks.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a pixel budget needs a positive capacity")
        self.capacity = capacity
        self.peak = 0
        self.waits = 0
        self._used = 0
        self._queue: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._used

    @property
    def waiting(self) -> int:
        """Requests queued behind others or for pixels to come back."""
        with self._changed:
            return len(self._queue)

    def acquire(self, pixels: int) -> None:
        if pixels > self.capacity:
            raise MediaError(f"decoding would hold {_mp(pixels)} MP at once, above the "
                             f"{_mp(self.capacity)} MP this plugin decodes at a time")
        ticket = object()
        with self._changed:
            if self._queue or self._used + pixels > self.capacity:
                self.waits += 1
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._used + pixels > self.capacity:
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too, or may now be first
            self._used += pixels
            self.peak = max(self.peak, self._used)

    def release(self, pixels: int) -> None:
        with self._changed:
            self._used -= pixels
            self._changed.notify_all()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        self.acquire(pixels)
        try:
            yield
        finally:
            self.release(pixels)


BUDGET = PixelBudget(DECODE_BUDGET_PIXELS)


def _load(image: Image.Image) -> Image.Image:
    """Decode (at the size ``draft`` left, if any), then make it upright RGB."""
    try:
        image.seek(0)
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise _decode_error(exc) from None
    return _to_rgb(_upright(image))


def _decode_error(exc: BaseException) -> MediaError:
    text = str(exc)
    return MediaError("the image is truncated" if "truncated" in text else f"the image is corrupt ({text})")


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation in place: ``exif_transpose`` would otherwise copy every upright picture whole."""
    with contextlib.suppress(Exception):  # a broken EXIF block must not cost us the pixels
        ImageOps.exif_transpose(image, in_place=True)
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    if max(size) <= max_side:
        return size
    factor = max_side / max(size)
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    return image.resize(_fit(image.size, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)


# -- PNG in bands ----------------------------------------------------------------------------------
#
# Pillow's PNG decoder writes the whole picture into one buffer (4 bytes a pixel for RGB), so a 15000 px
# square takes 900 MB however small the file. Here the IDAT zlib stream is inflated a band of rows at a
# time and handed, re-wrapped as stored (uncompressed) deflate blocks, to Pillow's own PNG row decoder
# ("zip": un-filtering and unpacking) writing into a band image. Each band starts with the last unfiltered
# row of the band before it (filter "None"), so PNG's row filters keep their context. The band is made RGB
# and reduced by an integer factor before the next one is read: memory is one band plus the reduced picture.

# (mode, rawmode) whose Pillow pixels give the PNG row bytes back exactly: decoded straight into the band.
_EXACT_RAWMODES = {("L", "L"), ("LA", "LA"), ("RGB", "RGB"), ("RGBA", "RGBA"), ("P", "P")}
# Others (1/2/4-bit, 16-bit grey) are un-filtered in a stand-in mode with the same filter unit (bytes a
# pixel), whose bytes are exact, then unpacked as Pillow would.
_STAND_INS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_FEED = 1 << 16  # compressed bytes handed to zlib at a time, so its unconsumed tail stays small
_STORED_MAX = 0xFFFF  # the largest stored deflate block
_ZLIB_HEADER = b"\x78\x01"


@dataclass(frozen=True)
class _BandPlan:
    factor: int  # integer reduction of each band (Image.reduce)
    rows: int  # rows a band, a multiple of factor
    row_bytes: int  # one unfiltered row, without its filter-type byte
    stand_in: str | None  # None: decode bands straight in the image's mode
    idat: tuple[tuple[int, int], ...]  # (offset, length) of each IDAT chunk's data
    trailing: tuple[tuple[bytes, int, int], ...]  # metadata chunks after the image data

    def cost(self, width: int, height: int) -> int:
        """Pixels in flight: the band, decoded and made RGB (with alpha: a few copies), and the reduced picture."""
        reduced = -(-width // self.factor) * -(-height // self.factor)
        return 3 * width * (self.rows + 1) + reduced


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, data length); a chunk cut short by the end of the file is cut to what is there."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        start = pos + 8
        yield kind, start, max(0, min(length, len(data) - start))
        if kind == b"IEND":
            return
        pos = start + length + 4


def _png_unit(data: bytes) -> int:
    """PNG's filter unit: bytes a pixel, at least one (from IHDR; 0 if there is none)."""
    return max(1, data[24] * _CHANNELS.get(data[25], 0) // 8) if data[12:16] == b"IHDR" else 0


def _why_whole(image: ImageFile.ImageFile, data: bytes) -> str | None:
    """Why this PNG cannot be decoded in bands, if it cannot."""
    if image.info.get("interlace"):
        return "an interlaced PNG"
    if "bbox" in image.info or len(image.tile) != 1 or not isinstance(image.tile[0][3], str):
        return "an animated PNG"
    if _png_unit(data) not in _STAND_INS:
        return "a 16-bit colour PNG"
    return None


def _band_plan(image: ImageFile.ImageFile, data: bytes, max_side: int) -> _BandPlan | None:
    """How to decode this PNG in bands; None when it is small enough to decode whole, or cannot be banded."""
    width, height = image.size
    factor = max(width, height) // max_side
    if image.format != "PNG" or factor < 2 or width * height <= BAND_MIN_PIXELS or _why_whole(image, data):
        return None
    idat: list[tuple[int, int]] = []
    trailing: list[tuple[bytes, int, int]] = []
    for kind, start, length in _png_chunks(data):
        if kind == b"IDAT" and not trailing:
            idat.append((start, length))
        elif idat:
            trailing.append((kind, start, length))  # after the image data: metadata Pillow reads at the end
    exact = (image.mode, image.tile[0][3]) in _EXACT_RAWMODES
    return _BandPlan(factor=factor, rows=max(factor, BAND_PIXELS // width // factor * factor),
                     row_bytes=(width * data[24] * _CHANNELS[data[25]] + 7) // 8,
                     stand_in=None if exact else _STAND_INS[_png_unit(data)], idat=tuple(idat),
                     trailing=tuple(t for t in trailing if t[0] in (b"eXIf", b"tEXt", b"zTXt", b"iTXt")))


class _RowDecoder:
    """Pillow's PNG row decoder writing into one band image, fed stored deflate blocks."""

    def __init__(self, mode: str, rawmode: str, size: tuple[int, int]) -> None:
        self.band = Image.new(mode, size)
        self._decoder = Image._getdecoder(mode, "zip", (rawmode,))
        self._decoder.setimage(self.band.im, (0, 0, *size))
        self._decoder.decode(_ZLIB_HEADER)

    def feed(self, rows: bytes) -> None:
        view = memoryview(rows)
        for start in range(0, len(rows), _STORED_MAX):
            piece = view[start:start + _STORED_MAX]
            size = len(piece)
            self._decoder.decode(b"\0" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little"))
            if self._decoder.decode(piece)[1] < 0:
                raise MediaError("the image is corrupt (its rows do not decode as PNG)")

    def close(self) -> None:
        self._decoder.cleanup()


def _png_bands(image: ImageFile.ImageFile, data: bytes, plan: _BandPlan) -> Iterator[tuple[Image.Image, int]]:
    """Each band in the mode a whole decode gives (palette, transparency kept), and how many context rows lead it."""
    width, height = image.size
    rawmode = str(image.tile[0][3])
    stand_in = plan.stand_in
    mode, decode_width = (image.mode, width) if stand_in is None else (stand_in, plan.row_bytes // len(stand_in))
    view = memoryview(data)
    source = (view[start + i:start + min(length, i + _FEED)]
              for start, length in plan.idat for i in range(0, length, _FEED))
    inflater = zlib.decompressobj()
    previous = b""
    for y in range(0, height, plan.rows):
        lead = 1 if previous else 0
        lines = min(plan.rows, height - y) + lead
        rows = _RowDecoder(mode, stand_in or rawmode, (decode_width, lines))
        try:
            if previous:
                rows.feed(b"\0" + previous)
            need = (lines - lead) * (plan.row_bytes + 1)
            while need:
                chunk = inflater.unconsumed_tail or next(source, b"")
                if not chunk or inflater.eof:
                    raise MediaError("the image is truncated")
                piece = inflater.decompress(chunk, min(need, _STORED_MAX))
                rows.feed(piece)
                need -= len(piece)
        except zlib.error as exc:
            raise MediaError(f"the image is corrupt ({exc})") from None
        finally:
            rows.close()
        band = rows.band
        if stand_in is None:
            previous = band.crop((0, lines - 1, width, lines)).tobytes("raw", rawmode)
        else:
            raw = band.tobytes()
            previous = raw[-plan.row_bytes:]
            band = Image.frombytes(image.mode, (width, lines), raw, "raw", rawmode)
        if image.mode == "P" and image.palette is not None:
            band.putpalette(image.palette)
        if "transparency" in image.info:
            band.info["transparency"] = image.info["transparency"]
        yield band, lead


def _trailing_info(data: bytes, plan: _BandPlan) -> dict[Any, Any]:
    """EXIF and XMP written after the image data, which Pillow would have read at the end of load()."""
    fp = io.BytesIO(data)
    stream = PngImagePlugin.PngStream(fp)
    for kind, start, length in plan.trailing:
        try:
            fp.seek(start)
            stream.call(kind, start, length)
        except Exception:  # broken metadata must not cost us the pixels
            continue
    return dict(stream.im_info)


def _decode_png_bands(image: ImageFile.ImageFile, data: bytes, plan: _BandPlan, max_side: int) -> Image.Image:
    width, height = image.size
    factor = plan.factor
    reduced = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    top = 0
    for band, lead in _png_bands(image, data, plan):
        reduced.paste(_to_rgb(band).reduce(factor, (0, lead, width, band.height)), (0, top))
        top += (band.height - lead) // factor
    reduced.info = {**image.info, **_trailing_info(data, plan)}
    try:
        turned = reduced.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        turned = False
    upright = _upright(reduced)
    return upright.resize(_fit((height, width) if turned else (width, height), max_side), Image.Resampling.LANCZOS)


def _decode(image: ImageFile.ImageFile, data: bytes, max_side: int, budget: PixelBudget, *,
            shrink: bool = True) -> Image.Image:
    """Upright RGB of at most ``max_side``, decoded as small as the format allows, within the budget.

    ``shrink=False`` keeps what a whole decode gives (JPEG: drafted to at least ``max_side``).
    """
    width, height = image.size
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    plan = _band_plan(image, data, max_side)
    if plan is not None and plan.cost(width, height) <= budget.capacity:
        with budget.hold(plan.cost(width, height)):
            return _decode_png_bands(image, data, plan, max_side)
    cost = image.width * image.height
    if image.format == "JPEG" and image.info.get("progressive"):
        # libjpeg keeps every DCT coefficient of a progressive JPEG (~3 bytes a pixel) whatever the draft scale
        cost += width * height * 3 // 4
    if cost > budget.capacity:
        raise MediaError(f"the image is {width}x{height} ({_mp(width * height)} MP), {_whole_kind(image, data)} "
                         f"that cannot be decoded at reduced size, and decoding it would hold more than the "
                         f"{_mp(budget.capacity)} MP this plugin decodes at a time")
    with budget.hold(cost):
        rgb = _load(image)
        return _shrink(rgb, max_side) if shrink else rgb


def _whole_kind(image: ImageFile.ImageFile, data: bytes) -> str:
    if image.format == "PNG":
        return _why_whole(image, data) or "a PNG"
    if image.format == "JPEG":
        return "a progressive JPEG" if image.info.get("progressive") else "a JPEG"
    return f"a {image.format or 'picture'} file"


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def prepare(data: bytes, *, max_side: int = DETECT_MAX_SIDE, budget: PixelBudget | None = None) -> Prepared:
    """Any image file Stash holds → an upright RGB JPEG of bounded size (GIF: first frame).

    ``budget`` defaults to the process-wide ``BUDGET``.
    """
    image = _open(data)
    original = image.size
    upright = _decode(image, data, max_side, budget or BUDGET)
    return Prepared(image=upright, jpeg=encode_jpeg(upright), original_size=original)


def fit_for_upload(data: bytes, max_bytes: int, *, budget: PixelBudget | None = None) -> bytes:
    """Guarantee an upload the server accepts: upright, JPEG, under ``max_bytes``.

    Huge PNGs arrive at most twice the detection side (they are decoded reduced); others as decoded.
    """
    image = _open(data)
    if len(data) <= max_bytes and image.format == "JPEG" and image.getexif().get(0x0112, 1) in (0, 1):
        return data  # (only JPEG reads EXIF without decoding: PNG's getexif() would load the pixels)
    rgb = _decode(image, data, DETECT_MAX_SIDE * 2, budget or BUDGET, shrink=False)
    return shrink_to_bytes(rgb, max_bytes)


def shrink_to_bytes(image: Image.Image, max_bytes: int) -> bytes:
    side = max(image.size)
    quality = JPEG_QUALITY
    while True:
        encoded = encode_jpeg(_shrink(image, side), quality)
        if len(encoded) <= max_bytes or side <= 64:
            return encoded
        if quality > 70:
            quality -= 10
        else:
            side = int(side * 0.8)


def crop(image: Image.Image, box: Box, *, pad: float = 0.15) -> Image.Image:
    """The face with some context around it: detectors need a margin to find the face again."""
    area = box.padded(pad, image.width, image.height)
    if area.width < 2 or area.height < 2:
        raise MediaError("the face box lies outside the image")
    return image.crop((area.x_min, area.y_min, area.x_max, area.y_max))


def decode_rgb(data: bytes, *, max_side: int = 8192, budget: PixelBudget | None = None) -> Image.Image:
    """A whole picture (a sprite sheet) as upright RGB, shrunk only when absurdly large."""
    return _decode(_open(data), data, max_side, budget or BUDGET)


def tile(cells: list[Image.Image], *, columns: int, cell_width: int, gap: int = 8) -> tuple[Image.Image, list[Box]]:
    """Lay small frames out on one sheet, enlarged to ``cell_width``, so one request covers many.

    Sprite cells are 160 px wide: enlarged, their faces reach sizes detectors find. Returns the sheet
    and where each cell landed on it.
    """
    if not cells:
        raise ValueError("no cells to tile")
    scale = cell_width / max(1, cells[0].width)
    cell_height = max(1, round(cells[0].height * scale))
    rows = -(-len(cells) // columns)
    sheet = Image.new("RGB", (columns * (cell_width + gap) + gap, rows * (cell_height + gap) + gap),
                      (128, 128, 128))
    boxes = []
    for index, cell in enumerate(cells):
        x = gap + (index % columns) * (cell_width + gap)
        y = gap + (index // columns) * (cell_height + gap)
        sheet.paste(cell.resize((cell_width, cell_height), Image.Resampling.LANCZOS), (x, y))
        boxes.append(Box(x, y, x + cell_width, y + cell_height))
    return sheet, boxes
