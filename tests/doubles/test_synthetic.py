"""The synthetic face world: what tests draw must be what the engine sees, through every transformation an
image meets on its way to CompreFace, and nothing else must ever look like a face."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from testdoubles.synthetic import (
    PERSONS,
    SyntheticEngine,
    SyntheticFace,
    UndecodableImage,
    cosine,
    draw_image,
    encode,
    noise_image,
    person_embedding,
    render,
)

ENGINE = SyntheticEngine()

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


def laplacian_variance(image: Image.Image) -> float:
    """The sharpness measure the quality gate uses: variance of the Laplacian, min side scaled to <= 128."""
    scale = min(1.0, 128 / min(image.size))
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


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


@pytest.mark.parametrize("person", [0, 1, 2, 3, 4, 1365, 2730, 3000, 4094, 4095])
def test_every_cell_colour_decodes(person: int) -> None:
    face = SyntheticFace(person, 40, 30, 90)
    (seen,) = ENGINE.detect(draw_image(200, 160, [face], quality=75))
    assert seen.person == person
    assert seen.box == face.box


def test_probability_round_trip_within_two_hundredths() -> None:
    wanted = [0.0, 0.3, 0.5, 0.8, 0.85, 0.86, 0.9, 0.99, 1.0]
    faces = [
        SyntheticFace(100 + i, 20 + 140 * (i % 5), 20 + 180 * (i // 5), 120, probability=p)
        for i, p in enumerate(wanted)
    ]
    seen = by_person(draw_image(720, 400, faces))
    for face in faces:
        assert seen[face.person].probability == pytest.approx(face.probability, abs=0.02)


@pytest.mark.parametrize("yaw", [0, -20, 30, 45, 60, 70])
def test_yaw_from_aspect_ratio(yaw: float) -> None:
    face = SyntheticFace(42, 50, 40, 200, yaw=yaw)
    (seen,) = ENGINE.detect(draw_image(400, 300, [face], quality=75))
    assert seen.yaw == pytest.approx(abs(yaw), abs=6 if yaw == 0 else 2)
    assert seen.box == pytest.approx(face.box, abs=1)


def test_blur_keeps_identity_and_kills_sharpness() -> None:
    sharp = SyntheticFace(321, 60, 60, 240, probability=0.95)
    blurred = SyntheticFace(321, 60, 60, 240, probability=0.95, blur=0.08)
    sharpness = {}
    for face in (sharp, blurred):
        data = draw_image(400, 400, [face])
        (seen,) = ENGINE.detect(data)
        assert seen.person == 321
        assert seen.probability == pytest.approx(0.95, abs=0.05)  # blur costs precision, never the face
        assert_box(seen.box, face.box, 0.04 * face.size)
        sharpness[face.blur] = laplacian_variance(Image.open(io.BytesIO(data)).crop(seen.box))
    assert sharpness[0.0] > 250 > 50 > sharpness[0.08]


def test_sharpness_falls_monotonically_with_blur() -> None:
    values = []
    for blur in (0.0, 0.01, 0.03, 0.06):
        face = SyntheticFace(9, 20, 20, 160, blur=blur)
        image = render(200, 200, [face])
        values.append(laplacian_variance(image.crop(face.box)))
    assert values == sorted(values, reverse=True)


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


def test_16_px_faces_after_4x_downscale() -> None:
    faces = [SyntheticFace(p, 20 + 110 * p, 40, 64 + 8 * p) for p in range(5)]
    small = render(640, 160, faces).resize((160, 40), Image.Resampling.BILINEAR)
    assert set(by_person(encode(small, quality=75))) == set(range(5))


@pytest.mark.parametrize("padding", [0.0, 0.25, 1.0])
def test_crops_with_and_without_padding(padding: float) -> None:
    face = SyntheticFace(2024, 300, 150, 180, probability=0.91)
    image = render(800, 600, [face, SyntheticFace(5, 40, 40, 100)])
    pad = round(face.size * padding)
    left, top = face.x - pad, face.y - pad
    crop = image.crop((left, top, face.box[2] + pad, face.box[3] + pad))
    (seen,) = ENGINE.detect(encode(crop, quality=75))
    assert seen.person == 2024
    assert_box(seen.box, (pad, pad, pad + face.width, pad + face.size), 1)
    assert seen.probability == pytest.approx(0.91, abs=0.02)


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


def test_nothing_else_is_a_face() -> None:
    for seed in range(12):
        for block in (1, 3, 8, 21):
            assert ENGINE.detect(noise_image(240, 180, seed=seed, block=block)) == []
    assert ENGINE.detect(noise_image(1920, 1080, seed=1, block=6)) == []
    for seed in range(4):
        assert ENGINE.detect(draw_image(800, 600, [], seed=seed)) == []
    for colour in [(225, 35, 225), (0, 0, 0), (255, 255, 255), (128, 128, 128)]:
        assert ENGINE.detect(draw_image(64, 64, [], background=colour, fmt="PNG")) == []


def test_faces_on_hard_backgrounds() -> None:
    faces = [SyntheticFace(500, 30, 30, 110), SyntheticFace(501, 200, 60, 90, blur=0.06)]
    for background in ["noise", (0, 0, 0), (255, 255, 255), (128, 128, 128), (60, 110, 70)]:
        assert set(by_person(draw_image(360, 240, faces, background=background))) == {500, 501}, background


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        draw_image(320, 240, [SyntheticFace(1, 10, 10, 100)])[:1500],  # truncated JPEG
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(4000),  # an MP4 header
        b"\x89PNG\r\n\x1a\n" + bytes(100),
    ],
    ids=["empty", "text", "truncated-jpeg", "mp4", "broken-png"],
)
def test_undecodable_bytes(data: bytes) -> None:
    with pytest.raises(UndecodableImage):
        ENGINE.detect(data)


def test_embeddings_same_person_close_others_far() -> None:
    first = draw_image(640, 480, [SyntheticFace(8, 50, 50, 180), SyntheticFace(9, 350, 100, 140)], seed=1)
    second = draw_image(800, 600, [SyntheticFace(8, 400, 250, 120, blur=0.05, yaw=20)], seed=2, fmt="PNG")
    a, b = by_person(first), by_person(second)
    same = cosine(a[8].embedding, b[8].embedding)
    assert 0.9 <= same < 1.0
    assert cosine(a[8].embedding, a[9].embedding) <= 0.35
    assert cosine(a[8].embedding, person_embedding(8)) >= 0.95


def test_identity_vectors_are_nearly_orthogonal() -> None:
    matrix = np.array([person_embedding(p) for p in range(PERSONS)])
    gram = matrix @ matrix.T
    np.fill_diagonal(gram, 0.0)
    assert np.abs(gram).max() <= 0.135  # Gold codes: cross-correlation 17/127 at worst


def test_embeddings_deterministic_per_pixels_not_per_person() -> None:
    image = render(400, 300, [SyntheticFace(31, 100, 60, 150)])
    data = encode(image)
    assert ENGINE.detect(data)[0].embedding == ENGINE.detect(data)[0].embedding
    crops = [encode(image.crop((100 - pad, 60 - pad, 250 + pad, 210 + pad))) for pad in (10, 20)]
    one, two = (ENGINE.detect(c)[0].embedding for c in crops)
    assert one != two
    assert cosine(one, two) >= 0.9


def test_face_parameters_are_validated() -> None:
    for bad in (
        {"person": 4096},
        {"person": -1},
        {"size": 3},
        {"probability": 1.5},
        {"yaw": 90},
        {"blur": -0.1},
    ):
        with pytest.raises(ValueError):
            SyntheticFace(**{"person": 1, "x": 0, "y": 0, "size": 50, **bad})
    with pytest.raises(ValueError):
        draw_image(100, 100, [], fmt="GIF", exif_orientation=6)
