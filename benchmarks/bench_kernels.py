"""Per kernel path: rank_pool throughput on one thread (and on more, if asked), and a per-layer
timing table with MACs and GMAC/s. vgg11_lite student + sampler (fdal.testing.random_model(0)),
random 32x32x3 images (C-contiguous), batch 256. Prints markdown.

    python benchmarks/bench_kernels.py [--n 10000] [--repeats 5] [--threads 1 2]

Throughput is the best of --repeats runs, measured two ways: wall clock, and the calling thread's
CPU time (time.thread_time; one thread only), which is what a shared, oversubscribed machine does
not distort. Per-layer times are medians over images (fdal._core.profile_layers).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import fdal
from fdal import _core
from fdal import format as fmt
from fdal import testing


def layer_macs(layer: dict) -> int:
    oh, ow, oc = layer["out_shape"]
    if layer["op"] == "conv2d":
        kh, kw = layer["kernel"]
        return oh * ow * oc * kh * kw * layer["in_shape"][2]
    if layer["op"] == "fc":
        return int(np.prod(layer["in_shape"])) * oc
    return 0


def best_throughput(model, pool, batch_size, repeats, threads):
    best_wall, best_cpu = 0.0, 0.0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.thread_time()
        fdal.rank_pool(model, pool, min(1000, len(pool)), strategy="fdal", batch_size=batch_size, threads=threads)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        best_wall = max(best_wall, len(pool) / wall)
        if threads == 1:
            best_cpu = max(best_cpu, len(pool) / cpu)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--reference-n", type=int, default=2_000, help="images for the (slow) reference path")
    args = parser.parse_args()

    data = fmt.write_model(testing.random_model(0, "vgg11_lite"))
    # testing.random_images returns a strided view (image index fastest); a pool read from disk
    # or a memmap is C-contiguous, so measure that layout.
    pool = np.ascontiguousarray(testing.random_images(1, args.n))
    layers = fdal.load(data, kernels="reference").info["layers"]
    macs = [layer_macs(layer) for layer in layers]
    total_macs = sum(macs)
    paths = fdal.kernel_paths()
    print(f"vgg11_lite + sampler: {total_macs:,} MACs/image; paths here: {', '.join(paths)}; "
          f"best of {args.repeats} runs, batch {args.batch_size}\n")

    print("| path | threads | images | images/s (wall) | images/s (thread CPU time) | GMAC/s (CPU time) | packed bytes |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        model = fdal.load(data, kernels=path)
        n = min(args.n, args.reference_n) if path == "reference" else args.n
        for threads in args.threads:
            wall, cpu = best_throughput(model, pool[:n], args.batch_size, args.repeats, threads)
            cpu_text = f"{cpu:,.0f}" if threads == 1 else "-"
            gmacs = f"{cpu * total_macs / 1e9:.1f}" if threads == 1 else "-"
            print(f"| {path} | {threads} | {n} | {wall:,.0f} | {cpu_text} | {gmacs} | {model.info['packed_bytes']:,} |")

    print("\nPer layer: median microseconds per image (GMAC/s)\n")
    print("| step | op | shape in -> out | MACs | " + " | ".join(paths) + " |")
    print("|---|---|---|---|" + "---|" * len(paths))
    sample = pool[:min(len(pool), 1000)]
    timings = {path: _core.profile_layers(fdal.load(data, kernels=path)._native, sample) for path in paths}
    rows = [("input", "lookup", "raw -> (32, 32, 3)", 0)] + [
        (str(i), layer["op"], f"{tuple(layer['in_shape'])} -> {tuple(layer['out_shape'])}", m)
        for i, (layer, m) in enumerate(zip(layers, macs))]
    for j, (step, op, shapes, m) in enumerate(rows):
        cells = []
        for path in paths:
            us = timings[path][j] * 1e6
            cells.append(f"{us:.2f}" + (f" ({m / us / 1e3:.0f})" if m and us > 0 else ""))
        print(f"| {step} | {op} | {shapes} | {m:,} | " + " | ".join(cells) + " |")
    sums = [sum(timings[path]) * 1e6 for path in paths]
    print("| sum | | | {:,} | ".format(total_macs) + " | ".join(f"{s:.2f}" for s in sums) + " |")


if __name__ == "__main__":
    main()
