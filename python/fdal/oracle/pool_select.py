"""Pool-level selection rules over int8 embeddings: kcenter, typiclust, probcover, power, and
over predicted classes: classbalanced.

The ground truth of csrc/rank/pool_select.*; every rule is written out in docs/selection.md.
Distances are squared L2 of the raw int8 rows (the zero point cancels in differences), exact in
int64; dot products are taken in float64 matrix products, which are exact here because every
partial sum is an integer below 2^53 (|dot| <= 128^2 * d <= 2^30 for d <= 65536).
Ties always go to the lowest candidate position (the row index of the embedding matrix).
"""
from __future__ import annotations

import numpy as np

from .det_math import det_log
from .keys import random_keys

POOL_RULES = ("kcenter", "typiclust", "probcover", "power", "classbalanced")
SCORE_RULES = ("power", "classbalanced")  # rules over per-image keys, not embeddings
MAX_DIM = 65536
DEFAULTS = {
    "kcenter": {},
    "typiclust": {"min_cluster_size": 5, "k_nn": 20, "max_cells": 500},
    "probcover": {"k_nn": 20, "delta": -1},
    "power": {"beta": 1.0, "unit": 1.0},
    "classbalanced": {"beta": 1.0, "unit": 1.0},
}
TWO_POW_M53 = 2.0 ** -53


# ---------------------------------------------------------------------------------------------
# checks


def _check_embeddings(e):
    if not isinstance(e, np.ndarray) or e.dtype != np.int8:
        raise ValueError(f"embeddings must be an int8 numpy array, got {getattr(e, 'dtype', type(e))}")
    if e.ndim != 2:
        raise ValueError(f"embeddings must have 2 dimensions (n, d), got {e.ndim}")
    if e.shape[1] < 1 or e.shape[1] > MAX_DIM:
        raise ValueError(f"embedding dimension d = {e.shape[1]} must be in 1..{MAX_DIM}")
    return e


def _check_1d_int64(a, n, what):
    if not isinstance(a, np.ndarray) or a.dtype != np.int64:
        raise ValueError(f"{what} must be an int64 numpy array, got {getattr(a, 'dtype', type(a))}")
    if a.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {a.shape}")
    return a


