"""rank_pool(start_index=s): a shard of a larger pool ranked with the whole pool's indices (issue 18):
random keys of the global index, ties to the lower global index, the offset in the returned indices;
and the exact keys the native ranker compared (runtime.decode_keys of its encoded keys)."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing
from fdal.oracle.keys import random_keys
from fdal.runtime import _rank_entries, decode_keys
from fdal.testing.scores import pick_scores
from fdal.strategies import PER_IMAGE_STRATEGIES

SEED = 1818


@pytest.fixture(scope="module")
def model():
    return fdal.load(fmt.write_model(testing.random_model(SEED, "tiny", n_calibration=32, input_shape=(8, 8, 3))))


@pytest.fixture(scope="module")
def pool():
    return testing.random_images(SEED + 1, 150, (8, 8, 3))


@pytest.mark.parametrize("start", [0, 1, 97, 2**40])
def test_random_uses_the_global_index(model, pool, start):
    got = fdal.rank_pool(model, pool, 20, strategy="random", seed=SEED, start_index=start, batch_size=33)
    want = start + np.argsort(random_keys(len(pool), start, SEED), kind="stable")[:20]
    np.testing.assert_array_equal(got, want, err_msg=f"seed {SEED} start {start}")


@pytest.mark.parametrize("strategy", ["fdal", "margin", "entropy"])
def test_key_strategies_are_offset(model, pool, strategy):
    # Keys do not depend on the index and the offset keeps the order of ties: the same picks, shifted.
    base = fdal.rank_pool(model, pool[40:], 25, strategy=strategy)
    got = fdal.rank_pool(model, pool[40:], 25, strategy=strategy, start_index=40, threads=2, batch_size=17)
    np.testing.assert_array_equal(got, base + 40)


@pytest.mark.parametrize("strategy", PER_IMAGE_STRATEGIES)
def test_scores_and_native_keys_with_an_offset(model, pool, strategy):
    picks, scores = fdal.rank_pool(model, pool[60:], 12, strategy=strategy, seed=SEED, start_index=60,
                                   return_scores=True)
    np.testing.assert_array_equal(scores, pick_scores(model, pool[picks], picks, strategy=strategy, seed=SEED))
    indices, encoded = _rank_entries(model, pool[60:], 12, strategy=strategy, seed=SEED, start_index=60)
    np.testing.assert_array_equal(indices, picks)
    keys = decode_keys(encoded, strategy)
    assert keys.dtype == np.dtype(fdal.strategies.BY_NAME[strategy].key_dtype)
    assert np.all(keys[:-1] <= keys[1:]), keys  # best first
    if strategy == "random":  # exact uint64, which float64 scores round
        np.testing.assert_array_equal(keys, random_keys(len(pool), 0, SEED)[picks])
    else:
        np.testing.assert_array_equal(keys.astype(np.float64), scores)


@pytest.mark.parametrize("bad", [-1, 2**62 + 1, 2**64, 1.5, True, "3"])
def test_bad_start_index(model, pool, bad):
    with pytest.raises(ValueError, match="start_index"):
        fdal.rank_pool(model, pool, 3, start_index=bad)


def test_model_digest(model):
    data = fmt.write_model(testing.random_model(SEED, "tiny", n_calibration=32, input_shape=(8, 8, 3)))
    import hashlib
    assert fdal.load(data).sha256 == hashlib.sha256(data).hexdigest() == model.sha256


def _scattered(n, seed):
    """n strictly ascending pool indices spread over a larger pool (gaps of 1..40)."""
    return np.cumsum(np.random.default_rng(seed).integers(1, 41, size=n)).astype(np.int64)


@pytest.mark.parametrize("strategy", ["random", "margin", "power", "classbalanced"])
def test_pool_indices_seed_and_name_the_picks(model, pool, strategy):
    # A subset of a larger pool ranked with its indices there: random keys, the rule's seeds and
    # the returned indices are the given ones. Ground truth: the oracle keys of those indices, or
    # pool_select over the oracle's margin keys seeded by those indices (the path training's
    # on-device classbalanced took before rank_pool had pool_indices).
    from fdal import oracle
    from fdal.oracle.keys import keys, random_keys as oracle_random_keys
    spec = testing.random_model(SEED, "tiny", n_calibration=32, input_shape=(8, 8, 3))
    idx = _scattered(len(pool), SEED)
    got = fdal.rank_pool(model, pool, 9, strategy=strategy, seed=SEED, pool_indices=idx, batch_size=37, cap=len(pool))
    if strategy == "random":
        rk = oracle_random_keys(int(idx.max()) + 1, 0, SEED)[idx]
        want = idx[np.lexsort((idx, rk))[:9]]
    else:
        out = oracle.forward(spec, pool)
        margin = np.asarray(keys(out, "margin"), dtype=np.int64)
        if strategy == "margin":
            want = idx[np.lexsort((idx, margin))[:9]]
        else:
            unit = float(np.float32(spec.layers[spec.logits_layer].out_scale))
            classes = np.argmax(out["logits_raw"].astype(np.int64), axis=1)
            extra = {"classes": classes} if strategy == "classbalanced" else {}
            want = idx[oracle.pool_select.pool_select(strategy, None, margin, 9, SEED, idx, unit=unit, **extra)]
    np.testing.assert_array_equal(got, want, err_msg=f"seed {SEED} strategy {strategy}")


def test_bad_pool_indices(model, pool):
    idx = _scattered(len(pool), 3)
    cases = [(idx[::-1], "strictly ascending"), (np.r_[idx[:-1], idx[-2]], "strictly ascending"),
             (idx[:-1], "150 pool images"), (np.r_[-1, idx[1:]], "strictly ascending"),
             (idx.astype(float), "integers")]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            fdal.rank_pool(model, pool, 3, pool_indices=bad)
    with pytest.raises(ValueError, match="either start_index or pool_indices"):
        fdal.rank_pool(model, pool, 3, pool_indices=idx, start_index=2)
    with pytest.raises(ValueError, match="array pool"):
        fdal.rank_pool(model, iter([pool]), 3, pool_indices=idx)


def test_native_ranker_refuses_indices_that_do_not_ascend(model, pool):
    from fdal import _core
    ranker = _core.Ranker(model._native, "margin", 3, 0)
    ranker.push(pool[:5], np.arange(10, 15, dtype=np.int64))
    for bad in (np.arange(14, 19), np.array([20, 30, 30, 40, 50])):
        with pytest.raises(ValueError, match="pool indices ascend strictly"):
            ranker.push(pool[5:10], bad.astype(np.int64))
    assert ranker.seen == 5  # a refused push ranks nothing
    ranker.push(pool[5:10], np.arange(15, 20, dtype=np.int64))
    assert sorted(ranker.finish()) == sorted(fdal.rank_pool(model, pool[:10], 3, strategy="margin") + 10)
