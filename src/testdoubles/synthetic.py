"""A deterministic synthetic "face world": faces we can draw, and an engine that sees exactly them.

Why: real detectors need model weights that tests cannot ship, yet the plugin's logic (quality gates, matching,
grouping, EXIF handling, crops) needs faces whose identity, detection probability, blur and pose are known.
A synthetic face is a coloured marker built to survive what an image goes through on its way to CompreFace:
JPEG q75, 4x downscaling, crops with or without padding, Gaussian blur, CMYK, PNG/WEBP/GIF.

Anatomy of one face (``u`` runs across its width, ``v`` down its height, both 0..1)::

    +---+------------------------+      frame: magenta band, 0.14 thick; it is what the engine looks for
    | d |   magenta frame        |      d: top-left corner painted dark (tells upright from mirrored)
    +---+------------------------+
    |   |  grey guard (0.03)  |  |
    |   |  +------+------+   |  |      6 cells in 3 rows x 2 columns, colours from
    |   |  |  c0  |  c1  |   |  |      {red, green, blue, white}: 4**6 = 4096 identities,
    |   |  |  c2  |  c3  |   |  |      digit i = (person >> 2i) & 3; each cell carries a fine
    |   |  |  c4  |  c5  |   |  |      luminance texture so a Laplacian sharpness measure sees it
    |   |  +------+------+   |  |
    +--------------[notch]-------+      dark notch (0.1 wide) in the bottom band at u = 0.2 + 0.6 * probability

* identity: colours of the six cells, averaged over cell centres and matched to the nearest of four colours
  that are 247 RGB units apart (robust to blur, JPEG chroma subsampling, GIF palettes, CMYK);
* probability: the notch position, read as the midpoint of its two half-depth edges. Geometry survives blur
  (a Gaussian is symmetric) where a brightness level would not, so a blurred face keeps its probability
  instead of sinking under CompreFace's 0.85 threshold. Within 0.02 for sharp faces from ~40 px up, ~0.05
  for faces blurred by 0.08 or shrunk to ~20 px;
* yaw: the face is drawn ``size * cos(yaw)`` wide; the engine reports ``acos(width / height)``, always >= 0
  (the sign is not encoded), from sub-pixel frame edges: within ~1 degree from 20 degrees up, a few degrees
  near 0 where acos is steep and the drawn width is rounded to whole pixels. Pitch and roll are always 0;
* blur: a Gaussian of sigma ``blur * size`` over the face and its surroundings; the texture (squares of
  size/48 px, +-36 levels) vanishes first, so a Laplacian-variance sharpness measure on the box crop drops
  from >250 to <50 between blur 0 and 0.08. The engine does not report blur: measure it, as the plugin does;
* embedding: a 128-d unit vector, the person's Gold-code vector plus a small perturbation seeded by what was
  measured (box, probability, cell means), so identical bytes give identical vectors and a different crop of
  the same face does not. Same person: cosine >= 0.95 (>= 0.92 guaranteed); others: <= 0.3.

The engine never applies EXIF (CompreFace does not either). It only accepts upright faces, and their mirror
images (a mirrored face is still the same person): a face whose pixels are stored rotated by 90 or 180
degrees, which is what an EXIF orientation 3, 5, 6, 7 or 8 file holds, is not found, much as MTCNN misses
sideways faces (CompreFace issue #1170: "No face is found" on iOS photos). Orientation 2 (mirror) is found
at mirrored coordinates with its identity intact; orientation 4 is upside down and not found.

Detection works on a copy whose long side is at most 640 px (JPEGs are decoded at reduced DCT scale), looks
for magenta rings and accepts one only if all of it checks out: four straight bands of frame thickness, the
dark corner, the notch, six cells of palette colours. Random noise, clutter and plain colours never pass.

Limits, all deliberate: faces must not touch or overlap (frames would merge; keep ~0.1 of a face apart),
a face cut by the image border is not found, the background must not be magenta or saturated green around a
blurred face, grayscale loses every face, blur above ~0.09 of the face size may lose it (0.12 usually does),
and faces under ``min_face_px`` (14) pixels tall on the 640 px copy are missed, as MTCNN misses faces under
20 px there.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "EMBEDDING_DIM",
    "PERSONS",
    "DetectedFace",
    "SyntheticEngine",
    "SyntheticFace",
    "UndecodableImage",
    "cosine",
    "draw_image",
    "encode",
    "noise_image",
    "person_embedding",
    "render",
]

EMBEDDING_DIM = 128
PERSONS = 4096

# Layout, as fractions of the face's width (u) and height (v).
FRAME = 0.14
GUARD = 0.03
CELL_LO = FRAME + GUARD
CELL_HI = 1.0 - CELL_LO
CELL_COLS = 2
CELL_ROWS = 3
NOTCH_HALF = 0.05
NOTCH_LO = 0.2
NOTCH_SPAN = 0.6
TEXELS = 48  # texture squares along the face height
TEXTURE_AMPLITUDE = 36

FRAME_RGB = (225, 35, 225)
GUARD_RGB = (128, 128, 128)
MARK_RGB = (25, 25, 25)  # notch and chirality corner: dark, so luminance (full resolution in JPEG) shows them
PALETTE = ((215, 40, 40), (40, 215, 40), (40, 40, 215), (215, 215, 215))
FRAME_SCORE = float(min(FRAME_RGB[0], FRAME_RGB[2]) - FRAME_RGB[1])  # "magenta score" of the frame: 190
MASK_THRESHOLD = 70.0
LUMA_WEIGHT = 2.0

# FaceNet's age buckets; synthetic people are adults.
AGE_BUCKETS = ((25, 32), (38, 43), (48, 53), (60, 100))

# PIL's exif_transpose applies these for each orientation; we store the inverse so it undoes it.
_STORE_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

# Muted, never magenta: background clutter must not look like a frame.
_CLUTTER = ((60, 110, 70), (180, 150, 90), (90, 90, 150), (200, 200, 190), (50, 60, 60), (170, 90, 60))


class UndecodableImage(ValueError):
    """The bytes are not an image we can decode (empty, truncated, a video, garbage)."""


@dataclass(frozen=True)
class SyntheticFace:
    """One face to draw. ``x, y`` is the top-left corner in pixels, ``size`` the face height in pixels.

    ``blur`` is the Gaussian sigma as a fraction of ``size`` (0.08 is clearly blurry), ``yaw`` in degrees makes
    the face ``size * cos(yaw)`` wide, ``probability`` is what the engine will report as detection score.
    """

    person: int
    x: int
    y: int
    size: int
    blur: float = 0.0
    probability: float = 0.99
    yaw: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.person < PERSONS:
            raise ValueError(f"person must be in 0..{PERSONS - 1}, got {self.person}")
        if self.size < 4:
            raise ValueError("size must be at least 4 px")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")
        if not -85.0 <= self.yaw <= 85.0:
            raise ValueError("yaw must be within +-85 degrees")
        if self.blur < 0:
            raise ValueError("blur must be >= 0")

    @property
    def width(self) -> int:
        return max(1, round(self.size * math.cos(math.radians(self.yaw))))

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The box the engine should report: ``(x_min, y_min, x_max, y_max)``."""
        return (self.x, self.y, self.x + self.width, self.y + self.size)


