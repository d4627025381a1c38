"""The active-learning protocol runner: cycles of (train, test, select) per method and trial.

    fdal al --preset cpu-small --methods random,kd_random,fdal --data-dir data --out runs/cpu-small

Files in the output directory:
    protocol.json                the protocol (a resumed run must match it)
    teacher.pt                   the teacher, trained once per run (or --teacher PATH is used)
    results.jsonl                one record per cycle, appended as cycles finish (results.py)
    checkpoints/{method}-trial{t}.json   labeled indices, subset-RNG state and results so far;
                                 a rerun resumes after the last finished cycle
    models/{method}-trial{t}.pt  the latest finished cycle's models (checkpoint.py has the keys).
                                 After the run it holds the last cycle's student+sampler, the one
                                 to export.
    results.md, curves.png       written by the command line after the run

`--jobs N` (run_protocol(jobs=N)) runs the (method, trial) pairs in N processes: parallel.py.

Determinism: cycle c of trial t trains with seed (seed + t) * 1000 + c (the same initialization
for every method), so on CPU a resumed run reproduces an uninterrupted one exactly.

Each record carries `phase_seconds`: the cycle's wall-clock per phase (phase_timer.py): data,
teacher, decoder, student, sampler, vaal (training) and evaluation, selection.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from fdal.training.checkpoint import save_checkpoint
from fdal.training.data.pools import train_subset
from fdal.training.protocols import Protocol, get_protocol, teacher_and_pool
from fdal.training.results import append_result, read_results
from fdal.training.phase_timer import PhaseTimer
from fdal.training.student_training import TEACHER_MODES, accuracy, train_cycle
from fdal.training.strategies import METHODS, SelectionContext, needs_teacher, select, training_mode


def _protocol_json(p: Protocol) -> dict:
    d = dataclasses.asdict(p)
    return json.loads(json.dumps(d))  # tuples -> lists, so a reloaded file compares equal


# Training fields added after runs were recorded, with the value that reproduces those runs: a
# protocol.json without the field is the same protocol when the current value equals this one.
LEGACY_TRAIN_FIELDS = {"sampler_training": "whole-pool", "teacher_views": 0, "decoder_hidden": 256}


def same_protocol(stored: dict, p: Protocol) -> bool:
    current = _protocol_json(p)
    stored = dict(stored, train={**LEGACY_TRAIN_FIELDS, **stored.get("train", {})})
    return stored == current


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_protocol_dataset(p: Protocol, data_dir, device):
    from fdal.training import data as fdata
    if p.dataset == "synthetic":
        nc, n_train, n_test = p.synthetic
        return fdata.make_synthetic(nc, n_train, n_test, seed=p.seed).to(device)
    if data_dir is None:
        raise ValueError(f"preset {p.name!r} needs --data-dir for dataset {p.dataset!r}")
    return fdata.load_dataset(p.dataset, data_dir, device)


def get_teacher(p: Protocol, dataset, out_dir: Path, device, teacher_path=None, reuse_cache=True,
                progress=True):
    """The run's teacher: --teacher PATH, else the cached out_dir/teacher.pt, else trained now
    (and cached). Returned in eval mode."""
    from fdal.training import teacher as fteacher
    cache = out_dir / "teacher.pt"
    if teacher_path is not None:
        model = fteacher.load_teacher(teacher_path, device)
        if model.num_classes != dataset.num_classes:  # else KD fails mid-training with a shape error
            raise ValueError(f"teacher {teacher_path} has {model.num_classes} classes but {dataset.name} "
                             f"has {dataset.num_classes}; train one with `fdal train-teacher` on this dataset")
        _write_json_atomic(out_dir / "teacher.json", {"path": str(teacher_path), "logit_scale": model.logit_scale,
                                                      "recipe": model.recipe,
                                                      "test_accuracy": model.meta.get("test_acc")})
    elif reuse_cache and cache.exists():
        model = fteacher.load_teacher(cache, device)
    else:
        if progress:
            print(f"training the {p.teacher_arch} teacher for {p.teacher_epochs} epochs ...", file=sys.stderr)
        t0 = time.time()
        train_set = dataset
        labels = (f"a stratified {p.teacher_source:g} source split of {dataset.name}'s training set, disjoint "
                  f"from the active-learning pool" if p.teacher_source > 0 else
                  f"{dataset.name}'s training split, which is also the active-learning pool (the paper's setting)")
        if 0 < p.teacher_subset < len(dataset.train_y):
            labels = f"a seeded random {p.teacher_subset}-image subset of {labels}"
            keep = np.sort(np.random.default_rng([p.seed, 2]).choice(len(dataset.train_y), p.teacher_subset,
                                                                    replace=False))
            train_set = train_subset(dataset, keep)
        model, history = fteacher.train_teacher(train_set, arch=p.teacher_arch, epochs=p.teacher_epochs,
                                                device=device, seed=p.seed, progress=progress,
                                                eval_every=p.teacher_epochs,  # test once, at the end
                                                labels=labels)
        fteacher.save_teacher(model, cache)
        if "test_acc" not in history[-1]:
            raise ValueError(f"{dataset.name}: the test split is empty, so the teacher cannot be measured")
        acc = history[-1]["test_acc"]  # measured on dataset's test split (train_set shares it)
        _write_json_atomic(out_dir / "teacher.json", {"arch": p.teacher_arch, "epochs": p.teacher_epochs,
                                                      "train_images": len(train_set.train_y),
                                                      "source_fraction": p.teacher_source,
                                                      "test_accuracy": acc, "seconds": time.time() - t0,
                                                      "logit_scale": model.logit_scale, "recipe": model.recipe})
        if progress:
            print(f"teacher: test accuracy {100 * acc:.2f}% in {time.time() - t0:.0f} s; {fteacher.describe(model)}",
                  file=sys.stderr)
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    return model


def _fresh_state(p: Protocol, trial: int, pool_size: int) -> dict:
    seed = p.seed + trial
    if p.initial > pool_size:
        raise ValueError(f"initial labeled set {p.initial} exceeds the pool ({pool_size})")
    if p.final > pool_size:
        raise ValueError(f"the protocol labels up to {p.final} images but the pool has {pool_size}")
    labeled = np.random.default_rng(seed).choice(pool_size, size=p.initial, replace=False)
    subset_rng = np.random.default_rng([seed, 1])  # draws the per-cycle candidate subsets
    return {"labeled": labeled.tolist(), "next_cycle": 0, "rng_state": subset_rng.bit_generator.state,
            "results": []}


def trains_on_candidates(p: Protocol, method: str) -> bool:
    """Whether the method's sampler trains on the cycle's candidate subset (the reference's
    SUBSET loader, sampler_training "reference") rather than on the whole unlabeled pool."""
    return training_mode(method) == "fdal" and p.train.sampler_training == "reference"


def run_cycle(p: Protocol, method: str, trial: int, state: dict, dataset, teacher, device,
              progress=False, teacher_views=None) -> dict:
    """Run the next cycle of `state` (train, test, select the next batch); updates `state` in place
    and returns the cycle's result record and the trained models. teacher_views: the trial's
    teacher_views.TeacherViews (p.train.teacher_views > 0), kept across its cycles."""
    cycle = state["next_cycle"]
    seed = (p.seed + trial) * 1000 + cycle
    t0 = time.time()
    timer = PhaseTimer()
    labeled = np.asarray(state["labeled"], dtype=np.int64)
    unlabeled = np.setdiff1d(np.arange(len(dataset.train_y)), labeled)
    # The candidates are drawn before training (the same draw as after it: nothing else uses the
    # RNG), so that the reference's sampler can train on them; the last cycle selects nothing and
    # leaves the saved RNG state as it is.
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng_state"]
    selects = cycle + 1 < p.cycles
    candidates = rng.choice(unlabeled, size=min(p.subset, len(unlabeled)), replace=False) \
        if selects or trains_on_candidates(p, method) else None
    train_unlabeled = candidates if trains_on_candidates(p, method) else unlabeled
    models = train_cycle(training_mode(method), dataset, labeled, train_unlabeled, p.train, seed=seed,
                         teacher=teacher, device=device, progress=progress, timer=timer,
                         teacher_views=teacher_views)
    with timer.phase("evaluation"):
        acc = accuracy(models.student, dataset.test_x, dataset.test_y, p.train.eval_batch_size)
    if selects:
        state["rng_state"] = rng.bit_generator.state
        with timer.phase("selection"):
            ctx = SelectionContext(dataset, labeled, models, device, p.train.eval_batch_size, teacher)
            picks = select(method, ctx, candidates, p.step, seed)
        state["labeled"] = labeled.tolist() + picks.tolist()
    rec = {"method": method, "dataset": dataset.name, "trial": trial, "cycle": cycle,
           "n_labeled": int(len(labeled)), "accuracy": acc, "seconds": round(time.time() - t0, 3),
           "preset": p.name, "seed": p.seed + trial, "phase_seconds": timer.rounded()}
    state["results"].append(rec)
    state["next_cycle"] = cycle + 1
    return rec, models


def run_protocol(preset_or_config, methods, data_dir=None, out_dir="runs/run", trials: int = 1,
                 device="cpu", resume: bool = True, teacher_path=None, progress: bool = True, jobs: int = 1,
                 threads: int = 1) -> list:
    """Run `methods` (names or a comma-separated string) for `trials` trials; returns every result
    record of these methods and trials (resumed ones included), in run order.

    jobs > 1: the (method, trial) pairs run in that many worker processes with `threads` torch
    threads each (parallel.py); the records are the same as with jobs=1."""
    p = get_protocol(preset_or_config)
    methods = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    if not methods:
        raise ValueError("no methods given")
    for m in methods:
        training_mode(m)  # raises ValueError naming the unknown method
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if jobs < 1 or threads < 1:
        raise ValueError(f"jobs and threads must be >= 1, got {jobs}, {threads}")
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    results_path = out / "results.jsonl"
    proto_path = out / "protocol.json"
    if resume and proto_path.exists() and not same_protocol(json.loads(proto_path.read_text()), p):
        raise ValueError(f"{out} holds a run of a different protocol; use another --out, or start over there "
                         f"with `fdal al --no-resume` (resume=False in Python)")
    if not resume:
        results_path.unlink(missing_ok=True)
        for f in (out / "checkpoints").glob("*.json"):
            f.unlink()
    _write_json_atomic(proto_path, _protocol_json(p))

    if p.train.deterministic:  # before the first CUDA matmul (the teacher's training): determinism.py
        from fdal.training.determinism import enable_deterministic
        enable_deterministic()
    teacher_set, dataset = teacher_and_pool(p, load_protocol_dataset(p, data_dir, device))
    teacher = None
    if any(needs_teacher(m) for m in methods):
        teacher = get_teacher(p, teacher_set, out, device, teacher_path, reuse_cache=resume, progress=progress)

    states = {}
    for trial in range(trials):
        for m in methods:
            ck = out / "checkpoints" / f"{m}-trial{trial}.json"
            states[m, trial] = json.loads(ck.read_text()) if resume and ck.exists() else \
                _fresh_state(p, trial, len(dataset.train_y))
    _sync_results(results_path, [r for s in states.values() for r in s["results"]])

    bar = None
    if progress:
        from tqdm import tqdm
        done = sum(s["next_cycle"] for s in states.values())
        bar = tqdm(total=len(states) * p.cycles, initial=done, desc=p.name, unit="cycle")
    try:
        if jobs > 1:
            from fdal.training.parallel import run_pairs
            teacher_file = None if teacher is None else Path(teacher_path) if teacher_path is not None else \
                out / "teacher.pt"
            run_pairs(p, states, data_dir, out, device, teacher_file, jobs, threads, bar)
        else:
            for trial in range(trials):
                for m in methods:
                    def record(rec, m=m, trial=trial):
                        append_result(results_path, rec)
                        if bar is not None:
                            bar.set_postfix_str(f"{m} t{trial} n={rec['n_labeled']} acc={100 * rec['accuracy']:.1f}%")
                            bar.update(1)
                    run_pair(p, m, trial, states[m, trial], dataset, teacher, device, out, progress, record)
    finally:
        if bar is not None:
            bar.close()
    return [r for trial in range(trials) for m in methods for r in states[m, trial]["results"]]


def run_pair(p: Protocol, method: str, trial: int, state: dict, dataset, teacher, device, out: Path,
             progress=False, on_record=None, stop=None) -> None:
    """Run the remaining cycles of one (method, trial) pair, saving its models and checkpoint after
    each cycle; on_record(rec) is called once the cycle is saved. stop(): asked before each cycle,
    True ends the pair there (a --jobs run being interrupted)."""
    views = None
    if p.train.teacher_views and teacher is not None and training_mode(method) in TEACHER_MODES:
        from fdal.training.teacher_views import TeacherViews  # one cache for all the trial's cycles
        views = TeacherViews(teacher, dataset.train_x, p.train.teacher_views, p.seed + trial,
                             augment=p.train.augment)
    while state["next_cycle"] < p.cycles and not (stop is not None and stop()):
        rec, models = run_cycle(p, method, trial, state, dataset, teacher, device, progress, views)
        save_checkpoint(out / "models" / f"{method}-trial{trial}.pt", models,
                        student_arch=p.train.student_arch, num_classes=dataset.num_classes,
                        n_labeled=rec["n_labeled"], cycle=rec["cycle"], accuracy=rec["accuracy"])
        _write_json_atomic(out / "checkpoints" / f"{method}-trial{trial}.json", state)
        if on_record is not None:
            on_record(rec)


def _sync_results(path: Path, records: list) -> None:
    """After a crash between checkpoint and append, put checkpointed records missing from the file back."""
    have = set()
    if path.exists():
        have = {(r["preset"], r["method"], r["trial"], r["cycle"]) for r in read_results(path)}
    for r in records:
        if (r["preset"], r["method"], r["trial"], r["cycle"]) not in have:
            append_result(path, r)
