"""Pillow work in one place: sniff, decode, EXIF-orient, downscale, crop, measure sharpness.

A file comes in (bytes, or a download's :class:`~.media.Spool`, read from its temporary file, never
copied into memory), bytes (or a decoded RGB image) go out, and every failure is a ``MediaError`` that says
in plain words what is wrong with the file, because users read these in Stash's log.

Memory is bounded, because a NAS has little of it: large JPEGs decode reduced (libjpeg's draft), large PNGs
decode in horizontal bands that are reduced one at a time, and every decode first takes its bytes from the
process-wide ``media.BUDGET`` (shared with downloads), so a few huge images in parallel threads queue instead
of adding up. What no trick can shrink (WebP, TIFF, GIF… decode whole) is refused, with its size, when it
would need more than the whole budget.
"""

from __future__ import annotations

import contextlib
import io
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import MediaError
from .faces.models import Box
from .media import BUDGET, MemoryBudget, Spool, mb

Source = bytes | Spool  # a file in memory, or a download (read from its spool)

# Pillow refuses files above ~179 MP by default; we decide ourselves, with a clearer message.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = None
DETECT_MAX_SIDE = 1920
JPEG_QUALITY = 90
# What a decode costs the budget, in bytes. Pillow holds 4 bytes a pixel (RGB, RGBA); a picture that is not
# RGB is converted, a second copy. A WebP is decoded whole by libwebp into its canvas, copied out as bytes,
# then into Pillow's image, ~16 bytes a pixel (measured: 998 MB peak for 64 MP), on top of the file itself.
PIXEL_BYTES = 4
WEBP_PIXEL_BYTES = 16
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


@dataclass
class _File:
    """The file being decoded: read through ``fp`` (never copied whole), its first bytes, its size."""

    fp: IO[bytes]
    head: bytes
    size: int
    spool: Spool | None

    @classmethod
    def of(cls, source: Source) -> _File:
        spool = source if isinstance(source, Spool) else None
        fp = source.rewind().file if isinstance(source, Spool) else io.BytesIO(source)
        head = fp.read(64)
        fp.seek(0, io.SEEK_END)
        size = fp.tell()
        fp.seek(0)
        return cls(fp, head, size, spool)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise MediaError(f"the image is {width}x{height} ({width * height / 1e6:.0f} MP), above the "
                         f"{MAX_PIXELS / 1e6:.0f} MP this plugin decodes")


