"""Similarity scales: the built-in engine's cosine mapped onto the scale ``minSimilarity`` was set for.

``minSimilarity`` (default 0.81) and the other thresholds were calibrated on CompreFace, whose similarity
is not a cosine. SFace's cosine has its own scale: same person >= ~0.50 (face-engines.md: same-person
pairs 0.555-0.924, different people <= 0.46 even in the hard case of two look-alikes in one photo). A
monotone piecewise-linear map sends cosine 0.50 to 0.81, so the default threshold means SFace's
recommended same-person threshold and users keep one setting for both engines. Being monotone, it keeps
every ranking, and being linear between knots it is easy to invert (what cosine 0.81 stands for).
"""

from __future__ import annotations

from itertools import pairwise

# (cosine, similarity) knots, increasing in both; below the first knot the similarity is 0.
SFACE_KNOTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.50, 0.81), (1.0, 1.0))


def calibrated_similarity(cosine: float, knots: tuple[tuple[float, float], ...] = SFACE_KNOTS) -> float:
    """The CompreFace-like similarity (0..1) of a cosine (-1..1); negative cosines are 0."""
    if cosine != cosine:  # NaN: a broken vector must never look like a match
        return 0.0
    if cosine <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in pairwise(knots):
        if cosine <= x1:
            return y0 + (y1 - y0) * (cosine - x0) / (x1 - x0)
    return knots[-1][1]
