"""The quickstart's learning curves on several seeds: does any method lose accuracy as labels are added?

    python benchmarks/quickstart_seeds.py --seeds 0,1,2 --out runs/quickstart-seeds [--fast]

Runs the quickstart's active-learning part (its protocol and default methods, `fdal quickstart`
without the export and ranking) once per seed, then prints one row per (seed, method): the test
accuracy at each budget and the largest drop between consecutive budgets, marking drops of more
than 2 points. Runs resume from --out. Nothing is timed against a limit; the seconds per seed are
printed with the CPU's name for reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import cpu_name  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default=None, help="comma-separated (default: the quickstart's)")
    ap.add_argument("--fast", action="store_true", help="the quickstart --fast protocol")
    ap.add_argument("--out", default="runs/quickstart-seeds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=None, help="epochs per cycle instead of the quickstart's 15")
    args = ap.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    from fdal.cli.quickstart import MAX_DROP, default_methods, largest_drop, quick_protocol
    from fdal.training.runner import run_protocol

    methods = args.methods.split(",") if args.methods else default_methods()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, seconds = [], {}
    for seed in seeds:
        p = quick_protocol(None, args.fast, seed, args.epochs)
        t0 = time.perf_counter()
        records = run_protocol(p, methods, None, Path(args.out) / f"{p.name}-seed{seed}", trials=1,
                               progress=False)
        seconds[seed] = time.perf_counter() - t0
        for m in methods:
            curve = sorted((r["n_labeled"], r["accuracy"]) for r in records if r["method"] == m)
            rows.append((seed, m, curve))

    budgets = [n for n, _ in rows[0][2]]
    print(f"{p.name} protocol ({p.train.epochs} epochs, lr {p.train.lr}, milestones {p.train.milestones}), seeds {args.seeds}, {cpu_name()} ({os.cpu_count()} CPUs), "
          f"{args.threads} torch thread(s)\n")
    print("| seed | method | " + " | ".join(f"{n}" for n in budgets) + " | largest drop |")
    print("|---|---|" + "---|" * (len(budgets) + 1))
    failures = 0
    for seed, m, curve in rows:
        accs = [a for _, a in curve]
        drop = largest_drop(accs)
        failures += drop > MAX_DROP
        mark = " **> 2**" if drop > MAX_DROP else ""
        print(f"| {seed} | {m} | " + " | ".join(f"{100 * a:.1f}" for a in accs) + f" | {100 * drop:.1f}{mark} |")
    print(f"\n{failures} of {len(rows)} curves fall by more than {100 * MAX_DROP:.0f} points between consecutive "
          f"budgets. Seconds per seed (active learning only, load not controlled): "
          + ", ".join(f"{s}: {t:.0f}" for s, t in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
