"""How long Ctrl-C takes to stop a long pool-level selection (issue 34): SIGINT is sent while the
selection runs, and the time until the process has exited is measured.

    python benchmarks/bench_interrupt.py --n 100000 --strategies probcover kcenter typiclust

Each case: `fdal rank MODEL POOL.npy -k 100 --strategy S --cap N` (the CLI; its last stderr line
must be `fdal: interrupted`, exit 130) and fdal.rank_pool(...) in a script (KeyboardInterrupt must
reach Python). The signal is sent `--after` seconds after the selection started; the start is
taken from a first run that ranks the same pool with `margin` (the forward pass only), so the
signal lands inside the selection, which runs for minutes at n = 100,000 when not interrupted.
Pool: N seeded 8x8x3 images; model: fdal.testing's tiny with the student embedding.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

API_SCRIPT = """
import sys, numpy as np, fdal
model = fdal.load(sys.argv[1]); pool = np.load(sys.argv[2], mmap_mode="r")
try:
    fdal.rank_pool(model, pool, 100, strategy=sys.argv[3], cap=len(pool))
    print("finished")
except KeyboardInterrupt:
    print("KeyboardInterrupt")
"""


def run_once(cmd, after: float, timeout: float = 600.0) -> dict:
    """Start cmd, SIGINT after `after` s, return seconds from the signal to the exit and the output."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    if proc.poll() is not None:
        out, err = proc.communicate()
        return {"delay": None, "rc": proc.returncode, "out": out, "err": err, "note": "finished before the signal"}
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return {"delay": time.monotonic() - sent, "rc": proc.returncode, "out": out, "err": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="pool size = cap (default 100000)")
    ap.add_argument("--strategies", nargs="+", default=["probcover", "kcenter", "typiclust"])
    ap.add_argument("--after", type=float, default=1.0, help="seconds into the selection (default 1)")
    args = ap.parse_args()
    from fdal import format as fmt
    from fdal import testing
    with tempfile.TemporaryDirectory() as d:
        model, pool = os.path.join(d, "m.fdal"), os.path.join(d, "pool.npy")
        fmt.write_model(testing.random_model(3, "tiny", input_shape=(8, 8, 3), embedding="student",
                                             n_calibration=32), model)
        np.save(pool, testing.random_images(1, args.n, (8, 8, 3)))
        cli = [sys.executable, "-m", "fdal.cli", "rank", model, pool, "-k", "100", "--cap", str(args.n)]
        t0 = time.monotonic()
        subprocess.run(cli + ["--strategy", "margin"], check=True, capture_output=True)
        forward = time.monotonic() - t0
        print(f"pool {args.n:,} x 8x8x3, cap {args.n:,}; forward pass + start-up (margin run): {forward:.2f} s; "
              f"SIGINT {args.after:.1f} s into the selection")
        print("| strategy | entry point | SIGINT -> exit (s) | exit code | last line |\n|---|---|---|---|---|")
        for strategy in args.strategies:
            for name, cmd in (("fdal rank", cli + ["--strategy", strategy]),
                              ("rank_pool", [sys.executable, "-c", API_SCRIPT, model, pool, strategy])):
                r = run_once(cmd, forward + args.after)
                last = ((r["err"] if name == "fdal rank" else r["out"]).strip().splitlines() or [""])[-1]
                delay = "-" if r["delay"] is None else f"{r['delay']:.3f}"
                print(f"| {strategy} | {name} | {delay} | {r['rc']} | `{last[-60:]}` |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
