"""Pool-level selection rules (docs/selection.md): the C++ rules (the pool_dot slots of every kernel
path this CPU runs, fdal.kernel_paths()) equal
the numpy oracle bit for bit on seeded awkward cases, known answers, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import _core
from fdal.oracle import random_keys
from fdal.oracle import pool_select as ops

KERNELS = fdal.kernel_paths()
RULES = ops.POOL_RULES


def _case(seed: int):
    """A seeded random candidate set with awkward shapes, duplicates and narrow value ranges."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 3, 7, 31, 64, 65, 130, int(rng.integers(1, 400))]))
    d = int(rng.choice([1, 3, 16, 17, 256]))
    e = rng.integers(-128, 128, size=(n, d), dtype=np.int8)
    if rng.random() < 0.4:  # bursts of identical embeddings: ties everywhere
        e = e[rng.integers(0, max(1, n // 3), size=n)]
    if rng.random() < 0.3:  # few distinct values: equal distances
        e = (e // 64).astype(np.int8)
    k = int(rng.choice([1, n, int(rng.integers(1, n + 1))]))
    scores = rng.integers(-20, 20, size=n).astype(np.int64)
    pool_indices = rng.permutation(10 * n)[:n].astype(np.int64) if rng.random() < 0.5 else None
    return e, scores, k, int(rng.integers(0, 2**64, dtype=np.uint64)), pool_indices


def _classes(seed: int, n: int):
    """Seeded predicted classes: one class, a few, about one per candidate, or sparse large labels."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, int(rng.choice([1, 2, 3, 10, max(1, n)])), size=n)
    if rng.random() < 0.3:
        c = c * 1_000_003 + 2**40  # labels need not be small or contiguous
    return c.astype(np.int64)


def _both(rule, e, scores, k, seed, pool_indices=None, classes=None, labeled_counts=None, **params):
    emb, sc = (None, scores) if rule in ops.SCORE_RULES else (e, None)
    want = ops.pool_select(rule, emb, sc, k, seed, pool_indices, classes, labeled_counts, **params)
    assert want.dtype == np.int64 and want.shape == (k,)
    assert len(set(want.tolist())) == k and want.min() >= 0 and want.max() < len(scores if e is None else e)
    for kernels in KERNELS:
        got = _core.pool_select(rule, emb, sc, k, seed, pool_indices, classes, labeled_counts,
                                kernels=kernels, **params)
        assert np.array_equal(got, want), (rule, kernels, got[:12], want[:12])
    return want


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", range(40))
def test_cpp_equals_oracle(rule, case):
    seed = 1000 * RULES.index(rule) + case
    e, scores, k, s, pi = _case(seed)
    params = {}
    if rule == "typiclust" and case % 3 == 1:
        params = {"min_cluster_size": int(case % 7), "k_nn": 1 + case % 5, "max_cells": 1 + case % 9}
    if rule == "probcover" and case % 3 == 1:
        params = {"k_nn": 1 + case % 4}
    if rule == "probcover" and case % 3 == 2:
        params = {"delta": int(case * 97)}
    if rule == "power" and case % 2:
        params = {"beta": [0.0, 0.5, 3.0, 1e6, float("inf")][case % 5], "unit": [1.0, 0.01, 7.5][case % 3]}
    classes = labeled = None
    if rule == "classbalanced":
        classes = _classes(seed, len(e))
        params = {"beta": [0.0, 1.0, float("inf"), 0.5][case % 4], "unit": [1.0, 0.01, 7.5][case % 3]}
        if case % 2:  # labeled counts: short, long or empty arrays, small or huge counts
            rng = np.random.default_rng(seed)
            size = int(rng.choice([0, 1, 3, 11, int(classes.max() % 50) + 1]))
            labeled = rng.integers(0, int(rng.choice([1, 5, len(e) + 1, 2**62])), size=size, dtype=np.int64)
    try:
        _both(rule, e, scores, k, s, pi, classes, labeled, **params)
    except AssertionError as err:
        raise AssertionError(f"case seed {seed} (n={len(e)}, d={e.shape[1]}, k={k}): {err}") from None


@pytest.mark.parametrize("rule", ["kcenter", "typiclust", "probcover"])
def test_large_case(rule):
    """n = 3,000 with duplicate bursts, d = 17: the tiled passes and the probcover graph cache."""
    rng = np.random.default_rng(7)
    base = rng.integers(-128, 128, size=(1000, 17), dtype=np.int8)
    e = np.repeat(base, 3, axis=0)
    e[1::3, 0] = np.clip(e[1::3, 0].astype(int) + 1, -128, 127).astype(np.int8)
    for k in (1, 37, 3000):
        _both(rule, e, None, k, 99)


def test_probcover_dense_graph_fallback():
    """Every pair in one ball (> 32 n edges): the graph is not kept, the result is the same."""
    rng = np.random.default_rng(8)
    e = rng.integers(-2, 3, size=(300, 16), dtype=np.int8)
    _both("probcover", e, None, 50, 0, delta=10**6)
    _both("probcover", e, None, 300, 0, delta=40)


def test_pick_order_independent_of_candidate_order_for_kcenter_seed():
    rng = np.random.default_rng(3)
    e = rng.integers(-128, 128, size=(50, 8), dtype=np.int8)
    pi = np.arange(100, 150, dtype=np.int64)
    perm = rng.permutation(50)
    a = _core.pool_select("kcenter", e, None, 10, 5, pi)
    b = _core.pool_select("kcenter", e[perm], None, 10, 5, pi[perm])
    assert np.array_equal(pi[a], pi[perm][b])


# known answers --------------------------------------------------------------------------------


def test_kcenter_line_ends_then_middle():
    x = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], dtype=np.int8)[:, None]
    seed = next(s for s in range(100) if _core.pool_select("kcenter", x, None, 1, s)[0] == 5)
    picks = _both("kcenter", x, None, 3, seed).tolist()
    assert picks == [5, 0, 10]  # the middle first by its key, then the ends (farthest: 0 before 10)
    # From an end: the other end, then the middle.
    seed = next(s for s in range(100) if _core.pool_select("kcenter", x, None, 1, s)[0] == 0)
    assert _both("kcenter", x, None, 3, seed).tolist() == [0, 10, 5]


def _blobs(rng, centres, sizes, spread):
    rows, labels = [], []
    for b, (c, m) in enumerate(zip(centres, sizes)):
        rows.append(np.clip(c + rng.integers(-spread, spread + 1, size=(m, len(c))), -128, 127))
        labels += [b] * m
    return np.concatenate(rows).astype(np.int8), np.array(labels)


def test_typiclust_one_pick_per_blob_the_densest():
    rng = np.random.default_rng(4)
    centres = np.array([[-100, -100, 0], [100, -100, 0], [0, 100, 0], [-100, 100, 100]])
    e, labels = _blobs(rng, centres, [30, 25, 20, 15], 6)
    # Make one member per blob the exact centre, sitting amid its neighbours: the most typical.
    for b, c in enumerate(centres):
        e[np.nonzero(labels == b)[0][-1]] = c
    picks = _both("typiclust", e, None, 4, 1)
    assert sorted(labels[picks].tolist()) == [0, 1, 2, 3]
    assert labels[picks].tolist() == [0, 1, 2, 3]  # cells largest first
    for p in picks:
        mem = np.nonzero(labels == labels[p])[0]
        d = ops.sq_dists(e, mem)
        kk = min(20, len(mem) // 2)
        sums = np.sort(d + np.diag([2**40] * len(mem)), axis=1)[:, :kk].sum(axis=1)
        assert sums[list(mem).index(p)] == sums.min()


def test_probcover_one_pick_covers_each_blob():
    rng = np.random.default_rng(5)
    centres = np.array([[-100, -100], [100, -100], [0, 100]])
    e, labels = _blobs(rng, centres, [20, 20, 20], 3)
    delta = 2 * (6 ** 2) + 1  # above any intra-blob squared distance, far below inter-blob
    picks = _both("probcover", e, None, 3, 0, delta=delta)
    assert sorted(labels[picks].tolist()) == [0, 1, 2]
    # With delta from the data (K = 10 < the blob size), the first picks reach every blob too.
    picks = _both("probcover", e, None, 5, 0, k_nn=10)
    assert len(set(labels[picks].tolist())) == 3


def test_probcover_continues_farthest_first_when_all_covered():
    x = np.array([0, 1, 50, 51, 100], dtype=np.int8)[:, None]
    picks = _both("probcover", x, None, 5, 0, delta=1)
    # Balls {0, 1}, {2, 3}, {4}: three picks cover all; then farthest-first (ties: lowest position).
    assert picks.tolist() == [0, 2, 4, 1, 3]


def test_power_huge_beta_is_top_k_and_equal_scores_are_random_order():
    rng = np.random.default_rng(6)
    n = 500
    scores = rng.permutation(n).astype(np.int64) * 1000 - 7
    top = np.argsort(scores, kind="stable")[:50]
    for beta in (1e9, float("inf")):
        assert np.array_equal(_both("power", None, scores, 50, 3, beta=beta), top)
    ties = np.array([4, 1, 4, 4, 1, 2], dtype=np.int64)
    assert _both("power", None, ties, 6, 3, beta=float("inf")).tolist() == [1, 4, 5, 0, 2, 3]
    equal = np.full(n, 42, dtype=np.int64)
    pi = np.arange(1000, 1000 + n, dtype=np.int64)
    random_order = np.argsort(random_keys(n, 1000, 77), kind="stable")
    for beta in (1.0, 0.0, 5.0):
        assert np.array_equal(_both("power", None, equal, n, 77, pi, beta=beta), random_order)


def test_power_prefers_small_keys_on_average():
    n = 2000
    scores = np.arange(n, dtype=np.int64)
    picks = _both("power", None, scores, 200, 11, unit=0.01, beta=2.0)
    assert np.median(picks) < n / 4


def test_classbalanced_known_answer():
    # beta = inf: within a class by (key, position). Classes 0: positions 1, 4, 2, 6 (keys 1, 2,
    # 3, 7); 1: position 3; 2: positions 5, 7, 0 (keys 2, 4, 5). Visits: class 1 (one candidate),
    # class 2 (three), class 0 (four); class 1 is exhausted after the first round.
    scores = np.array([5, 1, 3, 0, 2, 2, 7, 4], dtype=np.int64)
    classes = np.array([2, 0, 0, 1, 0, 2, 0, 2], dtype=np.int64)
    inf = float("inf")
    assert _both("classbalanced", None, scores, 8, 0, None, classes, beta=inf).tolist() == [3, 5, 1, 7, 4, 0, 2, 6]
    assert _both("classbalanced", None, scores, 4, 0, None, classes, beta=inf).tolist() == [3, 5, 1, 7]
    # Equal keys and equal class sizes: the lower class first, then the lower position.
    tie_c = np.array([1, 0, 1, 0], dtype=np.int64)
    zeros = np.zeros(4, dtype=np.int64)
    assert _both("classbalanced", None, zeros, 4, 0, None, tie_c, beta=inf).tolist() == [1, 0, 3, 2]


def test_classbalanced_within_class_is_power_order():
    """One class: classbalanced is power; many classes: each class's picks come in power's order."""
    for case in range(12):
        rng = np.random.default_rng(500 + case)
        n = int(rng.integers(1, 300))
        scores = rng.integers(-5, 5, size=n).astype(np.int64)
        beta = [0.0, 1.0, float("inf")][case % 3]
        seed = int(rng.integers(0, 2**63))
        one = np.full(n, 3, dtype=np.int64)
        power = _both("power", None, scores, n, seed, beta=beta)
        assert np.array_equal(_both("classbalanced", None, scores, n, seed, None, one, beta=beta), power), case
        classes = rng.integers(0, 4, size=n).astype(np.int64)
        picks = _both("classbalanced", None, scores, n, seed, None, classes, beta=beta)
        for c in np.unique(classes):
            assert np.array_equal(picks[classes[picks] == c], power[classes[power] == c]), (case, c)
        # Balanced: after m full rounds every class still holding m candidates has m picks.
        counts = np.bincount(classes)
        first = picks[:int(np.sum(np.minimum(counts, 2)))]
        assert np.array_equal(np.bincount(classes[first], minlength=len(counts)), np.minimum(counts, 2)), case


def test_classbalanced_labeled_counts_known_answer():
    # As test_classbalanced_known_answer's pool (beta = inf); labeled 0: 3, 1: 0, 2: 1 images.
    # Levels (labeled + picked): 0:3, 1:0, 2:1 -> class 1 (pos 3); then 1:1 ties 2:1, class 1 is
    # exhausted -> class 2 (pos 5); 2:2 -> class 2 (pos 7); now 0:3 ties 2:3 and class 2 has
    # fewer candidates (3 < 4) -> class 2 (pos 0, exhausted); then class 0 in key order.
    scores = np.array([5, 1, 3, 0, 2, 2, 7, 4], dtype=np.int64)
    classes = np.array([2, 0, 0, 1, 0, 2, 0, 2], dtype=np.int64)
    inf = float("inf")
    counts = np.array([3, 0, 1], dtype=np.int64)
    assert _both("classbalanced", None, scores, 8, 0, None, classes, counts, beta=inf).tolist() == \
        [3, 5, 7, 0, 1, 4, 2, 6]
    # Counts past the last class are ignored; missing ones are 0; all-zero counts change nothing.
    assert _both("classbalanced", None, scores, 8, 0, None, classes, np.array([3, 0, 1, 9, 9], np.int64),
                 beta=inf).tolist() == [3, 5, 7, 0, 1, 4, 2, 6]
    # Only class 0 given (3): classes 1 and 2 start at 0, the same picks as above.
    assert _both("classbalanced", None, scores, 8, 0, None, classes, np.array([3], np.int64),
                 beta=inf).tolist() == [3, 5, 7, 0, 1, 4, 2, 6]
    # Class 2 well labeled (5): class 1's one candidate, then all of class 0, class 2 last.
    assert _both("classbalanced", None, scores, 8, 0, None, classes, np.array([0, 0, 5], np.int64),
                 beta=inf).tolist() == [3, 1, 4, 2, 6, 5, 7, 0]
    plain = _both("classbalanced", None, scores, 8, 0, None, classes, beta=inf)
    assert np.array_equal(_both("classbalanced", None, scores, 8, 0, None, classes, np.zeros(3, np.int64),
                                beta=inf), plain)


def test_classbalanced_labeled_counts_fill_the_rare_classes():
    """Water-filling: the picks raise the least labeled classes first, until every class with
    candidates left stands within one image of the others."""
    rng = np.random.default_rng(11)
    for case in range(20):
        n, c = int(rng.integers(50, 400)), int(rng.integers(2, 8))
        classes = rng.integers(0, c, size=n).astype(np.int64)
        counts = rng.integers(0, 40, size=c).astype(np.int64)
        k = int(rng.integers(1, n + 1))
        picks = _both("classbalanced", None, rng.integers(-9, 9, size=n).astype(np.int64), k,
                      int(rng.integers(0, 2**62)), None, classes, counts, beta=1.0)
        level = counts + np.bincount(classes[picks], minlength=c)
        left = np.bincount(classes, minlength=c) - np.bincount(classes[picks], minlength=c)
        open_ = (left > 0) & (np.bincount(classes, minlength=c) > 0)
        if open_.any():
            # No class with candidates left lags behind a class that took a pick beyond its count.
            took = np.bincount(classes[picks], minlength=c) > 0
            assert level[open_].min() >= level[took].max() - 1, (case, counts, level, left)


def test_classbalanced_balances_an_imbalanced_pool():
    n = 1000
    classes = np.where(np.arange(n) < 900, 0, 1 + np.arange(n) % 3).astype(np.int64)  # 90% class 0
    scores = np.zeros(n, dtype=np.int64)
    picks = _both("classbalanced", None, scores, 60, 5, None, classes, beta=0.0)
    assert np.bincount(classes[picks], minlength=4).tolist() == [15, 15, 15, 15]


# errors ---------------------------------------------------------------------------------------

E = np.zeros((5, 4), dtype=np.int8)
S = np.zeros(5, dtype=np.int64)


@pytest.mark.parametrize("call, message", [
    (lambda f: f("kcenter", E, None, 6, 0), "k = 6 must be in 1..5"),
    (lambda f: f("kcenter", E, None, 0, 0), "k = 0 must be in 1..5"),
    (lambda f: f("kcenter", E.astype(np.int16), None, 1, 0), "int8"),
    (lambda f: f("kcenter", E[0], None, 1, 0), "2 dimensions"),
    (lambda f: f("kcenter", np.zeros((5, 0), np.int8), None, 1, 0), "d = 0"),
    (lambda f: f("kcenter", np.zeros((0, 3), np.int8), None, 1, 0), "empty"),
    (lambda f: f("kcenter", None, None, 1, 0), "needs embeddings"),
    (lambda f: f("kcenter", E, S, 1, 0), "takes no scores"),
    (lambda f: f("power", None, None, 1, 0), "needs scores"),
    (lambda f: f("power", None, S.astype(np.int32), 1, 0), "int64"),
    (lambda f: f("power", None, S, 1, 0, beta=-1.0), "beta"),
    (lambda f: f("power", None, S, 1, 0, beta=float("nan")), "beta"),
    (lambda f: f("power", None, S, 1, 0, unit=0.0), "unit"),
    (lambda f: f("typiclust", E, None, 1, 0, k_nn=0), "k_nn"),
    (lambda f: f("typiclust", E, None, 1, 0, delta=3), "no parameter 'delta'"),
    (lambda f: f("kcenter", E, None, 1, 0, np.array([0, 1, 2, 3, -1])), "pool_indices"),
    (lambda f: f("kcenter", E, None, 1, 0, np.arange(4)), "pool_indices"),
    (lambda f: f("nearest", E, None, 1, 0), "unknown pool rule"),
    (lambda f: f("classbalanced", None, S, 1, 0), "needs classes"),
    (lambda f: f("classbalanced", None, None, 1, 0, None, S), "needs scores"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S - 1), "classes must be >= 0"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S[:4]), r"classes must have shape (5,)"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S.reshape(5, 1)), "classes must"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S.astype(np.int32)), "int64"),
    (lambda f: f("classbalanced", None, S, 6, 0, None, S), "k = 6 must be in 1..5"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, beta=-1.0), "beta"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, k_nn=3), "no parameter 'k_nn'"),
    (lambda f: f("power", None, S, 1, 0, None, S), "takes no classes"),
    (lambda f: f("power", None, S, 1, 0, None, None, S), "takes no labeled_counts"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, S - 1), "labeled_counts must be in 0..2"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, S + 2**62 + 1), "labeled_counts must be in 0..2"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, S.astype(np.int32)), "int64"),
    (lambda f: f("classbalanced", None, S, 1, 0, None, S, S.reshape(5, 1)), "labeled_counts must"),
    (lambda f: f("kcenter", E, None, 1, 0, None, S), "takes no classes"),
])
@pytest.mark.parametrize("impl", ["oracle", "native"])
def test_errors_are_value_errors(call, message, impl):
    f = ops.pool_select if impl == "oracle" else _core.pool_select
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(f)


def test_scratch_bytes_stated_in_header():
    # pool_select.h states these for n = 10,000, d = 256 (k = 100; typiclust's grow with k).
    mb = {r: _core.pool_select_scratch_bytes(r, 10000, 256, 100) / 1e6 for r in RULES}
    assert round(mb["kcenter"], 1) == 2.7
    assert round(mb["typiclust"], 1) == 4.6
    assert round(mb["probcover"], 1) == 9.9
    assert round(mb["power"], 1) == 0.2
    assert round(mb["classbalanced"], 2) == 0.32
    assert _core.POOL_RULES == RULES


def test_ctest_goldens_match_oracle():
    """csrc/tests/test_pool_select.cpp's golden picks (run natively and under qemu) are the oracle's."""
    import re
    from pathlib import Path

    src = (Path(__file__).resolve().parents[2] / "csrc" / "tests" / "test_pool_select.cpp").read_text()
    block = src[src.index("// BEGIN GOLDEN"):src.index("// END GOLDEN")]
    want = {m.group(1).lower(): [int(v) for v in m.group(2).split(",")]
            for m in re.finditer(r"kGolden(\w+)\[\] = \{([^}]*)\}", block)}
    s, mask = 2024, 2**64 - 1

    def lcg():
        nonlocal s
        s = (s * 6364136223846793005 + 1442695040888963407) & mask
        return s >> 33

    e = np.array([[lcg() % 9 - 4 for _ in range(5)] for _ in range(40)], dtype=np.int8)
    scores = np.array([lcg() % 11 - 5 for _ in range(40)], dtype=np.int64)
    seed = 0x0123456789ABCDEF
    for rule in RULES:
        if rule == "power":
            got = ops.pool_select(rule, None, scores, 12, seed, beta=1.5, unit=0.25)
        elif rule == "classbalanced":
            classes = np.array([lcg() % 4 for _ in range(40)], dtype=np.int64)
            got = ops.pool_select(rule, None, scores, 12, seed, classes=classes, beta=1.5, unit=0.25)
        else:
            got = ops.pool_select(rule, e, None, 12, seed)
        assert got.tolist() == want[rule], rule
