"""`fdal al --jobs N`: the (method, trial) pairs of a run in N worker processes.

    fdal al --preset cpu-small --methods random,kd_random,fdal --trials 3 --jobs 3 --data-dir data --out runs/x

The engine is the standard library's ProcessPoolExecutor with the "spawn" start method (no fork of
a process that holds torch threads or a CUDA context); this file only says what one job is.

- One job = one pair, run to its last cycle by runner.run_pair: the same code, seeds and checkpoint
  files (checkpoints/{method}-trial{t}.json, models/{method}-trial{t}.pt) as a sequential run. Pairs
  share no state, so they need no locking among themselves.
- The teacher is trained (or loaded) once by the parent before any worker starts; each worker loads
  it from the file (out/teacher.pt, or --teacher PATH), once per worker process.
- Results: a worker never writes results.jsonl. Each pair's checkpoint already holds its records
  (written atomically after every cycle: the per-job result file), and the parent rewrites
  results.jsonl from the checkpoints in a fixed order, trial by trial, method by method as given,
  cycle by cycle (the order of an uninterrupted sequential run), when the pool finishes or is
  interrupted. Records of other (method, trial) pairs already in the file are kept, first.
- Each worker uses `threads` torch threads (default 1): CPU training is deterministic for a seed at
  a fixed thread count, so the records equal a sequential run's at that thread count.
- Interrupted (Ctrl-C, or any error in the parent or a job): workers ignore SIGINT; the parent
  tells them to stop, each finishes and saves the cycle it is in (so Ctrl-C waits up to one cycle)
  and starts no other pair; then results.jsonl is rewritten as above and the error propagates.
- Devices: worker slot i (0..N-1, fixed per process) trains on worker_device(device, i, count).
"""
from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
from pathlib import Path

from fdal.training.results import read_results, record_line

_worker = {}  # per worker process: slot, device, and the dataset/teacher loaded once


def worker_device(device: str, slot: int, cuda_count: int) -> str:
    """The device worker `slot` trains on: plain "cuda" with several GPUs spreads the workers over
    them, cuda:(slot mod cuda_count); an explicit "cuda:K", "cpu" or a single GPU is kept as given."""
    if device == "cuda" and cuda_count > 1:
        return f"cuda:{slot % cuda_count}"
    return device


def _init_worker(slots, stop, device: str, threads: int) -> None:
    import signal
    import torch
    # Ctrl-C reaches the whole process group: the parent alone handles it, by setting `stop`, which
    # each job reads between cycles, so a worker ends on a saved cycle and takes no further pair.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker["stop"] = stop.is_set
    torch.set_num_threads(threads)
    slot = slots.get()  # each process takes one slot for its lifetime
    count = torch.cuda.device_count() if device.startswith("cuda") else 0
    _worker.update(slot=slot, device=worker_device(device, slot, count))


def _loaded(p, data_dir, teacher_file):
    """The worker's dataset and teacher, loaded on its first job and reused for the next ones."""
    key = (p, str(data_dir), str(teacher_file))
    if _worker.get("key") != key:
        from fdal.training.protocols import teacher_and_pool
        from fdal.training.runner import load_protocol_dataset
        device = _worker["device"]
        if p.train.deterministic:
            from fdal.training.determinism import enable_deterministic
            enable_deterministic()
        _, dataset = teacher_and_pool(p, load_protocol_dataset(p, data_dir, device))
        teacher = None
        if teacher_file is not None:
            from fdal.training.teacher import load_teacher
            teacher = load_teacher(teacher_file, device)  # eval mode
            for prm in teacher.parameters():
                prm.requires_grad_(False)
        _worker.update(key=key, dataset=dataset, teacher=teacher)
    return _worker["dataset"], _worker["teacher"]


def _run_job(p, method: str, trial: int, state: dict, data_dir, out: str, teacher_file) -> dict:
    from fdal.training.runner import run_pair
    from fdal.training.strategies import needs_teacher
    dataset, teacher = _loaded(p, data_dir, teacher_file)
    run_pair(p, method, trial, state, dataset, teacher if needs_teacher(method) else None,
             _worker["device"], Path(out), stop=_worker["stop"])
    return state


def run_pairs(p, states: dict, data_dir, out: Path, device: str, teacher_file, jobs: int, threads: int,
              bar=None) -> None:
    """Run every unfinished pair of `states` ({(method, trial): checkpoint state}, in run order) in
    up to `jobs` processes; updates `states` and rewrites out/results.jsonl from the checkpoints."""
    pending = [key for key, s in states.items() if s["next_cycle"] < p.cycles]
    try:
        if pending:
            ctx = multiprocessing.get_context("spawn")
            slots, stop = ctx.Queue(), ctx.Event()
            workers = min(jobs, len(pending))
            for i in range(workers):
                slots.put(i)
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                        initargs=(slots, stop, device, threads)) as pool:
                futures = {pool.submit(_run_job, p, m, t, states[m, t], data_dir, str(out), teacher_file): (m, t)
                           for m, t in pending}
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        m, t = futures[fut]
                        done_before = states[m, t]["next_cycle"]
                        states[m, t] = fut.result()
                        if bar is not None:
                            last = states[m, t]["results"][-1]
                            bar.set_postfix_str(f"{m} t{t} n={last['n_labeled']} acc={100 * last['accuracy']:.1f}%")
                            bar.update(states[m, t]["next_cycle"] - done_before)
                except BaseException:
                    stop.set()  # running pairs end after their current cycle; queued ones do not start
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    finally:
        # Interrupted or not: the checkpoints say which cycles finished; the file lists exactly those.
        for m, t in pending:
            ck = out / "checkpoints" / f"{m}-trial{t}.json"
            if ck.exists():
                states[m, t] = json.loads(ck.read_text())
        write_results(out / "results.jsonl", states)


def write_results(path: Path, states: dict) -> None:
    """Rewrite `path` atomically: records of pairs not in `states` (in file order), then every
    record of `states` in its iteration order, cycle by cycle."""
    ours = set(states)
    keep = [r for r in read_results(path) if (r["method"], r["trial"]) not in ours] if path.exists() else []
    records = keep + [r for s in states.values() for r in s["results"]]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        for r in records:
            f.write(record_line(r))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
