"""Pillow work in one place: sniff, decode, EXIF-orient, downscale, crop, measure sharpness.

Bytes come in, bytes (or a decoded RGB image) go out, and every failure is a ``MediaError`` that says in
plain words what is wrong with the file, because users read these in Stash's log.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from .errors import MediaError
from .faces.models import Box

# Pillow refuses files above ~179 MP by default; we decide ourselves, with a clearer message.
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = None
DETECT_MAX_SIDE = 1920
JPEG_QUALITY = 90

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


def _open(data: bytes) -> Image.Image:
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


def _load(image: Image.Image, max_side: int) -> Image.Image:
    """Decode, at reduced size when the codec can (JPEG draft), then make it upright RGB."""
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))
    try:
        image.seek(0)
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        text = str(exc)
        reason = "the image is truncated" if "truncated" in text else f"the image is corrupt ({text})"
        raise MediaError(reason) from None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost us the pixels
        upright = image
    return _to_rgb(upright if upright is not None else image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    factor = max_side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def encode_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()


def prepare(data: bytes, *, max_side: int = DETECT_MAX_SIDE) -> Prepared:
    """Any image file Stash holds → an upright RGB JPEG of bounded size (GIF: first frame)."""
    image = _open(data)
    original = image.size
    upright = _shrink(_load(image, max_side), max_side)
    return Prepared(image=upright, jpeg=encode_jpeg(upright), original_size=original)


def fit_for_upload(data: bytes, max_bytes: int) -> bytes:
    """Guarantee an upload the server accepts: upright, JPEG, under ``max_bytes``."""
    image = _open(data)
    orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
    if len(data) <= max_bytes and image.format == "JPEG" and orientation in (0, 1):
        return data
    rgb = _load(image, DETECT_MAX_SIDE * 2)
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


_LAPLACIAN = ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128)


def sharpness(image: Image.Image, box: Box) -> float:
    """Laplacian standard deviation of the face, resized to a fixed 96 px so faces of any size compare.

    A sharp face scores well above 10, a visibly blurred one below 5.
    """
    face = image.crop((box.x_min, box.y_min, box.x_max, box.y_max)).convert("L")
    if face.width < 4 or face.height < 4:
        return 0.0
    scale = 96 / max(face.height, 1)
    face = face.resize((max(4, round(face.width * scale)), 96), Image.Resampling.BILINEAR)
    edges = face.filter(_LAPLACIAN)
    return float(ImageStat.Stat(edges).stddev[0])


def decode_rgb(data: bytes, *, max_side: int = 8192) -> Image.Image:
    """A whole picture (a sprite sheet) as upright RGB, shrunk only when absurdly large."""
    return _shrink(_load(_open(data), max_side), max_side)


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
