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
from fdal.runtime import _rank_entries, decode_keys, pick_scores
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
