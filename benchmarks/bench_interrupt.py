"""How long Ctrl-C takes to stop a long pool-level selection (issue 34): SIGINT is sent while the
selection runs, and the time until the process has exited is measured.

    python benchmarks/bench_interrupt.py --n 100000 --strategies probcover kcenter typiclust

Each case: `fdal rank MODEL POOL.npy -k K --strategy S --cap N` (the CLI; its last stderr line
must be `fdal: interrupted`, exit 130) and fdal.rank_pool(...) in a script (KeyboardInterrupt must
reach Python; the script prints when it caught it, so the table splits the delay into the
interruption itself and the process's exit, which frees the candidates and tears Python down).
The signal is sent `--after` seconds into the selection: for rank_pool, after the script says its
last batch was pushed; for the CLI, after the time a first run that ranks the same pool with
`margin` (the forward pass only) took, plus `--after`. Uninterrupted, the selection runs for
minutes at n = 100,000.
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
import sys, time, numpy as np, fdal
model = fdal.load(sys.argv[1]); pool = np.load(sys.argv[2], mmap_mode="r")
def batches():  # says when every image is pushed: the selection starts right after
    yield from (pool[i:i + 4096] for i in range(0, len(pool), 4096))
    print("pushed", flush=True)
try:
    fdal.rank_pool(model, batches(), int(sys.argv[4]), strategy=sys.argv[3], cap=len(pool))
    print("finished")
except KeyboardInterrupt:
    print("KeyboardInterrupt at", time.monotonic(), flush=True)
"""


def run_once(cmd, after: float, timeout: float = 600.0, wait_for_push: bool = False) -> dict:
    """Start cmd, SIGINT after `after` s (counted from its "pushed" line with wait_for_push), return
    seconds from the signal to the exit and the output."""
    # SIGINT back to its default in the child: a job started with `&` inherits it ignored, and then
    # Python installs no KeyboardInterrupt handler at all.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if wait_for_push:
        assert proc.stdout.readline().strip() == "pushed", proc.stderr.read()
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
    raised = None
    if "KeyboardInterrupt at" in out:  # CLOCK_MONOTONIC is the same clock in both processes (Linux)
        raised = float(out.split("KeyboardInterrupt at")[1].split()[0]) - sent
    return {"delay": time.monotonic() - sent, "raised": raised, "rc": proc.returncode, "out": out, "err": err}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="pool size = cap (default 100000)")
    ap.add_argument("--strategies", nargs="+", default=["probcover", "kcenter", "typiclust"])
    ap.add_argument("--after", type=float, default=1.0, help="seconds into the selection (default 1)")
    ap.add_argument("-k", type=int, default=1000, help="picks (default 1000: kcenter takes k passes over the pool)")
    args = ap.parse_args()
    from fdal import format as fmt
    from fdal import testing
    with tempfile.TemporaryDirectory() as d:
        model, pool = os.path.join(d, "m.fdal"), os.path.join(d, "pool.npy")
        fmt.write_model(testing.random_model(3, "tiny", input_shape=(8, 8, 3), embedding="student",
                                             n_calibration=32), model)
        np.save(pool, testing.random_images(1, args.n, (8, 8, 3)))
        cli = [sys.executable, "-m", "fdal.cli", "rank", model, pool, "-k", str(args.k), "--cap", str(args.n)]
        t0 = time.monotonic()
        subprocess.run(cli + ["--strategy", "margin"], check=True, capture_output=True)
        forward = time.monotonic() - t0
        print(f"pool {args.n:,} x 8x8x3, cap {args.n:,}, k {args.k:,}; forward pass + start-up (margin run): {forward:.2f} s; "
              f"SIGINT {args.after:.1f} s into the selection")
        print("| strategy | entry point | SIGINT -> KeyboardInterrupt (s) | SIGINT -> process exit (s) | exit code | "
              "last line |\n|---|---|---|---|---|---|")
        for strategy in args.strategies:
            for name, cmd in (("fdal rank", cli + ["--strategy", strategy]),
                              ("rank_pool", [sys.executable, "-c", API_SCRIPT, model, pool, strategy, str(args.k)])):
                api = name == "rank_pool"
                r = run_once(cmd, args.after if api else forward + args.after, wait_for_push=api)
                last = ((r["err"] if name == "fdal rank" else r["out"]).strip().splitlines() or [""])[-1]
                last = last.split(" at ")[0]
                delay = "-" if r["delay"] is None else f"{r['delay']:.3f}"
                raised = "-" if r.get("raised") is None else f"{r['raised']:.3f}"
                print(f"| {strategy} | {name} | {raised} | {delay} | {r['rc']} | `{last[-60:]}` |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