@dataclass(frozen=True)
class DetectedFace:
    """What the engine sees; the shape mirrors what CompreFace's core returns per face."""

    box: tuple[int, int, int, int]
    probability: float
    embedding: tuple[float, ...]
    yaw: float
    pitch: float
    roll: float
    age_low: int
    age_high: int
    gender: str
    person: int
    mirrored: bool = False

    @property
    def area(self) -> int:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


# --------------------------------------------------------------------------------------------------------------
# Identity vectors


@functools.cache
def _identity_matrix() -> np.ndarray:
    """One unit vector per person, from cyclic shifts of Gold sequences of length 127.

    Why Gold codes: the periodic cross-correlation of any two members (any shifts) is one of -17, -1, 15 out
    of 127, so distinct people have |cosine| <= 0.134 by construction; random vectors would give ~0.5 for the
    worst of 8 million pairs. The 128th coordinate is 0 and only perturbations use it.
    """

    def m_sequence(exponents: tuple[int, ...]) -> np.ndarray:
        bits = [1, 0, 0, 0, 0, 0, 0]
        while len(bits) < 127:
            k = len(bits) - 7
            bits.append(sum(bits[k + e] for e in exponents) % 2)
        return np.array(bits, dtype=np.int8)

    first = m_sequence((0, 3))  # x^7 + x^3 + 1
    second = m_sequence((0, 1, 2, 3))  # x^7 + x^3 + x^2 + x + 1: a preferred pair with the first
    family = [first, second] + [first ^ np.roll(second, k) for k in range(31)]
    out = np.zeros((PERSONS, EMBEDDING_DIM), dtype=np.float64)
    for person in range(PERSONS):
        member, shift = divmod(person, 127)
        out[person, :127] = 1.0 - 2.0 * np.roll(family[member], shift)
    out /= math.sqrt(127.0)
    return out


def person_embedding(person: int) -> tuple[float, ...]:
    """The noiseless identity vector of ``person`` (unit length, 128 dimensions)."""
    return tuple(float(v) for v in _identity_matrix()[person])


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


# --------------------------------------------------------------------------------------------------------------
# Drawing


