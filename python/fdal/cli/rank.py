"""`fdal rank` (the k most informative images of a pool) and `fdal bench` (ranking speed).
Runtime only: numpy and the native extension, no PyTorch."""
from __future__ import annotations

import sys
import time

import numpy as np

from .common import add_out, add_parser, add_seed, positive_int, raw_shape, require_file, thread_count
from .pools import batches_with_progress, load_pool


def register(sub):
    from fdal.strategies import DEFAULT_CAP, POOL_STRATEGIES, STRATEGIES
    strategy_help = f"one of {', '.join(STRATEGIES)} (default fdal)"
    cap_help = (f"{', '.join(POOL_STRATEGIES)}: rank at most this many seeded candidates "
                f"(default {DEFAULT_CAP}; memory cap x embedding dim bytes)")
    p = add_parser(sub, "rank", "rank a pool of raw images with an int8 model",
                   "Print (or write) the indices of the k most informative images of POOL, best first.\n"
                   "POOL: a .npy uint8 array (N, H, W, C) or (N, C, H, W), or a raw file of N*H*W*C bytes (a regular\n"
                   "file, not a pipe). For an .npz, save the array: np.save('pool.npy', np.load(f)['x']).",
                   "fdal rank student.fdal pool.npy -k 100 --strategy fdal --out picks.npy")
    p.add_argument("model", help=".fdal model file")
    p.add_argument("pool", help="pool of images: .npy or raw uint8 bytes")
    p.add_argument("-k", type=positive_int, required=True, help="how many images to pick")
    p.add_argument("--strategy", default="fdal", help=strategy_help)
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--raw", type=raw_shape, default=None, metavar="HxWxC",
                   help="shape of each image of a raw pool; must match the model's input (checked)")
    p.add_argument("--layout", choices=["auto", "nhwc", "nchw"], default="auto", help="layout of a .npy pool")
    p.add_argument("--threads", type=thread_count, default=1, help="runtime threads (default 1; same result)")
    p.add_argument("--cap", type=positive_int, default=DEFAULT_CAP, help=cap_help)
    add_seed(p)
    add_out(p, "write the indices here (.npy: int64 array; otherwise text, one per line) instead of stdout")
    p.set_defaults(func=run_rank)

    b = add_parser(sub, "bench", "measure how fast a model ranks images on this machine",
                   "Time model.forward and fdal.rank_pool on random images (or on --pool); best of --repeat.",
                   "fdal bench student.fdal -n 10000 --batch-size 256 --strategy fdal")
    b.add_argument("model", help=".fdal model file")
    b.add_argument("--pool", default=None, help="time on these images (.npy or raw) instead of random ones")
    b.add_argument("-n", type=positive_int, default=10_000, help="random images to rank (default 10000)")
    b.add_argument("--batch-size", type=positive_int, default=256)
    b.add_argument("--strategy", default="fdal", help=strategy_help)
    b.add_argument("-k", type=positive_int, default=None, help="images picked (default 10%% of the pool)")
    b.add_argument("--repeat", type=positive_int, default=3, help="time this many runs, report the best (default 3)")
    b.add_argument("--threads", type=thread_count, default=1, help="runtime threads (default 1)")
    b.add_argument("--cap", type=positive_int, default=DEFAULT_CAP, help=cap_help)
    add_seed(b)
    b.set_defaults(func=run_bench)


def run_rank(args) -> int:
    import fdal
    require_file(args.model, "model")
    model = fdal.load(args.model)
    pool = load_pool(args.pool, model.input_shape, args.layout, args.raw)
    # rank_pool checks the arguments (strategy and sampler before reading any image).
    t0 = time.perf_counter()
    picks = fdal.rank_pool(model, batches_with_progress(pool, args.batch_size, "ranking"), args.k,
                           strategy=args.strategy, batch_size=args.batch_size, seed=args.seed,
                           threads=args.threads, cap=args.cap)
    seconds = time.perf_counter() - t0
    if args.out:
        if args.out.endswith(".npy"):
            np.save(args.out, picks)
        else:
            with open(args.out, "w") as f:
                f.write("".join(f"{i}\n" for i in picks))
        print(f"ranked {len(pool):,} images in {seconds:.2f} s ({len(pool) / seconds:,.0f} images/s); "
              f"wrote the top {args.k} ({args.strategy}) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write("".join(f"{i}\n" for i in picks))
    return 0


def measure(model, pool: np.ndarray, k: int, strategy: str, batch_size: int, repeat: int, seed: int = 0,
            threads: int = 1, cap: int | None = None) -> dict:
    """Best-of-`repeat` seconds for forward over the pool and for rank_pool; images/s of each."""
    import fdal
    forward_s, rank_s = [], []
    for _ in range(repeat):
        # rank_pool first: it checks strategy and k before any time is spent.
        t0 = time.perf_counter()
        extra = {} if cap is None else {"cap": cap}
        fdal.rank_pool(model, pool, k, strategy=strategy, batch_size=batch_size, seed=seed, threads=threads,
                       **extra)
        rank_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start in range(0, len(pool), batch_size):
            model.forward(pool[start:start + batch_size], threads=threads)
        forward_s.append(time.perf_counter() - t0)
    n = len(pool)
    return {"images": n, "forward_s": min(forward_s), "rank_s": min(rank_s),
            "forward_images_per_s": n / min(forward_s), "rank_images_per_s": n / min(rank_s)}


def run_bench(args) -> int:
    import fdal
    from fdal.testing import random_images
    require_file(args.model, "model")
    model = fdal.load(args.model)
    if args.pool:
        pool = np.ascontiguousarray(load_pool(args.pool, model.input_shape))
        source = args.pool
    else:
        # At most 1000 distinct images, tiled to -n: generating them stays tiny next to the timing.
        distinct = random_images(args.seed, min(args.n, 1000), model.input_shape)
        pool = np.resize(distinct, (args.n, *distinct.shape[1:]))
        source = f"random images (seed {args.seed})"
    k = args.k or max(1, len(pool) // 10)
    r = measure(model, pool, k, args.strategy, args.batch_size, args.repeat, args.seed, args.threads, args.cap)
    info = model.info
    print(f"model {args.model}: {info['file_bytes']:,} bytes, kernels {info.get('kernels', '?')}, "
          f"{args.threads} thread{'s' * (args.threads > 1)}")
    print(f"pool: {len(pool):,} {source}, batch {args.batch_size}, best of {args.repeat}\n")
    print("| step | seconds | images/s |\n|---|---|---|")
    print(f"| forward | {r['forward_s']:.3f} | {r['forward_images_per_s']:,.0f} |")
    print(f"| rank_pool ({args.strategy}, k={k}) | {r['rank_s']:.3f} | {r['rank_images_per_s']:,.0f} |")
    return 0