def _open(file: _File) -> ImageFile.ImageFile:
    if not file.size:
        raise MediaError("the file is empty (0 bytes)")
    video = sniff_video(file.head)
    if video:
        raise MediaError(f"the file is {video}, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            file.fp.seek(0)
            image = Image.open(file.fp)
    except UnidentifiedImageError:
        raise MediaError("the file is not an image Pillow can read (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise MediaError(f"the image cannot be opened: {exc}") from None
    _check_size(*image.size)
    return image


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """A WebP's canvas from its header, read before Pillow, whose WebP decoder allocates the canvas on open."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    kind = head[12:16]
    if kind == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    return None


def _take(budget: MemoryBudget, cost: int, file: _File) -> bool:
    """Take ``cost`` bytes for decoding ``file``; True when its download had to move to disk first.

    Whoever must wait gives its download's memory back first (it moves to a temporary file), so a waiting
    item holds nothing: waiting cannot deadlock, and one item never holds more than the budget.
    """
    if budget.try_acquire(cost):
        return False
    moved = file.spool is not None and file.spool.in_memory
    if moved:
        assert file.spool is not None
        file.spool.spill()
        file.fp = file.spool.rewind().file
    budget.acquire(cost)
    return moved


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


def _png_chunks(file: _File) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, data length); a chunk cut short by the end of the file is cut to what is there."""
    pos = 8
    while pos + 8 <= file.size:
        file.fp.seek(pos)
        header = file.fp.read(8)
        length = int.from_bytes(header[:4], "big")
        kind = header[4:8]
        start = pos + 8
        yield kind, start, max(0, min(length, file.size - start))
        if kind == b"IEND":
            return
        pos = start + length + 4


def _png_unit(data: bytes) -> int:
    """PNG's filter unit: bytes a pixel, at least one (from IHDR; 0 if there is none)."""
    return max(1, data[24] * _CHANNELS.get(data[25], 0) // 8) if data[12:16] == b"IHDR" else 0


def _why_whole(image: ImageFile.ImageFile, head: bytes) -> str | None:
    """Why this PNG cannot be decoded in bands, if it cannot."""
    if image.info.get("interlace"):
        return "an interlaced PNG"
    if "bbox" in image.info or len(image.tile) != 1 or not isinstance(image.tile[0][3], str):
        return "an animated PNG"
    if _png_unit(head) not in _STAND_INS:
        return "a 16-bit colour PNG"
    return None


def _band_plan(image: ImageFile.ImageFile, file: _File, max_side: int) -> _BandPlan | None:
    """How to decode this PNG in bands; None when it is small enough to decode whole, or cannot be banded."""
    width, height = image.size
    factor = max(width, height) // max_side
    data = file.head
    if image.format != "PNG" or factor < 2 or width * height <= BAND_MIN_PIXELS or _why_whole(image, data):
        return None
    idat: list[tuple[int, int]] = []
    trailing: list[tuple[bytes, int, int]] = []
    for kind, start, length in _png_chunks(file):
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


def _idat(file: _File, plan: _BandPlan) -> Iterator[bytes]:
    """The compressed image data, ``_FEED`` bytes at a time, read from the file."""
    for start, length in plan.idat:
        for offset in range(0, length, _FEED):
            file.fp.seek(start + offset)
            yield file.fp.read(min(_FEED, length - offset))


def _png_bands(image: ImageFile.ImageFile, file: _File, plan: _BandPlan) -> Iterator[tuple[Image.Image, int]]:
    """Each band in the mode a whole decode gives (palette, transparency kept), and how many context rows lead it."""
    width, height = image.size
    rawmode = str(image.tile[0][3])
    stand_in = plan.stand_in
    mode, decode_width = (image.mode, width) if stand_in is None else (stand_in, plan.row_bytes // len(stand_in))
    source = _idat(file, plan)
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


def _trailing_info(file: _File, plan: _BandPlan) -> dict[Any, Any]:
    """EXIF and XMP written after the image data, which Pillow would have read at the end of load()."""
    fp = file.fp
    stream = PngImagePlugin.PngStream(fp)
    for kind, start, length in plan.trailing:
        try:
            fp.seek(start)
            stream.call(kind, start, length)
        except Exception:  # broken metadata must not cost us the pixels
            continue
    return dict(stream.im_info)


def _decode_png_bands(image: ImageFile.ImageFile, file: _File, plan: _BandPlan, max_side: int) -> Image.Image:
    width, height = image.size
    factor = plan.factor
    reduced = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    top = 0
    for band, lead in _png_bands(image, file, plan):
        reduced.paste(_to_rgb(band).reduce(factor, (0, lead, width, band.height)), (0, top))
        top += (band.height - lead) // factor
    reduced.info = {**image.info, **_trailing_info(file, plan)}
    try:
        turned = reduced.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        turned = False
    upright = _upright(reduced)
    return upright.resize(_fit((height, width) if turned else (width, height), max_side), Image.Resampling.LANCZOS)


def _jpeg_coefficients(image: ImageFile.ImageFile, width: int, height: int) -> int:
    """Bytes libjpeg keeps for a progressive JPEG's DCT coefficients: all of them, at full size (``width`` x
    ``height``) whatever the draft scale (2 bytes each, each component at its sampling: 3 a pixel for 4:2:0)."""
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    return sum(2 * -(-width * layer[1] // h_max) * -(-height * layer[2] // v_max) for layer in layers)


def _cost(image: ImageFile.ImageFile, file: _File, max_side: int) -> tuple[int, _BandPlan | None]:
    """Bytes decoding will hold, and the band plan when it decodes in bands. Drafts a JPEG (to the smallest
    scale that still gives ``max_side`` on the long side: the picture's aspect, not a square box)."""
    width, height = image.size
    if image.format == "JPEG":
        image.draft("RGB", _fit((width, height), max_side))
    plan = _band_plan(image, file, max_side)
    if plan is not None:
        return PIXEL_BYTES * plan.cost(width, height), plan
    cost = PIXEL_BYTES * image.width * image.height * (1 if image.mode == "RGB" else 2)
    if image.format == "JPEG" and image.info.get("progressive"):
        cost += _jpeg_coefficients(image, width, height)
    return cost, None


def _refusal(width: int, height: int, kind: str, cost: int, budget: MemoryBudget) -> MediaError:
    return MediaError(f"the image is {width}x{height} ({_mp(width * height)} MP), {kind} that cannot be decoded at "
                      f"reduced size, and decoding it would hold {mb(cost)}, more than the {mb(budget.capacity)} "
                      "this plugin holds for media at a time")


def _decode(source: Source | _File, max_side: int, budget: MemoryBudget, *,
            shrink: bool = True) -> tuple[Image.Image, tuple[int, int]]:
    """Upright RGB of at most ``max_side``, decoded as small as the format allows, within the budget, and the
    picture's stored size. ``shrink=False`` keeps what a whole decode gives (JPEG: drafted to ``max_side``)."""
    file = source if isinstance(source, _File) else _File.of(source)
    webp = _webp_size(file.head)
    if webp is not None:  # Pillow allocates a WebP's canvas on open: the budget is taken before
        _check_size(*webp)
        cost = file.size + WEBP_PIXEL_BYTES * webp[0] * webp[1]
        if cost > budget.capacity:
            raise _refusal(*webp, "a WebP file", cost, budget)
        _take(budget, cost, file)
        try:
            image = _open(file)
            rgb = _load(image)
            return (_shrink(rgb, max_side) if shrink else rgb), image.size
        finally:
            budget.release(cost)
    image = _open(file)
    size = image.size
    cost, plan = _cost(image, file, max_side)
    if cost > budget.capacity:
        raise _refusal(*size, _whole_kind(image, file.head), cost, budget)
    if _take(budget, cost, file):  # read it again from where it now is
        image = _open(file)
        cost_again, plan = _cost(image, file, max_side)
        assert cost_again == cost
    try:
        if plan is not None:
            return _decode_png_bands(image, file, plan, max_side), size
        rgb = _load(image)
        return (_shrink(rgb, max_side) if shrink else rgb), size
    finally:
        budget.release(cost)


def _whole_kind(image: ImageFile.ImageFile, head: bytes) -> str:
    if image.format == "PNG":
        return _why_whole(image, head) or "a PNG"
    if image.format == "JPEG":
        return "a progressive JPEG" if image.info.get("progressive") else "a JPEG"
    return f"a {image.format or 'picture'} file"


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def prepare(source: Source, *, max_side: int = DETECT_MAX_SIDE, budget: MemoryBudget | None = None) -> Prepared:
    """Any image file Stash holds → an upright RGB JPEG of bounded size (GIF: first frame).

    ``budget`` defaults to the process-wide ``media.BUDGET``.
    """
    upright, original = _decode(source, max_side, budget or BUDGET)
    return Prepared(image=upright, jpeg=encode_jpeg(upright), original_size=original)


def fit_for_upload(data: bytes, max_bytes: int, *, budget: MemoryBudget | None = None) -> bytes:
    """Guarantee an upload the server accepts: upright, JPEG, under ``max_bytes``.

    Huge PNGs arrive at most twice the detection side (they are decoded reduced); others as decoded.
    """
    file = _File.of(data)
    if len(data) <= max_bytes and _webp_size(file.head) is None:
        image = _open(file)
        if image.format == "JPEG" and image.getexif().get(0x0112, 1) in (0, 1):
            return data  # (only JPEG reads EXIF without decoding: PNG's getexif() would load the pixels)
    rgb, _ = _decode(data, DETECT_MAX_SIDE * 2, budget or BUDGET, shrink=False)
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


def decode_rgb(source: Source, *, max_side: int = 8192, budget: MemoryBudget | None = None) -> Image.Image:
    """A whole picture (a sprite sheet) as upright RGB, shrunk only when absurdly large."""
    return _decode(source, max_side, budget or BUDGET)[0]


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