def _face_pixels(face: SyntheticFace) -> np.ndarray:
    """Render one face as float RGB (size x width x 3), supersampled so edges land at sub-pixel positions.
    Read-only: the same face drawn again (tests draw the same people over and over) comes from a cache."""
    return _pixels_of(face.person, face.size, face.width, face.probability)


@functools.lru_cache(maxsize=256)
def _pixels_of(person: int, h: int, w: int, probability: float) -> np.ndarray:
    pixels = _draw_face(person, h, w, probability)
    pixels.flags.writeable = False
    return pixels


def _draw_face(person: int, h: int, w: int, probability: float) -> np.ndarray:
    k = max(1, min(4, 1024 // h))
    us = ((np.arange(w * k) + 0.5) / (w * k))[None, :]
    vs = ((np.arange(h * k) + 0.5) / (h * k))[:, None]
    notch_centre = NOTCH_LO + NOTCH_SPAN * probability
    in_frame = (us < FRAME) | (us > 1 - FRAME) | (vs < FRAME) | (vs > 1 - FRAME)
    corner = (us < FRAME) & (vs < FRAME)
    notch = (vs > 1 - FRAME) & (np.abs(us - notch_centre) < NOTCH_HALF)
    in_cells = (us >= CELL_LO) & (us < CELL_HI) & (vs >= CELL_LO) & (vs < CELL_HI)
    span = CELL_HI - CELL_LO
    col = np.clip(((us - CELL_LO) / span * CELL_COLS).astype(int), 0, CELL_COLS - 1)
    row = np.clip(((vs - CELL_LO) / span * CELL_ROWS).astype(int), 0, CELL_ROWS - 1)
    region = np.where(in_cells, 3 + row * CELL_COLS + col, np.where(in_frame, 0, 1))
    region = np.where(corner | notch, 2, region)
    digits = [(person >> (2 * i)) & 3 for i in range(CELL_COLS * CELL_ROWS)]
    table = np.array([FRAME_RGB, GUARD_RGB, MARK_RGB] + [PALETTE[d] for d in digits], dtype=np.float32)
    pixels = table[region].reshape(h, k, w, k, 3).mean(axis=(1, 3))

    # Texture: random +-A luminance squares, about size/48 px each, inside the cells only.
    texel = max(1.0, h / TEXELS)
    tx = ((np.arange(w) + 0.5) / texel).astype(int)
    ty = ((np.arange(h) + 0.5) / texel).astype(int)
    rng = np.random.default_rng(person)
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(ty[-1] + 1, tx[-1] + 1))
    pu = ((np.arange(w) + 0.5) / w)[None, :]
    pv = ((np.arange(h) + 0.5) / h)[:, None]
    cells = (pu > CELL_LO) & (pu < CELL_HI) & (pv > CELL_LO) & (pv < CELL_HI)
    pixels += (signs[ty][:, tx] * TEXTURE_AMPLITUDE * cells)[..., None]
    return pixels


@functools.lru_cache(maxsize=64)
def _background(width: int, height: int, spec: tuple[int, int, int] | str, seed: int) -> np.ndarray:
    """Read-only and cached, like a face: the same scene behind other faces is drawn once."""
    canvas = _draw_background(width, height, spec, seed)
    canvas.flags.writeable = False
    return canvas


@functools.lru_cache(maxsize=16)
def _gradient(width: int, height: int) -> Image.Image:
    """The soft gradient under every "gradient" background of this size (the seed only moves the clutter)."""
    top = np.array((70, 95, 120), dtype=np.float32)
    bottom = np.array((170, 160, 130), dtype=np.float32)
    t = (np.arange(height, dtype=np.float32) / max(1, height - 1))[:, None, None]
    s = (np.arange(width, dtype=np.float32) / max(1, width - 1))[None, :, None]
    grad = top * (1 - t) + bottom * t + 20.0 * (s - 0.5)
    return Image.fromarray(np.clip(grad, 0, 255).astype(np.uint8))


def _draw_background(width: int, height: int, spec: tuple[int, int, int] | str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if isinstance(spec, tuple):
        return np.broadcast_to(np.array(spec, dtype=np.float32), (height, width, 3)).copy()
    if spec == "noise":
        return rng.integers(0, 256, size=(height, width, 3)).astype(np.float32)
    if spec != "gradient":
        raise ValueError(f"unknown background {spec!r}: use 'gradient', 'noise' or an RGB tuple")
    base = _gradient(width, height).copy()
    draw = ImageDraw.Draw(base)
    for _ in range(6):
        x0, x1 = sorted(rng.integers(0, max(2, width), size=2).tolist())
        y0, y1 = sorted(rng.integers(0, max(2, height), size=2).tolist())
        colour = _CLUTTER[int(rng.integers(0, len(_CLUTTER)))]
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    arr = np.asarray(base, dtype=np.float32)
    return arr + 4.0 * rng.standard_normal(size=arr.shape, dtype=np.float32)


def render(
    width: int,
    height: int,
    faces: Sequence[SyntheticFace],
    *,
    background: tuple[int, int, int] | str = "gradient",
    seed: int = 0,
) -> Image.Image:
    """Draw ``faces`` on a background and return the RGB image (for tests that crop or resize before encoding).

    ``background`` is ``"gradient"`` (soft gradient, muted clutter shapes, mild noise), ``"noise"`` (uniform
    random pixels) or an RGB tuple. Faces may extend past the image edges; they are clipped.
    """
    canvas = _background(width, height, background, seed).copy()
    for face in faces:
        pixels = _face_pixels(face)
        fh, fw = pixels.shape[:2]
        x0, y0 = max(0, face.x), max(0, face.y)
        x1, y1 = min(width, face.x + fw), min(height, face.y + fh)
        if x0 >= x1 or y0 >= y1:
            continue
        canvas[y0:y1, x0:x1] = pixels[y0 - face.y : y1 - face.y, x0 - face.x : x1 - face.x]
        if face.blur > 0:
            sigma = face.blur * face.size
            margin = math.ceil(3 * sigma) + 2
            bx0, by0 = max(0, face.x - margin), max(0, face.y - margin)
            bx1, by1 = min(width, face.x + fw + margin), min(height, face.y + fh + margin)
            patch = Image.fromarray(np.clip(canvas[by0:by1, bx0:bx1], 0, 255).round().astype(np.uint8))
            blurred = patch.filter(ImageFilter.GaussianBlur(sigma))
            canvas[by0:by1, bx0:bx1] = np.asarray(blurred, dtype=np.float32)
    return Image.fromarray(np.clip(canvas, 0, 255).round().astype(np.uint8), "RGB")


def encode(
    image: Image.Image,
    *,
    fmt: str = "JPEG",
    quality: int = 90,
    mode: str = "RGB",
    exif_orientation: int | None = None,
) -> bytes:
    """Encode ``image`` as ``fmt`` after converting it to ``mode``.

    With ``exif_orientation`` the pixels are stored transformed so that an EXIF-aware viewer
    (``PIL.ImageOps.exif_transpose``) shows ``image`` as given; the tag is written (JPEG, PNG, WEBP, TIFF).
    """
    fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt.upper(), fmt.upper())
    kwargs: dict[str, object] = {}
    if exif_orientation is not None:
        if exif_orientation not in range(1, 9):
            raise ValueError("exif_orientation must be 1..8")
        if fmt not in ("JPEG", "PNG", "WEBP", "TIFF"):
            raise ValueError(f"{fmt} cannot carry an EXIF orientation")
        if exif_orientation != 1:
            image = image.transpose(_STORE_TRANSPOSE[exif_orientation])
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    if mode != image.mode:
        image = image.convert(mode)
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def draw_image(
    width: int,
    height: int,
    faces: Sequence[SyntheticFace],
    *,
    fmt: str = "JPEG",
    quality: int = 90,
    mode: str = "RGB",
    exif_orientation: int | None = None,
    background: tuple[int, int, int] | str = "gradient",
    seed: int = 0,
) -> bytes:
    """Render ``faces`` and encode the picture: the usual way a test gets image bytes. The same picture asked
    again (tests draw the same few people over and over: a fifth of the in-process tests' CPU went here)
    comes from a cache; bytes are immutable, so no caller can change another's."""
    return _drawn(width, height, tuple(faces), fmt, quality, mode, exif_orientation, background, seed)


@functools.lru_cache(maxsize=512)
def _drawn(width: int, height: int, faces: tuple[SyntheticFace, ...], fmt: str, quality: int, mode: str,
           exif_orientation: int | None, background: tuple[int, int, int] | str, seed: int) -> bytes:
    image = render(width, height, faces, background=background, seed=seed)
    return encode(image, fmt=fmt, quality=quality, mode=mode, exif_orientation=exif_orientation)


def noise_image(
    width: int, height: int, *, seed: int = 0, block: int = 1, fmt: str = "JPEG", quality: int = 90
) -> bytes:
    """Random noise with no face in it; ``block`` > 1 makes coarse blotches (a harder negative)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(math.ceil(height / block), math.ceil(width / block), 3), dtype=np.uint8)
    pixels = np.repeat(np.repeat(small, block, axis=0), block, axis=1)[:height, :width]
    return encode(Image.fromarray(pixels, "RGB"), fmt=fmt, quality=quality)


# --------------------------------------------------------------------------------------------------------------
# Seeing


def _bilinear(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample ``img`` at continuous coordinates (pixel ``i`` covers [i, i+1), its centre is i + 0.5)."""
    h, w = img.shape[:2]
    x = np.clip(xs - 0.5, 0, w - 1)
    y = np.clip(ys - 0.5, 0, h - 1)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = x - x0
    fy = y - y0
    if img.ndim == 3:
        fx = fx[..., None]
        fy = fy[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _components(mask: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Connected components of ``mask`` as ``(x0, y0, x1, y1, area)``, built from row runs (no scipy here)."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    n = len(rows)
    if n == 0:
        return []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    rows_l, starts_l, ends_l = rows.tolist(), starts.tolist(), ends.tolist()
    prev_lo = prev_hi = 0  # run index range of the previous row
    i = 0
    while i < n:
        row = rows_l[i]
        j = i
        while j < n and rows_l[j] == row:
            j += 1
        if i > 0 and rows_l[i - 1] == row - 1:
            p = prev_lo
            for r in range(i, j):
                while p < prev_hi and ends_l[p] <= starts_l[r]:
                    p += 1
                q = p
                while q < prev_hi and starts_l[q] < ends_l[r]:
                    a, b = find(r), find(q)
                    if a != b:
                        parent[a] = b
                    q += 1
        prev_lo, prev_hi = i, j
        i = j
    boxes: dict[int, list[int]] = {}
    for r in range(n):
        root = find(r)
        box = boxes.get(root)
        length = ends_l[r] - starts_l[r]
        if box is None:
            boxes[root] = [starts_l[r], rows_l[r], ends_l[r], rows_l[r] + 1, length]
        else:
            box[0] = min(box[0], starts_l[r])
            box[2] = max(box[2], ends_l[r])
            box[3] = rows_l[r] + 1
            box[4] += length
    return [(b[0], b[1], b[2], b[3], b[4]) for b in boxes.values()]


def _merge_overlapping(
    boxes: list[tuple[int, int, int, int, int]],
) -> list[tuple[int, int, int, int, int]]:
    """Join components whose boxes intersect: a frame is cut by its dark corner and its notch into pieces
    that touch only diagonally, or not at all once JPEG and downscaling have eaten a thin link."""
    pending = [list(b) for b in boxes if b[4] >= 6 and max(b[2] - b[0], b[3] - b[1]) >= 4]
    merged: list[list[int]] = []
    while pending:
        box = pending.pop()
        changed = True
        while changed:
            changed = False
            for other in pending[:]:
                if other[0] < box[2] and box[0] < other[2] and other[1] < box[3] and box[1] < other[3]:
                    box = [
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                        box[4] + other[4],
                    ]
                    pending.remove(other)
                    changed = True
        merged.append(box)
    return [(b[0], b[1], b[2], b[3], b[4]) for b in merged]


# SyntheticEngine.detect's memo: key (settings, blake2b of the bytes) -> faces (frozen), least recently used first.
_SEEN: collections.OrderedDict[tuple[int, int, float, bytes], tuple[DetectedFace, ...]] = collections.OrderedDict()
_SEEN_LOCK = threading.Lock()
_SEEN_MAX = 4096


class SyntheticEngine:
    """Detects and identifies :class:`SyntheticFace` markers in encoded image bytes.

    It works like CompreFace's core where that matters to a client: no EXIF rotation, detection on a copy whose
    long side is at most ``max_detect_size``, boxes in the coordinates of the bytes given, faces ordered by box
    area (largest first). ``spread`` sets how far embeddings of one person scatter between images (0.15 keeps
    same-person cosine >= 0.95 and other people <= 0.3). Thread-safe, and stateless but for a memo of the bytes
    already seen (``cache=False``: none).
    """

    def __init__(
        self, *, max_detect_size: int = 640, min_face_px: int = 14, spread: float = 0.15, cache: bool = True
    ) -> None:
        self.max_detect_size = max_detect_size
        self.min_face_px = min_face_px
        self.spread = spread
        self.cache = cache

    def detect(self, data: bytes) -> list[DetectedFace]:
        """The faces in ``data``, largest first. What is seen depends only on the bytes and the settings, so
        with ``cache`` (the default) the same bytes seen again (the plugin sends an image to detection, then
        recognition; tests send one picture many times) are answered from a process-wide memo."""
        if not self.cache:
            return self._detect(data)
        key = (self.max_detect_size, self.min_face_px, self.spread, hashlib.blake2b(data, digest_size=16).digest())
        with _SEEN_LOCK:
            seen = _SEEN.get(key)
            if seen is not None:
                _SEEN.move_to_end(key)
                return list(seen)
        faces = self._detect(data)
        with _SEEN_LOCK:
            _SEEN[key] = tuple(faces)
            while len(_SEEN) > _SEEN_MAX:
                _SEEN.popitem(last=False)
        return faces

    def _detect(self, data: bytes) -> list[DetectedFace]:
        pixels, sx, sy = self._load(data)
        r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
        score = np.minimum(r, b) - g
        luma = 0.299 * r + 0.587 * g + 0.114 * b
        if score.shape[0] < 3 or score.shape[1] < 3:
            return []
        smooth = (score[:-1, :-1] + score[1:, :-1] + score[:-1, 1:] + score[1:, 1:]) * 0.25
        faces = []
        for x0, y0, x1, y1, area in _merge_overlapping(_components(smooth > MASK_THRESHOLD)):
            w, h = x1 - x0, y1 - y0
            if h + 1 < self.min_face_px or w < 3 or not 0.1 <= w / h <= 1.3:
                continue
            if not 0.15 <= area / (w * h) <= 0.9:
                continue
            face = self._decode(pixels, score, luma, (x0, y0, x1 + 1, y1 + 1), sx, sy)
            if face is not None:
                faces.append(face)
        faces.sort(key=lambda f: -f.area)
        return faces

    # -- decoding ----------------------------------------------------------------------------------------------

    def _load(self, data: bytes) -> tuple[np.ndarray, float, float]:
        """Decode to a float RGB array no longer than ``max_detect_size``; JPEGs decode at reduced DCT scale."""
        if not data:
            raise UndecodableImage("empty input")
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                scale = max(width, height) / self.max_detect_size
                target = (width, height)
                if scale > 1:
                    target = (max(1, round(width / scale)), max(1, round(height / scale)))
                region = None
                if image.format == "JPEG" and scale >= 2:
                    drafted = image.draft(image.mode, target)
                    region = drafted[1] if drafted else None
                image.load()
                rgb = image if image.mode == "RGB" else image.convert("RGB")
                if rgb.size != target or region is not None:
                    rgb = rgb.resize(target, Image.Resampling.BILINEAR, box=region)
                pixels = np.asarray(rgb, dtype=np.float32)
        except (OSError, ValueError, SyntaxError, EOFError, TypeError, Image.DecompressionBombError) as exc:
            raise UndecodableImage(f"cannot decode image: {exc}") from exc
        return pixels, width / target[0], height / target[1]

    def _decode(
        self,
        pixels: np.ndarray,
        score: np.ndarray,
        luma: np.ndarray,
        rough: tuple[int, int, int, int],
        sx: float,
        sy: float,
    ) -> DetectedFace | None:
        box = self._refine(score, rough)
        if box is None:
            return None
        bx0, by0, bx1, by1 = box
        bw, bh = bx1 - bx0, by1 - by0
        if bh < self.min_face_px - 1 or bw < 3:
            return None

        def corner(image: np.ndarray, u0: float) -> float:
            grid = np.linspace(0.03, 0.11, 3)
            us, vs = np.meshgrid(u0 + grid - 0.03, grid)
            return float(_bilinear(image, bx0 + us * bw, by0 + vs * bh).mean())

        # The dark corner is top-left when upright, top-right when mirrored; anything else is rotated.
        # Score plus twice the luminance, as for the notch: both drop on the dark mark.
        left_score, right_score = corner(score, 0.03), corner(score, 0.89)
        left = left_score + LUMA_WEIGHT * corner(luma, 0.03)
        right = right_score + LUMA_WEIGHT * corner(luma, 0.89)
        if left + 50 < right and right_score > 0.35 * FRAME_SCORE:
            mirrored = False
        elif right + 50 < left and left_score > 0.35 * FRAME_SCORE:
            mirrored = True
        else:
            return None

        def xs(u: np.ndarray) -> np.ndarray:
            return bx1 - u * bw if mirrored else bx0 + u * bw

        # The frame must be a frame: the middle of every band clearly magenta (noise blobs are not).
        along = np.linspace(0.2, 0.8, 13)
        across = np.full_like(along, FRAME / 2)
        for us, vs in ((along, across), (across, along), (1 - across, along)):
            if np.mean(_bilinear(score, xs(us), by0 + vs * bh) > 0.3 * FRAME_SCORE) < 0.8:
                return None

        probability = self._notch(score, luma, xs, by0, bh, bw)
        if probability is None:
            return None
        centre = NOTCH_LO + NOTCH_SPAN * probability
        along = np.linspace(0.05, 0.95, 19)
        along = along[np.abs(along - centre) > NOTCH_HALF + 0.1]
        bottom = _bilinear(score, xs(along), by0 + (1 - FRAME / 2) * bh + 0 * along)
        if np.mean(bottom > 0.3 * FRAME_SCORE) < 0.8:
            return None

        digits, means = [], []
        grid = np.linspace(0.3, 0.7, 4)
        cell_w = (CELL_HI - CELL_LO) / CELL_COLS
        cell_h = (CELL_HI - CELL_LO) / CELL_ROWS
        palette = np.array(PALETTE, dtype=np.float32)
        for index in range(CELL_COLS * CELL_ROWS):
            row, col = divmod(index, CELL_COLS)
            us, vs = np.meshgrid(CELL_LO + (col + grid) * cell_w, CELL_LO + (row + grid) * cell_h)
            mean = _bilinear(pixels, xs(us), by0 + vs * bh).reshape(-1, 3).mean(axis=0)
            distances = np.linalg.norm(palette - mean, axis=1)
            best = int(np.argmin(distances))
            if distances[best] > 120:
                return None
            digits.append(best)
            means.append(mean)
        person = sum(d << (2 * i) for i, d in enumerate(digits))

        x_min, x_max = round(bx0 * sx), round(bx1 * sx)
        y_min, y_max = round(by0 * sy), round(by1 * sy)
        aspect = (bw * sx) / (bh * sy)
        yaw = math.degrees(math.acos(min(1.0, aspect)))
        fingerprint = repr(
            (
                person,
                mirrored,
                round(bx0 * sx, 2),
                round(by0 * sy, 2),
                round(bw * sx, 2),
                round(bh * sy, 2),
                round(probability, 4),
                [np.round(m, 1).tolist() for m in means],
            )
        ).encode()
        low, high = AGE_BUCKETS[(person // 2) % len(AGE_BUCKETS)]
        return DetectedFace(
            box=(x_min, y_min, x_max, y_max),
            probability=probability,
            embedding=self._embedding(person, fingerprint),
            yaw=round(yaw, 2),
            pitch=0.0,
            roll=0.0,
            age_low=low,
            age_high=high,
            gender="female" if person % 2 else "male",
            person=person,
            mirrored=mirrored,
        )

    def _refine(self, score: np.ndarray, rough: tuple[int, int, int, int]) -> tuple[float, float, float, float] | None:
        """Sub-pixel frame edges, walking outward from inside the band to where the score falls half-way to
        the background. Walking outward (not inward) keeps a neighbouring face out of the measurement.
        Also checks that each band is about as thick as a frame band: blotches of colour noise are not."""
        h, w = score.shape
        x0, y0, x1, y1 = rough
        bw, bh = x1 - x0, y1 - y0
        pad = max(3, round(0.12 * bh))  # blur pulls the mask inside the true edge; look well outside it
        band_x = max(1, round(FRAME * bw))
        band_y = max(1, round(FRAME * bh))
        rows = slice(y0 + int(0.3 * bh), max(y0 + int(0.3 * bh) + 1, y0 + int(0.7 * bh)))
        cols = slice(x0 + int(0.3 * bw), max(x0 + int(0.3 * bw) + 1, x0 + int(0.7 * bw)))

        def outward(profiles: np.ndarray, band: int, at_border: bool, extent: int) -> float:
            """Median distance from the inner end of ``profiles`` (rows run inward -> outward) to the outer edge."""
            length = profiles.shape[1]
            zone = slice(max(0, band // 2), min(length, 2 * band + pad // 2 + 1))
            if length < 3 or zone.start >= zone.stop:
                return math.nan
            peak = float(np.median(profiles[:, zone].max(axis=1)))
            outside = profiles[:, 2 * band + 1 :]
            background = float(np.percentile(outside, 10)) if outside.size else 0.0
            reference = max(peak, 0.95 * FRAME_SCORE)
            threshold = 0.5 * (reference + min(max(background, -80.0), 0.3 * FRAME_SCORE))
            threshold = min(threshold, 0.85 * peak)  # heavy blur: the band never reaches the usual level
            start = zone.start + np.argmax(profiles[:, zone], axis=1)
            index = np.arange(length)[None, :]
            low = profiles < threshold
            after = low & (index > start[:, None])
            before = low & (index < start[:, None])
            first = np.argmax(after, axis=1)
            last = length - 1 - np.argmax(before[:, ::-1], axis=1)
            rows_ = np.arange(len(first))
            hit_out, hit_in = after[rows_, first], before[rows_, last]
            distances, widths = [], []
            for row in rows_:
                if hit_out[row]:
                    f = int(first[row])
                    a, b = float(profiles[row, f - 1]), float(profiles[row, f])
                    distance = f - 1 + (a - threshold) / max(a - b, 1e-6)
                elif at_border:
                    distance = length - 0.5
                else:
                    continue
                distances.append(distance)
                if hit_in[row]:
                    g = int(last[row])
                    a, b = float(profiles[row, g]), float(profiles[row, g + 1])
                    widths.append(distance - (g + (threshold - a) / max(b - a, 1e-6)))
            if not distances or not widths:
                return math.nan
            if not 0.06 <= float(np.median(widths)) / extent <= 0.26:
                return math.nan  # not a frame band
            return float(np.median(distances))

        c_in, c_out = min(w - 1, x0 + 2 * band_x), max(0, x0 - pad)
        left = c_in + 0.5 - outward(score[rows, c_out : c_in + 1][:, ::-1], band_x, c_out == 0, bw)
        c_in, c_out = max(0, x1 - 1 - 2 * band_x), min(w - 1, x1 - 1 + pad)
        right = c_in + 0.5 + outward(score[rows, c_in : c_out + 1], band_x, c_out == w - 1, bw)
        r_in, r_out = min(h - 1, y0 + 2 * band_y), max(0, y0 - pad)
        top = r_in + 0.5 - outward(score[r_out : r_in + 1, cols].T[:, ::-1], band_y, r_out == 0, bh)
        r_in, r_out = max(0, y1 - 1 - 2 * band_y), min(h - 1, y1 - 1 + pad)
        bottom = r_in + 0.5 + outward(score[r_in : r_out + 1, cols].T, band_y, r_out == h - 1, bh)
        box = (left, top, right, bottom)
        if any(math.isnan(v) for v in box) or right - left < 2 or bottom - top < 2:
            return None
        return box

    @staticmethod
    def _notch(
        score: np.ndarray,
        luma: np.ndarray,
        xs: Callable[[np.ndarray], np.ndarray],
        by0: float,
        bh: float,
        bw: float,
    ) -> float | None:
        """Probability from the notch position: the midpoint of its two half-depth edges along the bottom band.

        Why edges and not the darkest point: blur and JPEG flatten and tilt the notch, but a symmetric blur
        moves both half-depth crossings by the same amount in opposite directions.
        """
        n = max(64, int(bw * 3))
        us = np.linspace(0.03, 0.97, n)
        vs = np.array([0.89, 0.93, 0.97])
        uu, vv = np.meshgrid(us, vs)
        if float(np.median(_bilinear(score, xs(uu), by0 + vv * bh))) < 0.3 * FRAME_SCORE:
            return None  # the bottom band is not frame: a rotated face
        # Magenta score and luminance both dip at the dark notch; JPEG keeps luminance at full resolution.
        profile = (_bilinear(score, xs(uu), by0 + vv * bh) + LUMA_WEIGHT * _bilinear(luma, xs(uu), by0 + vv * bh)).mean(
            axis=0
        )
        inner = (us > NOTCH_LO - NOTCH_HALF - 0.02) & (us < NOTCH_LO + NOTCH_SPAN + NOTCH_HALF + 0.02)
        deepest = int(np.argmin(np.where(inner, profile, np.inf)))
        floor_level = float(profile[deepest])
        centre = float(us[deepest])

        def side_level(lo: float, hi: float) -> float:
            sel = (us >= lo) & (us <= hi)
            return float(np.median(profile[sel])) if sel.any() else math.nan

        left_level = side_level(centre - 0.22, centre - 0.12)
        right_level = side_level(centre + 0.12, centre + 0.22)
        if math.isnan(left_level):
            left_level = right_level
        if math.isnan(right_level):
            right_level = left_level
        # Near the face's edge a blurred band fades into the background, so one clear side is enough.
        if math.isnan(left_level) or max(left_level, right_level) - floor_level < 25:
            return None
        left_level = max(left_level, floor_level + 10)
        right_level = max(right_level, floor_level + 10)

        def crossing(level: float, step: int) -> float | None:
            half = 0.5 * (level + floor_level)
            i = deepest
            while 0 <= i + step < n and profile[i + step] < half:
                i += step
            j = i + step
            if not 0 <= j < n:
                return None
            a, b = float(profile[i]), float(profile[j])
            return float(us[i] + (us[j] - us[i]) * (half - a) / max(b - a, 1e-6))

        left = crossing(left_level, -1)
        right = crossing(right_level, 1)
        if left is None or right is None:
            return None
        centre = 0.5 * (left + right)
        return float(np.clip((centre - NOTCH_LO) / NOTCH_SPAN, 0.0, 1.0))

    def _embedding(self, person: int, fingerprint: bytes) -> tuple[float, ...]:
        """Identity vector plus a small perturbation seeded by what was measured (same pixels, same vector)."""
        base = _identity_matrix()[person]
        seed = int.from_bytes(hashlib.blake2b(fingerprint, digest_size=8).digest(), "big")
        noise = np.random.default_rng(seed).normal(size=EMBEDDING_DIM)
        noise -= (noise @ base) * base
        noise /= np.linalg.norm(noise)
        vector = base + self.spread * noise
        vector /= np.linalg.norm(vector)
        return tuple(float(v) for v in vector)