def _check_params(rule, params):
    known = DEFAULTS[rule]
    for name in params:
        if name not in known:
            raise ValueError(f"pool rule {rule!r} has no parameter {name!r}; its parameters: "
                             f"{', '.join(known) or 'none'}")
    p = dict(known)
    p.update(params)
    for name in ("min_cluster_size", "k_nn", "max_cells", "delta"):
        if name in p:
            v = p[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {v!r}")
            lo = {"min_cluster_size": 0, "k_nn": 1, "max_cells": 1, "delta": -1}[name]
            if v < lo or v > 2**62:
                raise ValueError(f"{name} = {v} must be >= {lo}")
            p[name] = int(v)
    if "beta" in p:
        b = float(p["beta"])
        if not b >= 0.0:  # also rejects NaN
            raise ValueError(f"beta = {p['beta']} must be >= 0 (inf allowed: top-k of the score)")
        p["beta"] = b
        u = float(p["unit"])
        if not (u > 0.0 and np.isfinite(u)):
            raise ValueError(f"unit = {p['unit']} must be finite and > 0")
        p["unit"] = u
    return p


def check_args(rule, embeddings, scores, k, seed, pool_indices, params, classes=None):
    """Validated (embeddings, scores, pool_indices, n, params); ValueError naming the problem."""
    if rule not in POOL_RULES:
        raise ValueError(f"unknown pool rule {rule!r}; known rules: {', '.join(POOL_RULES)}")
    p = _check_params(rule, params)
    if (rule == "classbalanced") != (classes is not None):
        raise ValueError("pool rule 'classbalanced' needs classes (int64 predicted classes >= 0)"
                         if classes is None else f"pool rule {rule!r} takes no classes (pass None)")
    if rule in SCORE_RULES:
        if scores is None:
            raise ValueError(f"pool rule {rule!r} needs scores (int64 keys, smaller = more informative)")
        if not isinstance(scores, np.ndarray) or scores.ndim != 1:
            raise ValueError("scores must be a 1-D int64 numpy array")
        n = len(scores)
        scores = _check_1d_int64(scores, n, "scores")
        if embeddings is not None:
            _check_embeddings(embeddings)
            if len(embeddings) != n:
                raise ValueError(f"embeddings have {len(embeddings)} rows but scores have {n}")
        if classes is not None:
            _check_1d_int64(classes, n, "classes")
            if n and classes.min() < 0:
                raise ValueError("classes must be >= 0")
    else:
        if embeddings is None:
            raise ValueError(f"pool rule {rule!r} needs embeddings (int8, (n, d))")
        embeddings = _check_embeddings(embeddings)
        n = len(embeddings)
        if scores is not None:
            raise ValueError(f"pool rule {rule!r} takes no scores (pass None)")
    if n < 1:
        raise ValueError("the candidate set is empty (n = 0)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k = {k} must be in 1..{n} (the number of candidates)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"seed = {seed} must be an integer in 0..2^64-1")
    if pool_indices is None:
        pool_indices = np.arange(n, dtype=np.int64)
    else:
        pool_indices = _check_1d_int64(pool_indices, n, "pool_indices")
        if n and pool_indices.min() < 0:
            raise ValueError("pool_indices must be >= 0")
    return embeddings, scores, pool_indices, n, p


MAX_LABELED_COUNT = 2**62  # keeps count + picks far from int64 overflow


def check_labeled_counts(rule, labeled_counts):
    """labeled_counts as validated int64 (or None); ValueError naming the problem."""
    if labeled_counts is None:
        return None
    if rule != "classbalanced":
        raise ValueError(f"pool rule {rule!r} takes no labeled_counts (only classbalanced does)")
    if not isinstance(labeled_counts, np.ndarray) or labeled_counts.dtype != np.int64 or labeled_counts.ndim != 1:
        raise ValueError("labeled_counts must be a 1-D int64 numpy array (images labeled per class)")
    if len(labeled_counts) and (labeled_counts.min() < 0 or labeled_counts.max() > MAX_LABELED_COUNT):
        raise ValueError(f"labeled_counts must be in 0..2^62, got min {labeled_counts.min()} "
                         f"max {labeled_counts.max()}")
    return labeled_counts


# ---------------------------------------------------------------------------------------------
# arithmetic shared by the rules


def sq_norms(e):
    """||e_i||^2 as int64."""
    x = e.astype(np.int64)
    return (x * x).sum(axis=1)


def sq_dists(e, rows, cols=None):
    """Squared L2 distances (int64) between e[rows] and e[cols]: ||a||^2 + ||b||^2 - 2 a.b."""
    cols = rows if cols is None else cols
    a = e[rows].astype(np.float64)
    b = e[cols].astype(np.float64)
    dot = (a @ b.T).astype(np.int64)  # exact: integers below 2^53
    na = sq_norms(e[rows])
    nb = sq_norms(e[cols])
    return na[:, None] + nb[None, :] - 2 * dot


def _first_center(pool_indices, seed):
    """The candidate with the smallest random key of its pool index (ties: lowest position)."""
    r = np.array([random_keys(1, int(i), seed)[0] for i in pool_indices], dtype=np.uint64)
    return int(np.lexsort((np.arange(len(r)), r))[0])


def _kcenter(e, k, seed, pool_indices):
    """Farthest-first: (picks, min squared distance of every candidate to the picks)."""
    n = len(e)
    first = _first_center(pool_indices, seed)
    picks = [first]
    mind = sq_dists(e, np.arange(n), [first])[:, 0]
    picked = np.zeros(n, dtype=bool)
    picked[first] = True
    while len(picks) < k:
        nxt = int(np.argmax(np.where(picked, -1, mind)))  # argmax: first maximum = lowest position
        picks.append(nxt)
        picked[nxt] = True
        mind = np.minimum(mind, sq_dists(e, np.arange(n), [nxt])[:, 0])
    return picks, mind


def _knn_sums(d, kk):
    """Per row of the square distance matrix d: (sum, K-th) of its kk smallest off-diagonal values."""
    m = len(d)
    off = d.copy()
    off[np.arange(m), np.arange(m)] = np.iinfo(np.int64).max
    part = np.sort(off, axis=1)[:, :kk]
    return part.sum(axis=1), part[:, kk - 1]


# ---------------------------------------------------------------------------------------------
# the rules


def kcenter(e, k, seed, pool_indices):
    return _kcenter(e, k, seed, pool_indices)[0]


def typiclust(e, k, seed, pool_indices, min_cluster_size, k_nn, max_cells):
    n = len(e)
    c = min(k, max_cells)
    seeds, _ = _kcenter(e, c, seed, pool_indices)
    # Nearest seed, ties to the seed of lowest position.
    by_pos = np.argsort(seeds, kind="stable")  # seed ids ordered by their position
    d = sq_dists(e, np.arange(n), np.asarray(seeds)[by_pos])
    cell = by_pos[np.argmin(d, axis=1)]  # argmin: first minimum = lowest seed position
    members = [np.nonzero(cell == j)[0] for j in range(c)]  # ascending positions
    order = []
    for mem in members:
        m = len(mem)
        if m >= 2:
            kk = max(1, min(k_nn, m // 2))
            s, _ = _knn_sums(sq_dists(e, mem), kk)
        else:
            s = np.zeros(m, dtype=np.int64)
        order.append(mem[np.lexsort((mem, s))])  # smallest sum first, ties lowest position
    sizes = np.array([len(m) for m in members])
    seed_pos = np.asarray(seeds)
    cells = sorted(range(c), key=lambda j: (-sizes[j], seed_pos[j]))
    big = [j for j in cells if sizes[j] > min_cluster_size]
    small = [j for j in cells if 0 < sizes[j] <= min_cluster_size]
    picks, taken = [], [0] * c
    for group in (big, small):
        while len(picks) < k and any(taken[j] < sizes[j] for j in group):
            for j in group:
                if taken[j] < sizes[j]:
                    picks.append(int(order[j][taken[j]]))
                    taken[j] += 1
                    if len(picks) == k:
                        break
    return picks


def probcover_delta(e, k_nn):
    """The lower median over candidates of the squared distance to their K-th nearest other
    candidate, K = min(k_nn, n - 1) (0 when n == 1)."""
    n = len(e)
    kk = min(k_nn, n - 1)
    if kk == 0:
        return 0
    _, kth = _knn_sums(sq_dists(e, np.arange(n)), kk)
    return int(np.sort(kth)[(n - 1) // 2])


def probcover(e, k, k_nn, delta):
    n = len(e)
    if delta < 0:
        delta = probcover_delta(e, k_nn)
    d = sq_dists(e, np.arange(n))
    ball = d <= delta  # symmetric, with the diagonal
    deg = ball.sum(axis=1).astype(np.int64)
    covered = np.zeros(n, dtype=bool)
    picked = np.zeros(n, dtype=bool)
    picks = []
    while len(picks) < k:
        cand = np.where(picked, -1, deg)
        if cand.max() <= 0:
            break
        p = int(np.argmax(cand))
        new = ball[p] & ~covered
        covered |= new
        deg -= ball[:, new].sum(axis=1)
        picked[p] = True
        picks.append(p)
    if len(picks) < k:  # everything covered: farthest-first from the picks so far
        mind = d[:, picks].min(axis=1)
        while len(picks) < k:
            p = int(np.argmax(np.where(picked, -1, mind)))
            picked[p] = True
            picks.append(p)
            mind = np.minimum(mind, d[:, p])
    return picks


def power_keys(scores, pool_indices, seed, beta, unit):
    """The float64 sort key of every candidate (smaller = picked first; docs/selection.md)."""
    s = np.asarray(scores, dtype=np.int64)
    diff = s.view(np.uint64) - np.uint64(int(s.min()) % 2**64)  # exact: 0 <= key - min < 2^64
    x = diff.astype(np.float64) * unit
    r = np.array([random_keys(1, int(i), seed)[0] for i in pool_indices], dtype=np.uint64)
    u = (np.float64(2.0 ** 53 - 1) - 2.0 * (r >> np.uint64(12)).astype(np.float64)) * TWO_POW_M53
    e1 = -det_log(u)                  # an exponential variate, > 0
    f = det_log(e1) + beta * det_log(1.0 + x)
    return f, r


def power(scores, k, seed, pool_indices, beta, unit):
    n = len(scores)
    pos = np.arange(n)
    if beta == np.inf:
        return [int(i) for i in np.lexsort((pos, scores))[:k]]
    f, r = power_keys(scores, pool_indices, seed, beta, unit)
    return [int(i) for i in np.lexsort((pos, r, f))[:k]]


def classbalanced(scores, classes, k, seed, pool_indices, beta, unit, labeled_counts=None):
    """Water-filling over the predicted classes: each pick goes to the class with the fewest
    images so far (labeled_counts[c], 0 past its end or when None, plus the picks it has had),
    ties to the class with fewer candidates, then the lower class; within a class, its next
    candidate in power's order (beta = 0: random, inf: smallest key first). Without labeled
    counts this is a round robin over the classes, the rarest first."""
    n = len(scores)
    pos = np.arange(n)
    if beta == np.inf:
        order = np.lexsort((pos, scores))
    else:
        f, r = power_keys(scores, pool_indices, seed, beta, unit)
        order = np.lexsort((pos, r, f))
    labels, counts = np.unique(classes, return_counts=True)
    members = {int(c): [int(i) for i in order if classes[i] == c] for c in labels}
    prior = np.zeros(len(labels), dtype=np.int64)
    if labeled_counts is not None:
        inside = labels < len(labeled_counts)
        prior[inside] = labeled_counts[labels[inside]]
    taken = np.zeros(len(labels), dtype=np.int64)
    picks = []
    while len(picks) < k:
        open_ = taken < counts  # classes with candidates left
        level = np.where(open_, prior + taken, np.iinfo(np.int64).max)
        j = int(np.lexsort((labels, counts, level))[0])  # fewest so far, fewer candidates, lower class
        picks.append(members[int(labels[j])][taken[j]])
        taken[j] += 1
    return picks


def pool_select(rule, embeddings, scores, k, seed=0, pool_indices=None, classes=None, labeled_counts=None,
                **params):
    """k distinct candidate positions (int64, pick order) chosen by `rule` (docs/selection.md).
    labeled_counts (classbalanced only): int64 images already labeled per class (index = class)."""
    e, scores, pool_indices, n, p = check_args(rule, embeddings, scores, k, seed, pool_indices, params, classes)
    labeled_counts = check_labeled_counts(rule, labeled_counts)
    k, seed = int(k), int(seed)
    if rule == "kcenter":
        picks = kcenter(e, k, seed, pool_indices)
    elif rule == "typiclust":
        picks = typiclust(e, k, seed, pool_indices, p["min_cluster_size"], p["k_nn"], p["max_cells"])
    elif rule == "probcover":
        picks = probcover(e, k, p["k_nn"], p["delta"])
    elif rule == "power":
        picks = power(scores, k, seed, pool_indices, p["beta"], p["unit"])
    else:
        picks = classbalanced(scores, classes, k, seed, pool_indices, p["beta"], p["unit"], labeled_counts)
    return np.asarray(picks, dtype=np.int64)
