"""Degraded copies of a photo, made by a seeded script: what a real library holds besides clean portraits.

The quality benchmark (benchmarks/bench_quality.py) and the real-photo tests (tests/engine/) build a
labelled library from clean photos plus these copies: blur, motion blur, heavy JPEG, dark, bright, tiny,
tight crop, occluded eyes, grey, sprite-sized. The same ``seed`` gives the same bytes, so a benchmark's
figures and a test's outcome never depend on chance. Plain PIL, no I/O.

For the synthetic world, :class:`DegradedLooks` is an engine (for the CompreFace double) in which a person's
degraded copies look like each other more than like the person: a face drawn with a *look* identity
(``look_of(person)``) is reported as that person, with an embedding whose similarity to the person's clean
faces is just under the default ``minSimilarity`` (one face against one example: no match) and to the other
degraded copies near 1. It is what real engines do with blurred or dark copies, made exact for tests.
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from .synthetic import PERSONS, DetectedFace, SyntheticEngine, person_embedding

__all__ = ["DEGRADATIONS", "LOOK_COSINE", "DegradedLooks", "degrade", "degraded_copies", "look_of"]

LOOKS_FROM = PERSONS // 2  # identities from here on are degraded looks of person ``id - LOOKS_FROM``
# Cosine of a look to its person's identity: CompreFace similarity ~0.77 against a clean example (the double's
# FaceNet scale; 0.81, the default minSimilarity, is cosine 0.454).
LOOK_COSINE = 0.44


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _blur(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(max(image.size) * rng.uniform(0.006, 0.009)))


def _motion(image: Image.Image, rng: random.Random) -> Image.Image:
    length = max(3, round(max(image.size) * rng.uniform(0.012, 0.018)))
    shifted = [image.transform(image.size, Image.Transform.AFFINE, (1, 0, dx - length / 2, 0, 1, 0))
               for dx in range(length)]
    out = shifted[0]
    for n, layer in enumerate(shifted[1:], start=2):
        out = Image.blend(out, layer, 1 / n)
    return out


def _dark(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.25, 0.35))


def _bright(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(rng.uniform(1.7, 2.0))


def _tiny(image: Image.Image, rng: random.Random) -> Image.Image:
    factor = rng.uniform(0.22, 0.3)
    return image.resize((max(8, round(image.width * factor)), max(8, round(image.height * factor))),
                        Image.Resampling.BILINEAR)


def _sprite(image: Image.Image, rng: random.Random) -> Image.Image:
    """A sprite-sheet cell: the whole picture 160 px wide, as Stash's scrubber sprites are."""
    width = rng.choice((150, 160, 170))
    return image.resize((width, max(8, round(image.height * width / image.width))), Image.Resampling.BILINEAR)


def _crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """A tighter frame: the middle ~70 % of the picture, a little off centre."""
    keep = rng.uniform(0.65, 0.75)
    w, h = round(image.width * keep), round(image.height * keep)
    x = round((image.width - w) * rng.uniform(0.3, 0.7))
    y = round((image.height - h) * rng.uniform(0.2, 0.5))
    return image.crop((x, y, x + w, y + h))


def _occluded(image: Image.Image, rng: random.Random) -> Image.Image:
    """A dark band across the upper middle, where the eyes of a portrait are (sunglasses, a censor bar)."""
    out = image.copy()
    top = round(image.height * rng.uniform(0.30, 0.36))
    ImageDraw.Draw(out).rectangle((round(image.width * 0.2), top, round(image.width * 0.8),
                                   top + round(image.height * 0.07)), fill=(20, 20, 20))
    return out


def _grey(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


# name -> (picture transform, JPEG quality of the copy)
DEGRADATIONS: dict[str, tuple[Callable[[Image.Image, random.Random], Image.Image], int]] = {
    "blur": (_blur, 90),
    "motion": (_motion, 90),
    "jpeg": (lambda image, rng: image, 8),
    "dark": (_dark, 85),
    "bright": (_bright, 85),
    "tiny": (_tiny, 85),
    "crop": (_crop, 90),
    "occluded": (_occluded, 90),
    "grey": (_grey, 90),
    "sprite": (_sprite, 75),
}


def degrade(photo: bytes, kind: str, *, seed: int) -> bytes:
    """One degraded copy of ``photo`` (a JPEG), the same bytes for the same ``seed``."""
    transform, quality = DEGRADATIONS[kind]
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(photo))).convert("RGB")
    return _jpeg(transform(image, random.Random(f"{seed}:{kind}")), quality)


def degraded_copies(photo: bytes, *, seed: int, kinds: tuple[str, ...] = tuple(DEGRADATIONS)) -> dict[str, bytes]:
    """Every kind of copy of one photo, by kind."""
    return {kind: degrade(photo, kind, seed=seed) for kind in kinds}


def look_of(person: int) -> int:
    """The identity to draw for a degraded copy of ``person`` in a :class:`DegradedLooks` world."""
    assert 0 <= person < LOOKS_FROM
    return person + LOOKS_FROM


class DegradedLooks:
    """The synthetic engine, with looks (module docstring): pass it as the CompreFace double's engine."""

    def __init__(self, inner: SyntheticEngine | None = None) -> None:
        self.inner = inner or SyntheticEngine()

    def detect(self, data: bytes) -> list[DetectedFace]:
        return [self._seen(face) for face in self.inner.detect(data)]

    @staticmethod
    def _seen(face: DetectedFace) -> DetectedFace:
        if face.person < LOOKS_FROM:
            return face
        person = face.person - LOOKS_FROM
        own = np.asarray(person_embedding(person))
        look = np.asarray(face.embedding, dtype=np.float64)  # the look identity plus this copy's small noise
        look -= (look @ own) * own
        look /= np.linalg.norm(look)
        vector = LOOK_COSINE * own + np.sqrt(1 - LOOK_COSINE**2) * look
        return dataclasses.replace(face, person=person, embedding=tuple(float(v) for v in vector))
