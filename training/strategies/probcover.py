"""ProbCover (Yehuda et al., NeurIPS 2022): greedy max coverage with delta-balls.

As avihu111/TypiClust deep-al/pycls/al/prob_cover.py: over the L2-normalized embeddings of the
labeled images and the candidates, the directed graph x -> y iff ||x - y|| < delta (self loops
included). Points in a labeled point's ball are covered; then each step picks the point whose
ball holds the most uncovered points (the first one on ties, as numpy's argmax) and marks them
covered.

delta, by the paper's purity rule (chosen offline there, passed as --delta to the original): the
points are clustered by k-means into as many clusters as the dataset has classes; a ball is pure
when all its points share its center's cluster; delta is the largest value of DELTA_GRID whose
purity (the fraction of points with a pure ball) is >= ALPHA. It is recomputed every cycle
(nothing is cached: the student's embedding changes, and the original fixes delta per embedding).

Embedding: base.pretrained_embedding (the teacher's feature when the run has one, else the
student's z); the original's is SimCLR's. Departures: the original's graph loop drops the last
partial batch of rows (those points get no out-edges); here every row is kept. Once every point is
covered the original's argmax over all-zero degrees returns position 0 again and again (a labeled
image, or a repeat); here the rest of the budget is drawn uniformly from the candidates not yet
picked (seeded), so the picks stay distinct and new. When no grid value is pure enough, delta is
the exact largest value that is (below the grid's first).
"""
import math

import numpy as np

from .base import check_request, pretrained_embedding
from .clustering import kmeans_labels, squared_distances, unit_rows

ALPHA = 0.95
# 0.05 .. 1.10: the resolution and maximum of the original's delta search (configs/*/al/RESNET18.yaml:
# DELTA_RESOLUTION 0.05, MAX_DELTA 1.1); its published deltas (e.g. 0.75 for CIFAR-10) lie on it.
DELTA_GRID = np.round(np.arange(1, 23) * 0.05, 2)
EMBEDDING = "base.pretrained_embedding: the teacher's 512-d feature if the run has a teacher, else the student's z"
_ROWS = 512  # distance rows per batch: memory O(_ROWS * N)


def _distances(rows: np.ndarray, features: np.ndarray) -> np.ndarray:
    return np.sqrt(squared_distances(rows, features))


def distance_to_other_cluster(features: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """For each point, the distance to the nearest point of another cluster (inf if none): its
    ball is pure exactly for delta <= this value."""
    out = np.empty(len(features))
    for s in range(0, len(features), _ROWS):
        d = _distances(features[s:s + _ROWS], features)
        d[clusters[s:s + _ROWS, None] == clusters[None, :]] = np.inf
        out[s:s + _ROWS] = d.min(1)
    return out


def purity_delta(features: np.ndarray, n_classes: int, seed: int):
    """(delta, its purity): the largest DELTA_GRID value with purity >= ALPHA."""
    clusters = kmeans_labels(features, n_classes, seed)
    r = distance_to_other_cluster(features, clusters)
    purity = np.array([(r >= d).mean() for d in DELTA_GRID])
    if (purity >= ALPHA).any():
        i = int(np.flatnonzero(purity >= ALPHA).max())
        return float(DELTA_GRID[i]), float(purity[i])
    # The largest delta with at least ceil(ALPHA * N) points at distance >= delta from other clusters.
    delta = float(np.sort(r)[::-1][math.ceil(ALPHA * len(r)) - 1])
    return delta, float((r >= delta).mean())


def ball_graph(features: np.ndarray, delta: float):
    """The scipy CSR matrix (N, N) of edges x -> y with ||x - y|| < delta."""
    from scipy import sparse
    xs, ys = [], []
    for s in range(0, len(features), _ROWS):
        x, y = np.nonzero(_distances(features[s:s + _ROWS], features) < delta)
        xs.append((x + s).astype(np.int32))
        ys.append(y.astype(np.int32))
    x, y = np.concatenate(xs), np.concatenate(ys)
    n = len(features)
    return sparse.csr_matrix((np.ones(len(x), dtype=np.int64), (x, y)), shape=(n, n))


def probcover_picks(features: np.ndarray, n_labeled: int, budget: int, delta: float, seed: int) -> np.ndarray:
    """Positions (into the candidate rows, features[n_labeled:]) of `budget` greedy picks.
    `features`: the labeled rows first, then the candidates', already normalized."""
    n = len(features)
    if not 1 <= budget <= n - n_labeled:
        raise ValueError(f"ProbCover: budget {budget} for {n - n_labeled} candidates")
    out_edges = ball_graph(features, delta)
    in_edges = out_edges.T.tocsr()  # the balls each point lies in
    covered = np.zeros(n, dtype=bool)
    covered[out_edges[:n_labeled].indices] = True
    degree = out_edges @ (~covered).astype(np.int64)  # uncovered points in each ball
    taken = np.zeros(n, dtype=bool)
    taken[:n_labeled] = True
    rng = np.random.default_rng(seed)
    picks = []
    for _ in range(budget):
        if degree.max() > 0:
            cur = int(np.argmax(degree))
        else:  # all covered (departure, see the module docstring)
            cur = int(rng.choice(np.flatnonzero(~taken)))
        ball = out_edges.indices[out_edges.indptr[cur]:out_edges.indptr[cur + 1]]
        new = ball[~covered[ball]]
        covered[new] = True
        holders = np.concatenate([in_edges.indices[in_edges.indptr[y]:in_edges.indptr[y + 1]] for y in new]) \
            if len(new) else np.empty(0, dtype=np.int32)
        degree -= np.bincount(holders, minlength=n)
        picks.append(cur - n_labeled)
        taken[cur] = True
    return np.asarray(picks, dtype=np.int64)


def select_probcover(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    labeled = np.asarray(ctx.labeled, dtype=np.int64)
    feats, _source = pretrained_embedding(ctx, np.concatenate([labeled, cand]))
    feats = unit_rows(feats.numpy())
    delta, _purity = purity_delta(feats, ctx.dataset.num_classes, seed)
    return cand[probcover_picks(feats, len(labeled), budget, delta, seed)]
