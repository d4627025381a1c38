"""Why balancing by predicted class has a ceiling: the true classes of one cycle's picks.

For each trial, train the cycle-0 student of a cpu-research preset exactly as `fdal al` does (kd
mode, the trial's 500 random labels, seed (seed + trial) * 1000), export it to int8 as the runner
does, draw the cycle's 5,000 candidates and pick the next 500 with several rules, without
retraining. Prints, per rule, the true-class histogram of the picks (classes ordered from the
rarest in the pool), the smallest class count of the labeled set after the picks, and the
fraction of picks whose predicted class is their true class. It explains docs/results.md's
class-balancing results; it is not an active-learning result (no accuracy is measured).

Rules: random; classbalanced (a round robin over the int8 student's predicted classes, the
runtime's rule); classbalanced with the labeled set's counts (water-filling, the runner's
kd+classbalanced@labeled); and two diagnostics that are no runtime strategy: the same
water-filling with the most confident (largest margin) candidates of each class first, and with
each candidate's class taken as its nearest labeled-class centroid in the int8 student embedding.

    python benchmarks/pick_class_balance.py --preset cpu-research-imbalanced --trials 0,1 \\
        --data-dir data --teacher docs/results-data/cpu-research/teacher.pt
"""
from __future__ import annotations

import argparse

import numpy as np


def picks_by_rule(p, pool, teacher, trial):
    import torch
    from fdal.oracle.keys import keys
    from fdal.oracle.pool_select import pool_select
    from fdal.training.data.runtime_images import images_nhwc
    from fdal.training.runner import _fresh_state
    from fdal.training.strategies.base import SelectionContext
    from fdal.training.strategies.on_device import export_cycle_model
    from fdal.training.student_training import train_cycle

    y = np.asarray(pool.train_y)
    state = _fresh_state(p, trial, len(y))
    labeled = np.asarray(state["labeled"], dtype=np.int64)
    seed = (p.seed + trial) * 1000
    unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
    models = train_cycle("kd", pool, labeled, unlabeled, p.train, seed=seed, teacher=teacher, device="cpu")
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng_state"]
    cand = np.sort(rng.choice(unlabeled, size=min(p.subset, len(unlabeled)), replace=False))
    model, spec = export_cycle_model(SelectionContext(pool, labeled, models, "cpu", 1000, teacher), "student", seed)
    out = model.forward(images_nhwc(pool.train_x[torch.as_tensor(cand)]))
    logits = np.asarray(out["logits_raw"]).astype(np.int64)
    pred = np.argmax(logits, axis=1).astype(np.int64)
    margin = keys({"logits_raw": logits}, "margin").astype(np.int64)
    unit = float(np.float32(spec.layers[spec.logits_layer].out_scale))
    counts = np.bincount(y[labeled], minlength=pool.num_classes).astype(np.int64)
    emb_lab = model.forward(images_nhwc(pool.train_x[torch.as_tensor(labeled)]))["embedding"].astype(np.float64)
    centroids = np.stack([emb_lab[y[labeled] == c].mean(0) for c in range(pool.num_classes)])
    emb = out["embedding"].astype(np.float64)
    nearest = ((emb[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1).astype(np.int64)

    def cb(scores, classes, with_counts, beta=1.0):
        return pool_select("classbalanced", None, scores, p.step, seed, cand, classes,
                           counts if with_counts else None, beta=beta, unit=unit)

    rules = {
        "random": np.random.default_rng(seed).choice(len(cand), p.step, replace=False),
        "classbalanced": cb(margin, pred, False),
        "classbalanced + labeled counts": cb(margin, pred, True),
        "(diagnostic) + most confident first": cb(-margin, pred, True, beta=float("inf")),
        "(diagnostic) + nearest-centroid class": cb(margin, nearest, True),
    }
    return y, labeled, cand, pred, counts, rules


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu-research-imbalanced")
    ap.add_argument("--trials", default="0,1", help="comma-separated trial indices")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--teacher", default="docs/results-data/cpu-research/teacher.pt")
    args = ap.parse_args()
    import torch
    from fdal.training.protocols import get_protocol, teacher_and_pool
    from fdal.training.runner import load_protocol_dataset
    from fdal.training.teacher import load_teacher
    torch.set_num_threads(1)
    p = get_protocol(args.preset)
    _, pool = teacher_and_pool(p, load_protocol_dataset(p, args.data_dir, "cpu"))
    teacher = load_teacher(args.teacher, "cpu")
    pool_counts = np.bincount(np.asarray(pool.train_y), minlength=pool.num_classes)
    order = np.argsort(pool_counts, kind="stable")  # rarest class first
    print(f"{p.name}: pool class sizes, rarest first: {pool_counts[order].tolist()} (classes {order.tolist()})\n")
    for trial in (int(t) for t in args.trials.split(",")):
        y, labeled, cand, pred, counts, rules = picks_by_rule(p, pool, teacher, trial)
        print(f"trial {trial}: labeled {counts[order].tolist()}; the student predicts "
              f"{np.bincount(pred, minlength=pool.num_classes)[order].tolist()} of the {len(cand):,} candidates\n")
        print("| rule | true classes of the picks (rarest first) | smallest class after | predicted = true |")
        print("|---|---|---:|---:|")
        for name, picks in rules.items():
            got = np.bincount(y[cand[picks]], minlength=pool.num_classes)
            hit = float(np.mean(y[cand[picks]] == pred[picks]))
            print(f"| {name} | {' '.join(str(v) for v in got[order])} | {(counts + got).min()} | {hit:.2f} |")
        print()


if __name__ == "__main__":
    main()
