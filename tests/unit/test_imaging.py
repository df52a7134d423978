from __future__ import annotations

import io
import threading
import time
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from stash_compreface import imaging
from stash_compreface.errors import MediaError
from stash_compreface.faces.models import Box
from stash_compreface.media import MEMORY_BUDGET_BYTES

PX = imaging.PIXEL_BYTES  # the budget is in bytes; Pillow holds 4 a pixel


def encoded(image: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    if fmt == "PNG":
        kw.setdefault("compress_level", 1)  # the same pixels and chunks, for a fraction of the CPU
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def marked(width: int = 400, height: int = 300) -> Image.Image:
    """White image with a red block in the top-left corner, to see where orientation put it."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 60, 40))
    return image


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "MP4/MOV video"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "Matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "AVI"),
        (b"hello, not an image at all", "not an image"),
    ],
)
def test_unusable_files_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        imaging.prepare(data)


def test_truncated_jpeg_is_a_media_error() -> None:
    data = encoded(Image.effect_noise((800, 600), 64).convert("RGB"), quality=95)
    with pytest.raises(MediaError, match=r"truncated|corrupt"):
        imaging.prepare(data[: len(data) // 2])


def test_exif_orientation_is_applied() -> None:
    upright = marked()
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes with orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    prepared = imaging.prepare(encoded(stored, exif=exif.tobytes()))
    assert prepared.image.size == (400, 300)
    assert prepared.image.getpixel((10, 10))[1] < 80  # red corner is top-left again


def test_cmyk_palette_alpha_and_gif_become_rgb() -> None:
    for data in (encoded(marked().convert("CMYK")), encoded(marked().convert("P"), "GIF"),
                 encoded(marked().convert("RGBA"), "PNG"), encoded(marked().convert("L"), "PNG")):
        prepared = imaging.prepare(data)
        assert prepared.image.mode == "RGB"
        assert prepared.jpeg[:2] == b"\xff\xd8"


def test_large_images_are_downscaled_and_decoded_reduced() -> None:
    big = Image.new("RGB", (9000, 6700), (10, 20, 30))
    prepared = imaging.prepare(encoded(big, quality=70))
    assert max(prepared.image.size) == imaging.DETECT_MAX_SIDE
    assert prepared.original_size == (9000, 6700)


def test_upload_fits_under_the_server_limit() -> None:
    noisy = Image.effect_noise((1200, 800), 100).convert("RGB")  # noise: a PNG that no encoder shrinks much
    data = encoded(noisy, "PNG")
    assert len(data) > 1_000_000
    fitted = imaging.fit_for_upload(data, 150_000)
    assert len(fitted) <= 150_000 and fitted[:2] == b"\xff\xd8"
    small = encoded(marked())
    assert imaging.fit_for_upload(small, 5_000_000) is small


def test_crop() -> None:
    sharp = Image.effect_noise((200, 200), 90).convert("RGB")
    box = Box(50, 50, 150, 150)
    crop = imaging.crop(sharp, box, pad=0.15)
    assert crop.size == (130, 130)
    with pytest.raises(MediaError):
        imaging.crop(sharp, Box(300, 300, 400, 400))


def test_decompression_bombs_are_refused_before_decoding() -> None:
    bomb = encoded(Image.new("1", (20000, 20000)), "PNG", compress_level=9)  # 400 MP in a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(MediaError, match="400 MP"):
        imaging.prepare(bomb)


# -- bounded memory: PNG in bands, the pixel budget ----------------------------------------------------------------

ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def busy(width: int = 1200, height: int = 907) -> Image.Image:
    """Gradients, noise and shapes: rows PNG stores with every filter type, and a red mark top-left."""
    ramp = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 50)
    image = Image.merge("RGB", [ImageChops.add(ramp, noise), ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                ramp.rotate(90).resize((width, height))])
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 3, height // 3, width // 2, height // 2), fill=(20, 200, 40))
    image.paste((255, 0, 0), (0, 0, width // 5, height // 5))
    return image


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def png_from(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(len(p).to_bytes(4, "big") + k + p + zlib.crc32(k + p).to_bytes(4, "big") for k, p in parts)
    return b"\x89PNG\r\n\x1a\n" + body


def rechunked(data: bytes, size: int, *, exif_last: bool = False) -> bytes:
    """The same PNG with its image data split into ``size``-byte IDAT chunks (and eXIf moved after it)."""
    parts = chunks(data)
    idat = b"".join(p for k, p in parts if k == b"IDAT")
    head = [(k, p) for k, p in parts if k not in (b"IDAT", b"IEND") and not (exif_last and k == b"eXIf")]
    tail = [(k, p) for k, p in parts if exif_last and k == b"eXIf"]
    pieces = [(b"IDAT", idat[i:i + size]) for i in range(0, len(idat), size)]
    return png_from([*head, *pieces, *tail, (b"IEND", b"")])


def interlaced_png(image: Image.Image) -> bytes:
    """Adam7 RGB PNG (Pillow reads these but cannot write them)."""
    width, height = image.size
    pixels = image.convert("RGB").tobytes()
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        if x0 >= width:
            continue
        for y in range(y0, height, dy):
            row = pixels[y * width * 3:(y + 1) * width * 3]
            raw.append(0)
            for x in range(x0, width, dx):
                raw += row[x * 3:x * 3 + 3]
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 1])
    return png_from([(b"IHDR", header), (b"IDAT", zlib.compress(bytes(raw))), (b"IEND", b"")])


def whole_decode(data: bytes, max_side: int, factor: int | None = None) -> Image.Image:
    """What a full-size decode gives: today's path, or the same with the band path's integer reduction."""
    image = Image.open(io.BytesIO(data))
    image.load()
    rgb = imaging._to_rgb(imaging._upright(image))
    if factor is None:
        return imaging._shrink(rgb, max_side)
    return rgb.reduce(factor).resize(imaging._fit(rgb.size, max_side), Image.Resampling.LANCZOS)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


@pytest.fixture
def small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Band decoding for small test pictures: any PNG twice the wanted side, bands of 12 rows at 1200 px."""
    monkeypatch.setattr(imaging, "BAND_MIN_PIXELS", 0)
    monkeypatch.setattr(imaging, "BAND_PIXELS", 1200 * 12)


PNG_KINDS = {
    "RGB": lambda im: encoded(im, "PNG"),
    "RGBA": lambda im: encoded(_with_alpha(im), "PNG"),
    "L": lambda im: encoded(im.convert("L"), "PNG"),
    "LA": lambda im: encoded(_with_alpha(im).convert("LA"), "PNG"),
    "P": lambda im: encoded(im.quantize(200), "PNG"),
    "P+transparency": lambda im: encoded(im.quantize(16), "PNG", transparency=2),
    "P 4-bit": lambda im: encoded(im.quantize(16), "PNG", bits=4),
    "1-bit": lambda im: encoded(im.convert("1"), "PNG"),
    "16-bit grey": lambda im: encoded(im.convert("I").point(lambda v: v * 250).convert("I;16"), "PNG"),
}


def _with_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").rotate(90).resize(image.size))
    return rgba


@pytest.mark.parametrize("kind", list(PNG_KINDS))
def test_png_bands_give_the_picture_a_whole_decode_gives(kind: str, small_bands: None) -> None:
    data = rechunked(PNG_KINDS[kind](busy()), 700)  # many IDAT chunks, rows split across them
    budget = imaging.MemoryBudget(600_000 * PX)  # well under the 1.09 MP picture: only bands fit
    prepared = imaging.prepare(data, max_side=200, budget=budget)
    assert prepared.original_size == (1200, 907)
    assert prepared.image.size == (200, 151) and prepared.image.mode == "RGB"
    assert 0 < budget.peak < 1200 * 907 * PX and budget.in_use == 0
    # exactly what decoding whole and reducing by the same factor gives...
    assert ImageChops.difference(prepared.image, whole_decode(data, 200, factor=6)).getbbox() is None
    # ...and close to today's full-size decode (a dithered 1-bit picture differs most: box vs Lanczos filter)
    assert mean_difference(prepared.image, whole_decode(data, 200)) < (6 if kind == "1-bit" else 2)


@pytest.mark.parametrize("exif_last", [False, True])
def test_png_bands_keep_the_exif_orientation(exif_last: bool, small_bands: None) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = busy().transpose(Image.Transpose.ROTATE_90)  # 907 x 1200 as stored, 1200 x 907 upright
    data = rechunked(encoded(stored, "PNG", exif=exif.tobytes()), 1 << 16, exif_last=exif_last)
    assert any(k == b"eXIf" for k, _ in chunks(data)[-3:]) is exif_last
    prepared = imaging.prepare(data, max_side=200, budget=imaging.MemoryBudget(600_000 * PX))
    assert prepared.image.size == (200, 151)
    red, green, blue = prepared.image.getpixel((10, 10))
    assert red > 200 and green < 60 and blue < 60  # the red mark is top-left again
    assert mean_difference(prepared.image, whole_decode(data, 200)) < 3


def test_interlaced_png_is_decoded_whole_within_the_budget(small_bands: None) -> None:
    data = interlaced_png(busy(600, 450))
    budget = imaging.MemoryBudget(600 * 450 * PX)
    prepared = imaging.prepare(data, max_side=200, budget=budget)
    assert budget.peak == 600 * 450 * PX  # charged whole, not as bands
    assert ImageChops.difference(prepared.image, whole_decode(data, 200)).getbbox() is None
    with pytest.raises(MediaError, match=r"600x450 \(0.27 MP\), an interlaced PNG that cannot be decoded at reduced "
                                         r"size, and decoding it would hold 1 MB, more than the 0.76 MB"):
        imaging.prepare(data, max_side=200, budget=imaging.MemoryBudget(200_000 * PX))


def test_broken_band_png_is_a_media_error(small_bands: None) -> None:
    data = rechunked(encoded(busy(), "PNG"), 4096)
    with pytest.raises(MediaError, match="truncated"):
        imaging.prepare(data[: len(data) // 2], max_side=200)
    spoiled = bytearray(data)
    idat = data.index(b"IDAT") + 4
    spoiled[idat + 2:idat + 400] = bytes(398)  # garbage inside the zlib stream
    with pytest.raises(MediaError, match="corrupt"):
        imaging.prepare(bytes(spoiled), max_side=200)


def test_an_absurd_image_is_refused_before_decoding() -> None:
    """A 9000x10000 BMP header: 90 MP that no format trick can shrink, above the default budget. No pixels follow,
    so decoding would fail differently: the size is refused first."""
    bmp = (b"BM" + (54).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little") + (40).to_bytes(4, "little")
           + (9000).to_bytes(4, "little") + (10000).to_bytes(4, "little") + (1).to_bytes(2, "little")
           + (24).to_bytes(2, "little") + bytes(24))
    with pytest.raises(MediaError, match=r"9000x10000 \(90 MP\), a BMP file that cannot be decoded at reduced size"):
        imaging.prepare(bmp)
    with pytest.raises(MediaError, match="9000x10000"):
        imaging.decode_rgb(bmp)


def _traced_loads(monkeypatch: pytest.MonkeyPatch, release_when: Callable[[], bool]) -> list[str]:
    """Record when each thread's whole decode starts and ends; the first one waits for ``release_when()``."""
    log: list[str] = []
    real_load = imaging._load
    first = threading.Event()

    def load(image: Image.Image) -> Image.Image:
        name = threading.current_thread().name
        log.append(f"start {name}")
        if not first.is_set():
            first.set()
            deadline = time.monotonic() + 20  # a guard against a hang, not a timing assertion
            while not release_when() and time.monotonic() < deadline:
                time.sleep(0.005)
        result = real_load(image)
        log.append(f"end {name}")
        return result

    monkeypatch.setattr(imaging, "_load", load)
    return log


def _prepare_in_two_threads(data: bytes, budget: imaging.MemoryBudget) -> None:
    threads = [threading.Thread(target=imaging.prepare, args=(data,), kwargs={"budget": budget}, name=name)
               for name in ("A", "B")]
    threads[0].start()
    while budget.in_use == 0 and threads[0].is_alive():
        time.sleep(0.001)
    threads[1].start()
    for thread in threads:
        thread.join(30)


def test_a_progressive_jpeg_is_charged_for_its_full_size_coefficients() -> None:
    """libjpeg holds a progressive JPEG's coefficients at full size however small the draft: charged, not hidden."""
    picture = busy(2400, 1800)
    plain, progressive = imaging.MemoryBudget(10_000_000 * PX), imaging.MemoryBudget(10_000_000 * PX)
    imaging.prepare(encoded(picture, quality=80), max_side=600, budget=plain)
    imaging.prepare(encoded(picture, quality=80, progressive=True), max_side=600, budget=progressive)
    assert plain.peak == 600 * 450 * PX  # drafted to a quarter: 600 on the long side
    assert progressive.peak == 600 * 450 * PX + 2400 * 1800 * 3  # 2 bytes a coefficient, 4:2:0
    with pytest.raises(MediaError, match=r"2400x1800 \(4.32 MP\), a progressive JPEG"):
        imaging.prepare(encoded(picture, progressive=True), max_side=600, budget=imaging.MemoryBudget(3_000_000 * PX))


def test_the_budget_makes_huge_decodes_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(busy(600, 500), "BMP")  # 0.3 MP each, a budget for one at a time
    budget = imaging.MemoryBudget(450_000 * PX)
    log = _traced_loads(monkeypatch, lambda: budget.waiting == 1)  # B queued behind A
    _prepare_in_two_threads(data, budget)
    assert log == ["start A", "end A", "start B", "end B"]
    assert budget.waits == 1 and budget.peak == 300_000 * PX and budget.in_use == 0


def test_ordinary_images_do_not_wait_on_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encoded(busy(600, 500), "BMP")
    budget = imaging.MemoryBudget(MEMORY_BUDGET_BYTES)
    log: list[str] = []
    log = _traced_loads(monkeypatch, lambda: "start B" in log)  # B decodes while A is decoding
    _prepare_in_two_threads(data, budget)
    assert log[:2] == ["start A", "start B"] and sorted(log[2:]) == ["end A", "end B"]
    assert budget.waits == 0 and budget.peak == 600_000 * PX


def test_the_budget_serves_in_arrival_order() -> None:
    """A big request first in line is not overtaken by small ones that would fit: it would starve."""
    budget = imaging.MemoryBudget(10)
    budget.acquire(6)
    order: list[str] = []

    def take(name: str, pixels: int) -> None:
        budget.acquire(pixels)
        order.append(name)

    big = threading.Thread(target=take, args=("big", 8))
    big.start()
    while budget.waiting < 1:
        time.sleep(0.001)
    small = threading.Thread(target=take, args=("small", 2))
    small.start()
    while budget.waiting < 2:
        time.sleep(0.001)
    assert order == [] and budget.in_use == 6  # 6 + 2 would fit, but "big" came first
    budget.release(6)
    big.join(10)
    small.join(10)
    assert order == ["big", "small"] and budget.in_use == 10 and budget.waits == 2
    with pytest.raises(MediaError, match="11 MB at once, above the 10 MB"):
        imaging.MemoryBudget(10 * 2**20).acquire(11 * 2**20)
