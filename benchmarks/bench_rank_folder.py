"""`fdal rank` on a folder of JPEG files: decode time against ranking time, and peak memory, for
growing numbers of files (docs/images.md).

For each N in --n, N seeded JPEGs of mixed sizes (--min-side..--max-side pixels, quality 90) are
written to a temporary folder; then a fresh process lists, decodes (fdal.image_folder, chunks of
256, --decode-workers threads) and ranks them with fdal.rank_pool (strategy fdal, k = N / 10).
Time spent inside the batch generator is decode (open + decode + convert + resize); the rest of
rank_pool's time is ranking (the int8 forward and the top-k). Peak RSS is the process's
ru_maxrss; memory should stay flat as N grows (the chunk buffer is reused; only names are O(N)).

    python benchmarks/bench_rank_folder.py --n 1000 3000 10000 [--model student.fdal]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench_common import cpu_name  # benchmarks/, the script's folder

def make_jpegs(folder: str, n: int, seed: int, min_side: int, max_side: int) -> None:
    """Smooth random pictures (upsampled noise plus grain), so JPEG sizes look like photos'."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = (int(v) for v in rng.integers(min_side, max_side + 1, 2))
        small = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        img = np.asarray(small.resize((w, h), Image.BICUBIC), dtype=np.int16)
        img = np.clip(img + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8)
        sub = os.path.join(folder, f"{i // 1000:03d}")
        os.makedirs(sub, exist_ok=True)
        Image.fromarray(img).save(os.path.join(sub, f"{i:07d}.jpg"), quality=90)


def measure(folder: str, model_path: str, workers: int) -> dict:
    """Run in a fresh process: list, decode and rank `folder`; seconds of each part and peak RSS."""
    import fdal
    from fdal import format as fmt, testing
    from fdal.image_folder import ImageFolder, list_images
    model = fdal.load(model_path) if model_path else fdal.load(
        fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32)))
    t0 = time.perf_counter()
    files = list_images(folder)
    list_s = time.perf_counter() - t0
    folder_ = ImageFolder(files, model.input_shape, workers=workers, progress=False)
    decode_s = 0.0

    def timed():
        nonlocal decode_s
        it = folder_.batches()
        while True:
            t = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                decode_s += time.perf_counter() - t
                return
            decode_s += time.perf_counter() - t
            yield batch

    t0 = time.perf_counter()
    fdal.rank_pool(model, timed(), max(1, len(files) // 10), strategy="fdal")
    total_s = time.perf_counter() - t0
    return {"n": len(files), "list_s": list_s, "decode_s": decode_s, "rank_s": total_s - decode_s,
            "total_s": total_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "input": "x".join(str(v) for v in model.input_shape)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--model", default=None, help=".fdal model (default: a seeded random vgg11_lite, 32x32x3)")
    ap.add_argument("--decode-workers", type=int, default=1)
    ap.add_argument("--min-side", type=int, default=64)
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_measure", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._measure:
        print(json.dumps(measure(args._measure, args.model, args.decode_workers)))
        return 0
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores); decode workers {args.decode_workers}; "
          f"JPEG q90, sides {args.min_side}..{args.max_side} px\n")
    print("| files | input | decode s | decode images/s | rank s | rank images/s | total images/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="fdal-bench-folder-") as tmp:
            make_jpegs(tmp, n, args.seed, args.min_side, args.max_side)
            cmd = [sys.executable, __file__, "--_measure", tmp, "--decode-workers", str(args.decode_workers)]
            if args.model:
                cmd += ["--model", args.model]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        print(f"| {r['n']:,} | {r['input']} | {r['decode_s']:.2f} | {r['n'] / r['decode_s']:,.0f} | "
              f"{r['rank_s']:.2f} | {r['n'] / r['rank_s']:,.0f} | {r['n'] / r['total_s']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
