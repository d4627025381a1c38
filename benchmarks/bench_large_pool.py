"""rank_pool over a pool larger than memory: a np.memmap of N raw images on disk.

    python benchmarks/bench_large_pool.py [--n 1000000] [--arch tiny] [--dir /tmp] [--k 1000]

Creates the memmap (N x 32 x 32 x 3 uint8: 3.07 GB for a million images) in a temporary directory
under --dir, ranks it, ranks the same pool handed over as copied chunks, checks both rankings are
equal, and deletes the file. A sampler thread reads /proc/self/status every 50 ms. The memmap's
pages are file-backed page cache (RssFile), which the kernel reclaims; the runtime's own memory is
anonymous (RssAnon), so the claim "memory O(k + batch)" is checked on RssAnon growth (<= 100 MB).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time

import numpy as np

import fdal
from fdal import format as fmt
from fdal import testing

SHAPE = (32, 32, 3)
FILL_CHUNK = 65536


def status_kb(fields=("RssAnon", "RssFile", "VmRSS", "VmHWM")) -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name in fields:
                out[name] = int(value.split()[0])
    return out


class RssSampler:
    """Peak of each /proc/self/status field over the sampling period."""

    def __init__(self, period=0.05):
        self.period, self.peak, self._stop = period, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for name, kb in status_kb().items():
                self.peak[name] = max(self.peak.get(name, 0), kb)
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def fill(path: str, n: int, seed: int) -> np.memmap:
    pool = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, *SHAPE))
    rng = np.random.default_rng(seed)
    base = testing.random_images(seed, 256, SHAPE)  # structured images, varied by noise per chunk
    for start in range(0, n, FILL_CHUNK):
        m = min(FILL_CHUNK, n - start)
        noise = rng.integers(0, 48, size=(m, *SHAPE), dtype=np.uint8)
        pool[start:start + m] = base[np.arange(start, start + m) % 256] // 2 + noise
    pool.flush()
    del pool
    return np.load(path, mmap_mode="r")


def chunks(pool, size=50_000):
    for start in range(0, len(pool), size):
        yield np.array(pool[start:start + size])  # a copy: an in-memory batch, as a loader would yield


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--arch", default="tiny", choices=testing.ARCHS)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--strategy", default="fdal")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()

    model = fdal.load(fmt.write_model(testing.random_model(1, args.arch, n_calibration=64)))
    work = tempfile.mkdtemp(prefix="fdal_large_pool_", dir=args.dir)
    try:
        t0 = time.perf_counter()
        pool = fill(os.path.join(work, "pool.npy"), args.n, seed=7)
        print(f"memmap: {args.n} images, {pool.nbytes / 1e9:.2f} GB in {work} "
              f"(written in {time.perf_counter() - t0:.0f} s)")
        before = status_kb()
        with RssSampler() as s:
            t0 = time.perf_counter()
            ranked = fdal.rank_pool(model, pool, args.k, strategy=args.strategy)
            dt = time.perf_counter() - t0
        growth_mb = (s.peak["RssAnon"] - before["RssAnon"]) / 1024
        print(f"rank_pool(memmap, k={args.k}, {args.arch}, {model.kernels}): {dt:.1f} s, "
              f"{args.n / dt:.0f} images/s")
        print(f"  RssAnon {before['RssAnon'] / 1024:.0f} MB -> peak {s.peak['RssAnon'] / 1024:.0f} MB "
              f"(growth {growth_mb:.1f} MB); RssFile peak {s.peak['RssFile'] / 1024:.0f} MB (page cache of the "
              f"memmap); VmRSS peak {s.peak['VmRSS'] / 1024:.0f} MB; VmHWM {s.peak['VmHWM'] / 1024:.0f} MB")
        t0 = time.perf_counter()
        by_chunks = fdal.rank_pool(model, chunks(pool), args.k, strategy=args.strategy)
        print(f"rank_pool(chunks of 50,000): {time.perf_counter() - t0:.1f} s")
        same = np.array_equal(ranked, by_chunks)
        print(f"memmap ranking == chunked ranking: {same}")
        print(f"RssAnon growth <= 100 MB: {growth_mb <= 100}")
        if not same or growth_mb > 100:
            raise SystemExit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
