"""Throughput of fdal.rank_pool on one thread without SIMD: the `portable` kernels (what a CPU with no
SIMD path runs; FDAL_KERNELS=reference measures the simple direct loops instead) on the vgg11_lite
student + sampler (random weights, realistic quantization) and 10,000 random 32x32x3 images. Prints a
markdown table.

    python benchmarks/bench_portable.py [--n 10000] [--batch-size 256]
    FDAL_KERNELS=reference python benchmarks/bench_portable.py --n 2000
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("FDAL_KERNELS", "portable")

import numpy as np  # noqa: E402

import fdal  # noqa: E402
from fdal import format as fmt  # noqa: E402
from fdal import testing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    model = fdal.load(fmt.write_model(testing.random_model(0, "vgg11_lite", n_calibration=64)))
    pool = testing.random_images(1, args.n)
    info = model.info
    print(f"model: vgg11_lite + sampler, weight_bytes {info['weight_bytes']}, arena_bytes "
          f"{info['arena_bytes']}, file_bytes {info['file_bytes']}, kernels {info['kernels']}\n")
    print("| strategy | images | seconds | images/s |")
    print("|---|---|---|---|")
    for strategy in fdal.STRATEGIES:
        start = time.perf_counter()
        fdal.rank_pool(model, pool, 1000, strategy=strategy, batch_size=args.batch_size)
        seconds = time.perf_counter() - start
        print(f"| {strategy} | {args.n} | {seconds:.2f} | {args.n / seconds:,.0f} |")


if __name__ == "__main__":
    main()
