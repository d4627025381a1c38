"""fdal.ray.rank with N ranking actors against fdal.rank_pool on one core, on the same pool.

A seeded random VGG11-lite (32x32x3, with a sampler; the speed does not depend on the weights)
ranks a seeded uint8 pool held in memory as a Ray dataset (ray.data.from_numpy), strategy margin,
k = 1% of the pool. Ray runs on a local cluster started here (ray.init(num_cpus=--cpus)); each
actor reserves --actor-cpus CPUs (keep actors x actor-cpus below --cpus: Ray Data's read tasks
need a CPU too). Times are best of --repeat after one warm-up run, which also starts the actors;
the picks are checked equal to rank_pool's. Every fdal.ray.rank call starts its actors again (Ray
Data's map_batches with an actor class), so the times include that start-up: what a one-off
ranking job pays.

    python benchmarks/bench_ray.py --n 20000 --actors 1 2
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time

import numpy as np

from bench_common import best_of, cpu_name  # benchmarks/, the script's folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="pool images (default 20000)")
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="actor counts to time")
    ap.add_argument("--cpus", type=int, default=None, help="Ray cluster CPUs (default: actors max + 1)")
    ap.add_argument("--actor-cpus", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--blocks", type=int, default=8, help="Ray Data blocks the pool is split into (default 8)")
    args = ap.parse_args()

    import ray
    import fdal
    import fdal.ray
    from fdal import format as fmt
    from fdal import testing

    pool = testing.random_images(1, args.n)
    k = max(1, args.n // 100)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.fdal")
        fmt.write_model(testing.random_model(2, "vgg11_lite", n_calibration=32), path)
        model = fdal.load(path)
        want = fdal.rank_pool(model, pool, k, strategy="margin")
        local = best_of(lambda: fdal.rank_pool(model, pool, k, strategy="margin"), args.repeat)
        rows = [("rank_pool, 1 thread", local)]
        ray.init(num_cpus=args.cpus or max(args.actors) + 1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        try:
            # One block per chunk: from_numpy of a single array is one block, which one actor ranks alone.
            blocks = np.array_split(pool, args.blocks)
            ds = ray.data.from_numpy(blocks).rename_columns({"data": "image"}).materialize()
            for actors in args.actors:
                def run():
                    return fdal.ray.rank(ds, path, k, strategy="margin", batch_size=args.batch_size,
                                         concurrency=actors, num_cpus=args.actor_cpus)
                got = run()  # warm-up: starts the actors
                assert np.array_equal(got, want), "fdal.ray.rank picks differ from rank_pool's"
                rows.append((f"fdal.ray.rank, {actors} actor{'s' if actors > 1 else ''}", best_of(run, args.repeat)))
        finally:
            ray.shutdown()

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores); pool {args.n:,} images 32x32x3, strategy margin, "
          f"k = {k}; {args.blocks} Ray blocks, batches of {args.batch_size}; best of {args.repeat}; the picks of "
          f"every row are rank_pool's\n")
    print("| engine | seconds | images/s | vs rank_pool |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {args.n / seconds:,.0f} | {local / seconds:.2f}x |")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"\n(wall-clock {time.time() - t0:.0f} s)")
