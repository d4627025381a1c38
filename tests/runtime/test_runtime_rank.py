"""rank_pool against oracle.rank for every strategy, and the properties of rank_pool: k distinct
indices best first, determinism, streaming = in-memory, memmap / non-contiguous = contiguous."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import oracle, testing
from fdal.strategies import PER_IMAGE_STRATEGIES


@pytest.mark.parametrize("strategy", PER_IMAGE_STRATEGIES)  # pool-level: test_rank_pool_level.py
@pytest.mark.parametrize("fixture", ["vgg", "alexnet"])
def test_rank_pool_matches_oracle(request, fixture, strategy, pool):
    pair = request.getfixturevalue(fixture)
    for seed in (0, 2**64 - 1):
        # The oracle's full order (a stable argsort); every k is a prefix of it.
        full = oracle.rank(pair.spec, pool, len(pool), strategy, seed=seed)
        for k in (1, 25, len(pool)):
            got = fdal.rank_pool(pair.model, pool, k, strategy=strategy, seed=seed, batch_size=47)
            np.testing.assert_array_equal(got, full[:k], err_msg=f"{fixture} {strategy} k={k} seed={seed}")
        if strategy != "random":
            break  # the seed matters for "random" only


@pytest.mark.parametrize("strategy", ["margin", "entropy", "random"])
def test_rank_pool_without_sampler_matches_oracle(tiny_no_sampler, strategy):
    images = testing.random_images(5, 120, tiny_no_sampler.spec.input_shape)
    got = fdal.rank_pool(tiny_no_sampler.model, images, 30, strategy=strategy, seed=3)
    np.testing.assert_array_equal(got, oracle.rank(tiny_no_sampler.spec, images, 30, strategy, seed=3))


def oracle_keys(pair, images, strategy, seed=0):
    return oracle.keys(oracle.forward(pair.spec, images), strategy, seed=seed)


@pytest.mark.parametrize("strategy", PER_IMAGE_STRATEGIES)  # pool-level: test_rank_pool_level.py
def test_properties(vgg, pool, strategy):
    k = 40
    idx = fdal.rank_pool(vgg.model, pool, k, strategy=strategy, seed=11)
    assert idx.dtype == np.int64 and idx.shape == (k,)
    assert len(set(idx.tolist())) == k and idx.min() >= 0 and idx.max() < len(pool)
    keys = oracle_keys(vgg, pool, strategy, seed=11)
    chosen = keys[idx]
    # Best first: keys ascend, ties by ascending index; nothing left out is better than the k-th.
    order = np.lexsort((idx, chosen))
    np.testing.assert_array_equal(order, np.arange(k))
    rest = np.setdiff1d(np.arange(len(pool)), idx)
    assert np.all(keys[rest] >= chosen[-1])
    np.testing.assert_array_equal(idx, fdal.rank_pool(vgg.model, pool, k, strategy=strategy, seed=11))


def test_random_depends_on_seed_and_covers_pool(vgg, pool):
    a = fdal.rank_pool(vgg.model, pool, 50, strategy="random", seed=1)
    b = fdal.rank_pool(vgg.model, pool, 50, strategy="random", seed=2)
    assert not np.array_equal(a, b)
    everything = fdal.rank_pool(vgg.model, pool, len(pool), strategy="random", seed=1)
    np.testing.assert_array_equal(np.sort(everything), np.arange(len(pool)))  # without replacement


@pytest.mark.parametrize("strategy", PER_IMAGE_STRATEGIES)  # pool-level: test_rank_pool_level.py
def test_streaming_equals_in_memory(vgg, pool, strategy):
    want = fdal.rank_pool(vgg.model, pool, 33, strategy=strategy, seed=5)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, len(pool)), size=6, replace=False))
    batches = np.split(pool, cuts)
    for batch_size in (1, 7, 10_000):
        got = fdal.rank_pool(vgg.model, iter(batches), 33, strategy=strategy, seed=5, batch_size=batch_size)
        np.testing.assert_array_equal(got, want, err_msg=f"batch_size {batch_size}")
        got = fdal.rank_pool(vgg.model, pool, 33, strategy=strategy, seed=5, batch_size=batch_size)
        np.testing.assert_array_equal(got, want, err_msg=f"in-memory batch_size {batch_size}")
    # Generators work too, including empty batches in between.
    gen = (b for b in [pool[:0], pool[:60], pool[60:60], pool[60:]])
    np.testing.assert_array_equal(fdal.rank_pool(vgg.model, gen, 33, strategy=strategy, seed=5), want)


def test_memmap_and_noncontiguous_equal_contiguous(vgg, pool, tmp_path):
    want = fdal.rank_pool(vgg.model, pool, 20, strategy="margin")
    path = tmp_path / "pool.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=pool.shape)
    mm[:] = pool
    mm.flush()
    readonly = np.memmap(path, dtype=np.uint8, mode="r", shape=pool.shape)
    np.testing.assert_array_equal(fdal.rank_pool(vgg.model, readonly, 20, strategy="margin"), want)
    strided = np.ascontiguousarray(pool.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(fdal.rank_pool(vgg.model, strided, 20, strategy="margin"), want)
    doubled = np.repeat(pool, 2, axis=0)[1::2]
    np.testing.assert_array_equal(fdal.rank_pool(vgg.model, doubled, 20, strategy="margin"), want)


def test_numpy_integer_k(vgg, pool):
    a = fdal.rank_pool(vgg.model, pool, np.int64(5), batch_size=np.int32(64))
    np.testing.assert_array_equal(a, fdal.rank_pool(vgg.model, pool, 5))
