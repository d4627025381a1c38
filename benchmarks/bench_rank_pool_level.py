"""Pool-level strategies through fdal.rank_pool on a real pool: selection time against the forward
pass, and peak memory against the number of candidates (docs/performance.md, docs/selection.md).

Time (one thread): over n pool images (CIFAR-10 training images from --data-dir, else seeded
random ones), for each pool-level strategy and k in (100, 1,000):
  forward     model.forward over the n images (best of --repeats);
  rule        fdal._core.pool_select alone on the model's own int8 embeddings and margin keys of
              those images (what the ranker runs after streaming);
  rank_pool   the whole call, cap = n (streaming forward + bookkeeping + rule).
Memory: for each cap in --caps, a fresh process streams a generated pool of `cap` images in
batches of 256 and ranks it; it prints how far its peak RSS (VmHWM, reset before the call; Linux)
rises above the RSS before the call, next to what rank_pool's docstring states (cap x D embedding
bytes + bookkeeping per candidate + the rule's scratch).

    python benchmarks/bench_rank_pool_level.py --model student.fdal --data-dir data [--n 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys

import numpy as np

import fdal
from bench_common import best_of, cpu_name  # benchmarks/, the script's folder
from fdal import _core
from fdal import format as fmt
from fdal import testing

KS = (100, 1000)
BATCH = 256


def load_model(path):
    if path:
        return fdal.load(path), path
    spec = testing.random_model(1, "vgg11_lite", n_calibration=64, embedding="student")
    return fdal.load(fmt.write_model(spec)), "a seeded random VGG11-lite with its student embedding"


def pool_images(data_dir, n: int):
    """(uint8 (n, 32, 32, 3), what they are): CIFAR-10 training images when data_dir has them."""
    root = os.path.join(data_dir, "cifar-10-batches-py") if data_dir else None
    if root and os.path.isdir(root):
        parts, have = [], 0
        for b in range(1, 6):
            with open(os.path.join(root, f"data_batch_{b}"), "rb") as f:
                x = pickle.load(f, encoding="bytes")[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            parts.append(x)
            have += len(x)
            if have >= n:
                break
        return np.ascontiguousarray(np.concatenate(parts)[:n]), f"the first {n:,} CIFAR-10 training images"
    return testing.random_images(2, n), f"{n:,} seeded random images"


def rule_args(model, out, rule):
    """(embeddings, scores, extra kwargs) that the ranker passes rule `rule` for these outputs."""
    top = np.sort(out["logits_raw"].astype(np.int64), axis=1)
    margin = np.ascontiguousarray(top[:, -1] - top[:, -2])
    info = model.info
    unit = float(np.float32(info["layers"][info["logits_layer"]]["out_scale"]))  # the ranker's unit
    if rule == "power":
        return None, margin, {"unit": unit}
    if rule == "classbalanced":
        classes = np.argmax(out["logits_raw"], axis=1).astype(np.int64)
        return None, margin, {"unit": unit, "classes": classes}
    return np.ascontiguousarray(out["embedding_q"]), None, {}


def time_table(args, model, what) -> None:
    images, where = pool_images(args.data_dir, args.n)
    forward = best_of(lambda: model.forward(images), args.repeats)
    out = model.forward(images)
    print(f"Pool-level strategies over {where}, one thread — CPU: {cpu_name()}")
    print(f"Model: {what}; {model.embedding_dim}-d int8 embedding; forward kernels {model.kernels}")
    print(f"Forward pass of the {args.n:,} images: {forward:.3f} s (best of {args.repeats})\n")
    print("| strategy | k | rule s | rule / forward | rank_pool s | rank_pool / forward |")
    print("|---|---:|---:|---:|---:|---:|")
    for rule in _core.POOL_RULES:
        if rule not in fdal.STRATEGIES:
            continue
        for k in KS:
            e, s, kw = rule_args(model, out, rule)
            t_rule = best_of(lambda: _core.pool_select(rule, e, s, k, 1, **kw), args.repeats)
            t_rank = best_of(lambda: fdal.rank_pool(model, images, k, strategy=rule, seed=1, cap=args.n),
                             args.repeats)
            print(f"| {rule} | {k:,} | {t_rule:.3f} | {t_rule / forward:.2f} | {t_rank:.3f} | "
                  f"{t_rank / forward:.2f} |", flush=True)


def rss_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def memory_child(model_path, rule: str, cap: int, k: int) -> None:
    """Runs in a fresh process: stream `cap` generated images through rank_pool; print JSON."""
    model, _ = load_model(model_path)
    h, w, c = model.input_shape

    base = testing.random_images(0, BATCH, (h, w, c))

    def batches():  # distinct images from one base batch: no generator scratch in the measurement
        for start in range(0, cap, BATCH):
            yield base[:min(BATCH, cap - start)] + np.uint8(start // BATCH % 251)

    fdal.rank_pool(model, base, 10, strategy="margin")  # warm: the model's buffers, the threads
    before = rss_bytes("VmRSS")
    reset_peak_rss()
    fdal.rank_pool(model, batches(), k, strategy=rule, seed=1, cap=cap)
    after = rss_bytes("VmHWM")
    d = model.embedding_dim if rule not in ("power", "classbalanced") else 0
    kw = {"unit": 1.0} if rule in ("power", "classbalanced") else {}
    scratch = _core.pool_select_scratch_bytes(rule, cap, max(d, 1), k, **kw)
    print(json.dumps({"growth": after - before, "embeddings": cap * d, "scratch": scratch}))


def memory_table(args) -> None:
    print(f"\nPeak RSS growth during rank_pool (a fresh process per row; generated pool of `cap` images "
          f"streamed in batches of {BATCH}; k = 100). Stated bound: cap x D embedding bytes + "
          f"bookkeeping per candidate (rank_pool's docstring) + the rule's scratch.\n")
    print("| strategy | cap | peak RSS growth MB | embeddings MB | scratch MB |")
    print("|---|---:|---:|---:|---:|")
    for rule in [r for r in _core.POOL_RULES if r in fdal.STRATEGIES]:
        for cap in args.caps:
            cmd = [sys.executable, __file__, "--memory-child", rule, str(cap)] + \
                  (["--model", args.model] if args.model else [])
            res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
            print(f"| {rule} | {cap:,} | {res['growth'] / 1e6:.1f} | {res['embeddings'] / 1e6:.1f} | "
                  f"{res['scratch'] / 1e6:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help=".fdal model with an embedding (default: a seeded random VGG11-lite)")
    ap.add_argument("--data-dir", help="folder holding cifar-10-batches-py (default: random images)")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--caps", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 5000, 10000, 20000])
    ap.add_argument("--memory-child", nargs=2, metavar=("RULE", "CAP"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.model, args.memory_child[0], int(args.memory_child[1]), 100)
        return
    model, what = load_model(args.model)
    time_table(args, model, what)
    if not args.skip_memory:
        memory_table(args)


if __name__ == "__main__":
    main()
