"""`fdal cycle pick` on a folder of 128x128 JPEG files: decoding into the campaign's cache, and
ranking the cached pool, in images/s (docs/workflow.md, "Speed").

N seeded JPEGs (128x128, quality 90, bench_rank_folder.make_jpegs) are written to a temporary
folder, a campaign state is made over them, and the two halves of a pick are timed with the
functions `fdal cycle pick` runs:
    decode (cold)   pixel_cache.sync_pool with a new cache: list, read, hash, decode on
                    --workers processes (default: every core), write the uint8 cache
    check (warm)    sync_pool again: every file is already cached (stat only)
    rank            pick.rank_round over the cached pool (memmap) with a seeded random VGG11-lite
                    .fdal (same size and speed as a trained student), --strategy, k = 200,
                    on 1 thread and on every core
The rates depend on the machine's load: the table names the CPU and its load average.

    python benchmarks/bench_cycle_pick.py --n 20000
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import cpu_name  # benchmarks/, the script's folder
from bench_rank_folder import make_jpegs


def measure(folder: str, proj: str, workers: int, strategy: str, k: int) -> dict:
    import fdal
    from fdal import format as fmt, testing
    from fdal.campaign.pick import rank_round
    from fdal.campaign.pixel_cache import sync_pool
    from fdal.campaign.pool import parse_pool_arg
    from fdal.campaign.state import new_state
    state = new_state([f"c{i}" for i in range(10)], "(benchmark: no teacher)", "", [parse_pool_arg(folder)],
                      (32, 32, 3), 0, "smoke")
    t0 = time.perf_counter()
    pixels, stats = sync_pool(proj, state, workers=workers)
    cold = time.perf_counter() - t0
    assert stats["decoded"] == len(pixels), stats
    t0 = time.perf_counter()
    sync_pool(proj, state, workers=workers)
    warm = time.perf_counter() - t0
    model = fdal.load(fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32)))
    cand = np.arange(len(pixels), dtype=np.int64)
    rank = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        _, _, seconds = rank_round(state, pixels, model, cand, k, strategy, 0, len(cand), threads, lambda m: None)
        rank[threads] = seconds
    return {"n": len(pixels), "cold_s": cold, "warm_s": warm, "rank_s": rank,
            "cache_mb": os.path.getsize(Path(proj) / "cache" / "pixels.u8") / 2**20}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[20000])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes")
    ap.add_argument("--strategy", default="fdal")
    ap.add_argument("-k", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores), load average {os.getloadavg()[0]:.1f} at start; "
          f"{args.workers} decoding processes; JPEG 128x128 q90 -> 32x32x3; strategy {args.strategy}, k {args.k}\n")
    print("| files | decode s (cold) | decode images/s | check s (warm) | rank images/s, 1 thread | "
          "rank images/s, all cores | cache MB |")
    print("|---|---|---|---|---|---|---|")
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="fdal-bench-cycle-") as tmp:
            folder = os.path.join(tmp, "photos")
            make_jpegs(folder, n, args.seed, 128, 128)
            r = measure(folder, os.path.join(tmp, "camp"), args.workers, args.strategy, args.k)
        all_cores = r["rank_s"][max(r["rank_s"])]
        print(f"| {r['n']:,} | {r['cold_s']:.1f} | {r['n'] / r['cold_s']:,.0f} | {r['warm_s']:.2f} | "
              f"{r['n'] / r['rank_s'][1]:,.0f} | {r['n'] / all_cores:,.0f} | {r['cache_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
