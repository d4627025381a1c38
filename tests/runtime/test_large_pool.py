"""A pool on disk (np.memmap) ranks exactly like the same pool in memory and like its chunks;
the small, fast version of benchmarks/bench_large_pool.py (which checks memory on 1M images)."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing

N = 20_000


@pytest.fixture(scope="module")
def model():
    return fdal.load(fmt.write_model(testing.random_model(41, "tiny", n_calibration=32)))


@pytest.fixture(scope="module")
def memmap_pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.npy"
    pool = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(N, 32, 32, 3))
    base = testing.random_images(42, 500)
    noise = np.random.default_rng(43).integers(0, 40, size=pool.shape, dtype=np.uint8)
    pool[:] = base[np.arange(N) % 500] // 2 + noise  # every image distinct
    pool.flush()
    del pool
    return np.load(path, mmap_mode="r")


def test_memmap_equals_array_equals_chunks(model, memmap_pool):
    strategy = "fdal"
    assert isinstance(memmap_pool, np.memmap)
    in_memory = np.array(memmap_pool)
    k = 300
    from_memmap = fdal.rank_pool(model, memmap_pool, k, strategy=strategy, batch_size=1000)
    from_array = fdal.rank_pool(model, in_memory, k, strategy=strategy, batch_size=777)
    chunks = (np.array(memmap_pool[s:s + 4096]) for s in range(0, N, 4096))
    from_chunks = fdal.rank_pool(model, chunks, k, strategy=strategy)
    np.testing.assert_array_equal(from_memmap, from_array)
    np.testing.assert_array_equal(from_memmap, from_chunks)
    assert len(set(from_memmap.tolist())) == k and from_memmap.min() >= 0 and from_memmap.max() < N
