"""rank_pool(return_scores=True): the scores are the oracle's ranking keys of the picks, read from the
native ranker without running any image twice."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import oracle
from fdal.oracle.keys import keys as oracle_keys
from fdal.testing.scores import pick_scores


def _oracle_keys(pair, pool, strategy, seed):
    out = oracle.forward(pair.spec, pool)
    return np.asarray(oracle_keys(out, strategy, seed=seed), dtype=np.float64)


@pytest.mark.parametrize("strategy", ["fdal", "margin", "entropy", "random"])
def test_scores_are_oracle_keys_in_ascending_order(vgg, pool, strategy):
    idx, scores = fdal.rank_pool(vgg.model, pool, 20, strategy=strategy, seed=4, return_scores=True)
    np.testing.assert_array_equal(idx, fdal.rank_pool(vgg.model, pool, 20, strategy=strategy, seed=4))
    assert scores.dtype == np.float64 and scores.shape == (20,)
    want = _oracle_keys(vgg, pool, strategy, 4)[idx]
    if strategy == "entropy":
        np.testing.assert_allclose(scores, want, rtol=0, atol=1e-12)
    else:
        np.testing.assert_array_equal(scores, want)
    assert np.all(np.diff(scores) >= 0)  # smaller keys rank first


def test_pool_level_score_is_margin_key(vgg, pool):
    idx, scores = fdal.rank_pool(vgg.model, pool, 10, strategy="power", seed=2, cap=64, return_scores=True)
    np.testing.assert_array_equal(scores, _oracle_keys(vgg, pool, "margin", 2)[idx])


@pytest.mark.parametrize("strategy", ["random", "margin", "classbalanced"])
def test_scores_for_a_streamed_pool(vgg, pool, strategy):
    idx, got = fdal.rank_pool(vgg.model, iter([pool[:50], pool[50:]]), 7, strategy=strategy, seed=9, cap=80,
                              return_scores=True)
    want_idx, want = fdal.rank_pool(vgg.model, pool, 7, strategy=strategy, seed=9, cap=80, return_scores=True)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(got, want)
    score_strategy = "margin" if strategy == "classbalanced" else strategy  # pool-level: the margin key
    np.testing.assert_array_equal(pick_scores(vgg.model, pool[idx], idx, strategy=score_strategy, seed=9), want)


@pytest.mark.parametrize("strategy", ["fdal", "entropy", "power"])
def test_return_scores_runs_forward_once(vgg, pool, strategy, counting_core):
    idx, scores = fdal.rank_pool(vgg.model, pool, 9, strategy=strategy, seed=5, cap=len(pool), batch_size=40,
                                 return_scores=True)
    assert counting_core.python_forwards == 0 and len(counting_core.rankers) == 1
    assert counting_core.forwarded == len(pool)  # every image once (cap = the pool: every chunk has candidates)
    assert len(idx) == len(scores) == 9
