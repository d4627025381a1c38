"""Do two Python threads sharing one model run faster than one? The native forward and ranker
release the GIL, so with two free cores two threads should approach 2x.

    python benchmarks/bench_threads.py [--arch vgg11_lite] [--n 4000] [--repeats 3]

Work unit: rank_pool over n images (threads=1 inside the runtime). One thread runs two units back
to back; then two threads run one unit each at the same time. Prints both times (best of
--repeats), the speed-up ratio serial/parallel, and CPU seconds per wall second during a parallel
run (near 2 when the GIL is released and both cores are free). Run it on a quiet machine: other load on the
cores lowers the ratio.
"""
from __future__ import annotations

import argparse
import os
import threading
import time

import fdal
from fdal import format as fmt
from fdal import testing


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="vgg11_lite", choices=testing.ARCHS)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    model = fdal.load(fmt.write_model(testing.random_model(1, args.arch, n_calibration=64)))
    pools = [testing.random_images(s, args.n) for s in (1, 2)]
    results = [None, None]

    def unit(i):
        results[i] = fdal.rank_pool(model, pools[i], 100, strategy="fdal")

    def serial():
        unit(0)
        unit(1)

    def parallel():
        threads = [threading.Thread(target=unit, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    serial()  # warm-up (page-in, allocator)
    want = list(results)
    t_serial = min(timed(serial) for _ in range(args.repeats))
    t_parallel = min(timed(parallel) for _ in range(args.repeats))
    # Load-independent sign that the GIL is released: CPU seconds per wall second while 2 threads run.
    c0, w0 = time.process_time(), time.perf_counter()
    parallel()
    busy = (time.process_time() - c0) / (time.perf_counter() - w0)
    assert all((a == b).all() for a, b in zip(results, want)), "threaded results differ from serial"
    load = os.getloadavg()[0]
    print(f"{args.arch} ({model.kernels}), 2 x rank_pool over {args.n} images, best of {args.repeats}; "
          f"cores {os.cpu_count()}, load average {load:.2f}")
    print(f"1 thread : {t_serial:.3f} s")
    print(f"2 threads: {t_parallel:.3f} s")
    print(f"speed-up 1 thread / 2 threads: {t_serial / t_parallel:.2f}x")
    print(f"cores busy while 2 threads run (process CPU time / wall time): {busy:.2f}")


if __name__ == "__main__":
    main()
