"""The synthetic engine as CompreFace's core, seen from a client: boxes in the pixels of the bytes sent, the
detection probability, largest face first, unit 128-d embeddings that follow the pixels, every format the
plugin sends, and no EXIF rotation. Its own mechanics (colour cells, notch, Gold codes) are exercised by every
task test that draws a face."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter, ImageOps

from testdoubles.synthetic import (
    SyntheticEngine,
    SyntheticFace,
    cosine,
    draw_image,
    encode,
    render,
)

ENGINE = SyntheticEngine(cache=False)  # the engine itself, not its memo of bytes already seen

SCENE = [
    SyntheticFace(1234, 100, 100, 200),
    SyntheticFace(7, 600, 300, 120, probability=0.9),
    SyntheticFace(4095, 1200, 200, 300, yaw=30, probability=0.5),
    SyntheticFace(0, 1500, 600, 100, blur=0.05),
    SyntheticFace(2000, 400, 700, 90, yaw=45, probability=0.86),
]


def by_person(data: bytes) -> dict[int, object]:
    return {face.person: face for face in ENGINE.detect(data)}


def assert_box(actual: tuple[int, int, int, int], expected: tuple[float, ...], tolerance: float) -> None:
    assert max(abs(a - e) for a, e in zip(actual, expected, strict=True)) <= tolerance, (actual, expected)


def test_scene_round_trip_identity_box_probability_yaw() -> None:
    faces = ENGINE.detect(draw_image(1920, 1080, SCENE))
    assert [f.person for f in faces] == [4095, 1234, 7, 0, 2000]  # largest box first, as CompreFace
    seen = {f.person: f for f in faces}
    for drawn in SCENE:
        face = seen[drawn.person]
        assert_box(face.box, drawn.box, 2 + 0.02 * drawn.size)
        assert face.probability == pytest.approx(drawn.probability, abs=0.02)
        assert face.yaw == pytest.approx(abs(drawn.yaw), abs=4)
        assert face.gender == ("female" if drawn.person % 2 else "male")
        assert face.age_low < face.age_high
        assert len(face.embedding) == 128
        assert sum(v * v for v in face.embedding) == pytest.approx(1.0)


def _variants(image: Image.Image) -> dict[str, tuple[bytes, float]]:
    """Encoded variants of ``image`` and the factor their coordinates are scaled by."""
    small = image.resize((image.width // 4, image.height // 4), Image.Resampling.LANCZOS)
    return {
        "jpeg-q75": (encode(image, quality=75), 1.0),
        "png": (encode(image, fmt="PNG"), 1.0),
        "webp": (encode(image, fmt="WEBP", quality=80), 1.0),
        "gif": (encode(image, fmt="GIF"), 1.0),
        "cmyk-jpeg": (encode(image, mode="CMYK"), 1.0),
        "downscaled-4x": (encode(small, quality=75), 0.25),
        "gaussian-blur": (encode(image.filter(ImageFilter.GaussianBlur(2))), 1.0),
    }


def test_faces_survive_formats_downscaling_and_blur() -> None:
    faces = [SyntheticFace(77, 40, 60, 96), SyntheticFace(3333, 260, 40, 200, yaw=25, probability=0.93)]
    for name, (data, scale) in _variants(render(640, 360, faces)).items():
        seen = by_person(data)
        assert set(seen) == {77, 3333}, name
        for face in faces:
            assert_box(seen[face.person].box, [c * scale for c in face.box], 1.5 + 0.03 * face.size * scale)
            assert seen[face.person].probability == pytest.approx(face.probability, abs=0.03 if scale == 1 else 0.05)


def test_exif_orientation_is_not_applied_by_the_engine() -> None:
    faces = [SyntheticFace(11, 80, 60, 150), SyntheticFace(12, 380, 100, 110, yaw=20)]
    for orientation in range(1, 9):
        data = draw_image(640, 400, faces, exif_orientation=orientation)
        stored = Image.open(io.BytesIO(data))
        assert stored.getexif().get(0x0112) == orientation
        shown = ImageOps.exif_transpose(stored)
        assert shown.size == (640, 400)
        viewer = by_person(encode(shown, fmt="PNG"))
        assert {p: f.box for p, f in viewer.items()} == {f.person: f.box for f in faces}
        raw = by_person(data)
        if orientation == 1:
            assert set(raw) == {11, 12}
        elif orientation == 2:  # a mirror image is the same person, found at mirrored coordinates
            assert {p: f.box for p, f in raw.items()} == {
                f.person: (640 - f.box[2], f.box[1], 640 - f.box[0], f.box[3]) for f in faces
            }
            assert all(f.mirrored for f in raw.values())
        else:  # stored sideways or upside down: CompreFace's MTCNN misses such faces too
            assert raw == {}, orientation


def test_embeddings_deterministic_per_pixels_not_per_person() -> None:
    image = render(400, 300, [SyntheticFace(31, 100, 60, 150)])
    data = encode(image)
    assert ENGINE.detect(data)[0].embedding == ENGINE.detect(data)[0].embedding
    crops = [encode(image.crop((100 - pad, 60 - pad, 250 + pad, 210 + pad))) for pad in (10, 20)]
    one, two = (ENGINE.detect(c)[0].embedding for c in crops)
    assert one != two
    assert cosine(one, two) >= 0.9


