import itertools
import math

import pytest

from stash_compreface.faces.calibration import SFACE_KNOTS, calibrated_similarity


def cosine_for(similarity: float, knots: tuple[tuple[float, float], ...] = SFACE_KNOTS) -> float:
    """The cosine a similarity threshold stands for: the inverse map, which proves the map invertible."""
    if similarity <= knots[0][1]:
        return knots[0][0]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if similarity <= y1:
            return x0 + (x1 - x0) * (similarity - y0) / (y1 - y0)
    return knots[-1][0]


def test_default_threshold_is_sfaces_same_person_threshold():
    assert calibrated_similarity(0.50) == pytest.approx(0.81)
    assert cosine_for(0.81) == pytest.approx(0.50)


@pytest.mark.parametrize(("cosine", "similarity"), [(-1.0, 0.0), (-0.2, 0.0), (0.0, 0.0), (0.25, 0.405),
                                                    (0.75, 0.905), (1.0, 1.0), (1.5, 1.0)])
def test_piecewise_linear(cosine, similarity):
    assert calibrated_similarity(cosine) == pytest.approx(similarity)


def test_monotone_and_in_range():
    xs = [i / 500 - 1 for i in range(1001)]
    ys = [calibrated_similarity(x) for x in xs]
    assert all(0.0 <= y <= 1.0 for y in ys)
    assert all(b >= a for a, b in itertools.pairwise(ys))
    assert all(b > a for x, a, b in zip(xs, ys, ys[1:], strict=False) if x >= 0)


def test_inverse_round_trips():
    for cosine in (0.05, 0.3, 0.5, 0.62, 0.99):
        assert cosine_for(calibrated_similarity(cosine)) == pytest.approx(cosine)


def test_nan_is_never_a_match():
    assert calibrated_similarity(math.nan) == 0.0


def test_knots_increase():
    assert all(x1 > x0 and y1 > y0 for (x0, y0), (x1, y1) in itertools.pairwise(SFACE_KNOTS))
