"""TypiClust (TPC-RP): typicality, the cluster visit order, and picks on blobs with known answers."""
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytestmark = pytest.mark.torch

from fdal.training.strategies.typiclust import typicality, typiclust_picks, visit_order  # noqa: E402


def blobs(n_blobs, per_blob, seed, spread=0.05, dim=6):
    """Gaussian blobs around orthogonal unit vectors (far apart: distance sqrt(2))."""
    rng = np.random.default_rng(seed)
    centers = np.eye(dim)[:n_blobs]
    return np.concatenate([c + spread * rng.standard_normal((per_blob, dim)) for c in centers])


def densest(points):
    """Brute force: the point with the smallest mean squared distance to its min(20, n // 2)
    nearest other points."""
    k = min(20, len(points) // 2)
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    nearest = np.sort(d2, axis=1)[:, 1:k + 1]  # column 0: the point itself
    return int(np.argmin(nearest.mean(1)))


def test_typicality_is_inverse_mean_squared_knn_distance():
    pts = np.array([[0.0], [1.0], [2.0], [10.0]])  # k = min(20, 4 // 2) = 2
    want = 1 / (np.array([(1 + 4) / 2, (1 + 1) / 2, (1 + 4) / 2, (64 + 81) / 2]) + 1e-5)
    np.testing.assert_allclose(typicality(pts), want)
    np.testing.assert_array_equal(typicality(np.array([[5.0, 1.0]])), [1.0])  # a lone point


def test_typicality_in_row_batches_equals_brute_force():
    pts = np.random.default_rng(2).standard_normal((1300, 5))  # more rows than one batch
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    want = 1 / (np.sort(d2, axis=1)[:, 1:21].mean(1) + 1e-5)
    np.testing.assert_allclose(typicality(pts), want, rtol=1e-9)


def test_one_pick_per_blob_each_the_blobs_densest_point():
    per = 25
    for seed in range(3):
        feats = blobs(4, per, seed)
        picks = typiclust_picks(feats, 0, 4, seed)
        assert sorted(picks // per) == [0, 1, 2, 3], f"seed {seed}"
        for p in picks:
            b = p // per
            assert p == b * per + densest(feats[b * per:(b + 1) * per]), f"seed {seed}, blob {b}"


def test_clusters_with_labeled_points_come_last():
    per = 20
    feats = blobs(3, per, 0)
    # labeled: one point of blob 0 (moved to the front); candidates: all the others
    order = np.r_[0, np.arange(1, 3 * per)]
    picks = typiclust_picks(feats[order], 1, 2, 0)  # 3 clusters, 2 picks: blobs 1 and 2
    assert sorted((order[1:][picks]) // per) == [1, 2]


def test_visit_order_follows_the_original():
    # cluster: size, labeled count -> 0: 8, 1 | 1: 6, 0 | 2: 9, 0 | 3: 5, 0 (dropped: size <= 5) | 4: 9, 0
    sizes = {0: 8, 1: 6, 2: 9, 3: 5, 4: 9}
    clusters = np.concatenate([[0]] + [[c] * (s - (c == 0)) for c, s in sizes.items()])  # labeled first
    kept, small = visit_order(clusters, n_labeled=1)
    assert kept == [2, 4, 1, 0]  # fewest labeled, then largest, then lowest id
    assert small == [3]


def test_budget_met_when_every_cluster_is_small():
    # 14 points, 10 clusters asked for: all of size <= 5, which the original drops (and then fails)
    feats = np.random.default_rng(1).standard_normal((14, 3))
    picks = typiclust_picks(feats, 2, 8, 0)
    assert len(set(picks.tolist())) == 8 and picks.min() >= 0 and picks.max() < 12
    np.testing.assert_array_equal(picks, typiclust_picks(feats, 2, 8, 0))
    assert sorted(typiclust_picks(feats, 2, 12, 0).tolist()) == list(range(12))
