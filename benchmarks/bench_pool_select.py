"""Pool-level selection (docs/selection.md) against the forward pass, on one thread.

For each rule and k in (100, 1,000), over n = 10,000 random int8 candidates with d = 256: the best
of --repeats selection times (fdal._core.pool_select, kernels "auto") next to the forward time of
the same number of images through a seeded random VGG11-lite (fdal.testing.random_model), and the
bytes the selection allocates (pool_select_scratch_bytes: its only allocation). Prints a markdown
table headed by the CPU (lscpu's model name).

    python benchmarks/bench_pool_select.py [--n 10000] [--d 256] [--repeats 3] [--kernels auto]
"""
from __future__ import annotations

import argparse

import numpy as np

import fdal
from bench_common import best_of, cpu_name  # benchmarks/, the script's folder
from fdal import _core
from fdal import format as fmt
from fdal import testing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kernels", default="auto", help="kernel path of the pool dot products: auto or a name of fdal.kernel_paths()")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    emb = rng.integers(-128, 128, size=(args.n, args.d), dtype=np.int8)
    margins = rng.integers(0, 5000, size=args.n).astype(np.int64)  # margin-like keys
    classes = rng.integers(0, 10, size=args.n).astype(np.int64)  # classbalanced: 10 predicted classes
    model = fdal.load(fmt.write_model(testing.random_model(1, "vgg11_lite", n_calibration=64)))
    images = testing.random_images(2, args.n)
    forward = best_of(lambda: model.forward(images), args.repeats)

    print(f"Pool selection over n = {args.n:,} random int8 candidates, d = {args.d}, one thread, "
          f"kernels {args.kernels} — CPU: {cpu_name()}")
    print(f"Forward pass of the same {args.n:,} images (VGG11-lite, kernels {model.info['kernels']}): "
          f"{forward:.3f} s\n")
    print("| rule | k | selection s | x forward | scratch bytes |")
    print("|---|---:|---:|---:|---:|")
    for rule in _core.POOL_RULES:
        for k in (100, 1000):
            keys = rule in ("power", "classbalanced")
            e, s = (None, margins) if keys else (emb, None)
            c = classes if rule == "classbalanced" else None
            params = {"unit": 0.01} if keys else {}
            t = best_of(lambda: _core.pool_select(rule, e, s, k, 1, classes=c, kernels=args.kernels, **params),
                        args.repeats)
            nbytes = _core.pool_select_scratch_bytes(rule, args.n, args.d, k, **params)
            print(f"| {rule} | {k:,} | {t:.3f} | {t / forward:.2f} | {nbytes:,} |", flush=True)


if __name__ == "__main__":
    main()
