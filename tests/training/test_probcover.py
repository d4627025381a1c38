"""ProbCover: the purity rule for delta and the greedy cover, on cases with known answers."""
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytestmark = pytest.mark.torch

from fdal.training.strategies.clustering import unit_rows  # noqa: E402
from fdal.training.strategies.probcover import DELTA_GRID, probcover_picks, purity_delta  # noqa: E402


def circle_blobs(n_blobs, per_blob, chord, jitter=0.005):
    """Unit-norm blobs around points of the unit circle, neighbours `chord` apart; each point is
    within `jitter` (tangentially) of its blob's center."""
    step = 2 * np.arcsin(chord / 2)
    offsets = np.linspace(-jitter, jitter, per_blob)
    angles = np.concatenate([b * step + offsets for b in range(n_blobs)])
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def test_greedy_takes_the_largest_uncovered_ball_first():
    pts = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1]])
    # balls (delta 0.15): {0,1} {0,1,2} {1,2,3} {2,3} {4,5} {4,5}; 1 (first of two of size 3),
    # then 4 (2 new points, vs 1 for 2 and 3), then 2 (first of two covering one new point)
    assert probcover_picks(pts, 0, 3, 0.15, seed=0).tolist() == [1, 4, 2]
    # labeled point 0 covers {0, 1}: then 2's ball ({2, 3} new, first of the ties with 3, 4, 5), then 4's
    assert probcover_picks(pts, 1, 2, 0.15, seed=0).tolist() == [1, 3]  # positions among candidates


def test_one_pick_covers_each_blob():
    per = 15
    feats = circle_blobs(4, per, chord=0.6)  # inside a blob < 0.01 apart, between blobs >= 0.59
    for delta in (0.1, 0.3, 0.55):
        picks = probcover_picks(feats, 0, 4, delta, seed=0)
        assert sorted(picks // per) == [0, 1, 2, 3], delta
    # a labeled point of blob 2 covers that blob: the three picks go to the others
    order = np.r_[2 * per, np.delete(np.arange(4 * per), 2 * per)]
    picks = probcover_picks(feats[order], 1, 3, 0.3, seed=0)
    assert sorted(order[1:][picks] // per) == [0, 1, 3]


def test_when_all_is_covered_the_rest_is_random_distinct_and_new():
    per = 10
    feats = circle_blobs(2, per, chord=0.6)
    picks = probcover_picks(feats, 3, 8, 0.3, seed=1)  # 17 candidates; blobs covered after <= 2
    assert len(set(picks.tolist())) == 8 and picks.min() >= 0 and picks.max() < 17
    np.testing.assert_array_equal(picks, probcover_picks(feats, 3, 8, 0.3, seed=1))
    assert not np.array_equal(picks, probcover_picks(feats, 3, 8, 0.3, seed=2))
    assert sorted(probcover_picks(feats, 3, 17, 0.3, seed=0).tolist()) == list(range(17))


def test_purity_rule_picks_the_largest_pure_grid_delta():
    # blobs 0.48 apart, each 0.01 wide: balls are pure up to delta ~0.47, impure (two blobs) at 0.5
    feats = circle_blobs(5, 12, chord=0.48, jitter=0.005)
    delta, purity = purity_delta(feats, n_classes=5, seed=0)
    assert delta == 0.45 and purity == 1.0
    # orthogonal blobs (sqrt(2) apart): every grid value is pure, the largest (1.1) is taken
    rng = np.random.default_rng(0)
    ortho = unit_rows(np.repeat(np.eye(4), 10, 0) + 0.01 * rng.standard_normal((40, 4)))
    assert purity_delta(ortho, n_classes=4, seed=0) == (float(DELTA_GRID[-1]), 1.0)
    # and with that delta one pick per blob covers everything
    assert sorted(probcover_picks(ortho, 0, 4, DELTA_GRID[-1], seed=0) // 10) == [0, 1, 2, 3]


def test_below_the_grid_delta_is_the_exact_purity_quantile():
    # 40 blobs 0.02 apart: even delta 0.05 mixes blobs; the rule falls back to the exact value
    feats = circle_blobs(40, 3, chord=0.02, jitter=0.001)
    delta, purity = purity_delta(feats, n_classes=40, seed=0)
    assert 0 < delta < DELTA_GRID[0] and purity >= 0.95
