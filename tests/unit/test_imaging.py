from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from stash_compreface import imaging
from stash_compreface.errors import MediaError
from stash_compreface.faces.models import Box


def encoded(image: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
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
    noisy = Image.effect_noise((3000, 2000), 100).convert("RGB")
    data = encoded(noisy, "PNG")
    assert len(data) > 1_000_000
    fitted = imaging.fit_for_upload(data, 500_000)
    assert len(fitted) <= 500_000 and fitted[:2] == b"\xff\xd8"
    small = encoded(marked())
    assert imaging.fit_for_upload(small, 5_000_000) is small


def test_crop_and_sharpness() -> None:
    sharp = Image.effect_noise((200, 200), 90).convert("RGB")
    blurry = sharp.filter(ImageFilter.GaussianBlur(6))
    box = Box(50, 50, 150, 150)
    assert imaging.sharpness(sharp, box) > 3 * imaging.sharpness(blurry, box)
    crop = imaging.crop(sharp, box, pad=0.15)
    assert crop.size == (130, 130)
    with pytest.raises(MediaError):
        imaging.crop(sharp, Box(300, 300, 400, 400))


def test_decompression_bombs_are_refused_before_decoding() -> None:
    bomb = encoded(Image.new("1", (20000, 20000)), "PNG")  # 400 MP in a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(MediaError, match="400 MP"):
        imaging.prepare(bomb)
