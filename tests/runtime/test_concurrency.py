"""One loaded model shared by several Python threads: the native calls release the GIL, so the
threads really run at once; every result must equal the serial one exactly."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing

THREADS = 4
ROUNDS = 3


@pytest.fixture(scope="module")
def shared():
    spec = testing.random_model(31, "tiny", n_calibration=32, embedding="student")  # every strategy runs
    model = fdal.load(fmt.write_model(spec))
    pool = testing.random_images(32, 96)
    return model, pool


def _jobs(model, pool):
    """(name, callable) pairs; each thread runs all of them in its own order."""
    jobs = [("forward", lambda: model.forward(pool)["logits_raw"]),
            ("forward_score", lambda: model.forward(pool[::-1])["score_raw"])]
    for strategy in fdal.runtime.STRATEGIES:
        jobs.append((f"rank_{strategy}", lambda s=strategy: fdal.rank_pool(model, pool, 17, strategy=s,
                                                                            batch_size=10, seed=5)))
    jobs.append(("rank_chunks", lambda: fdal.rank_pool(model, [pool[:40], pool[40:]], 9, strategy="entropy")))
    return jobs


def test_threads_sharing_one_model_get_the_serial_results(shared):
    model, pool = shared
    jobs = _jobs(model, pool)
    serial = {name: job() for name, job in jobs}
    barrier = threading.Barrier(THREADS)
    results = [[] for _ in range(THREADS)]
    errors = []

    def worker(t):
        try:
            barrier.wait()
            order = jobs[t % len(jobs):] + jobs[:t % len(jobs)]  # threads start on different jobs
            for _ in range(ROUNDS):
                for name, job in order:
                    results[t].append((name, job()))
        except BaseException as exc:  # reported by the main thread
            errors.append((t, exc))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for t in range(THREADS):
        assert len(results[t]) == ROUNDS * len(jobs)
        for name, got in results[t]:
            np.testing.assert_array_equal(got, serial[name], err_msg=f"thread {t}, {name}")


def test_threads_each_loading_and_ranking(shared):
    """Loading in parallel (the loader also releases the GIL) gives models that rank identically."""
    model, pool = shared
    data = fmt.write_model(testing.random_model(31, "tiny", n_calibration=32))
    want = fdal.rank_pool(model, pool, 12, strategy="fdal")
    got = [None] * THREADS

    def worker(t):
        got[t] = fdal.rank_pool(fdal.load(data), pool, 12, strategy="fdal")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(THREADS):
        np.testing.assert_array_equal(got[t], want, err_msg=f"thread {t}")
