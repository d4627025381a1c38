"""Train one FDAL student+sampler on CPU for the export parity benchmark (issue 4).

    python benchmarks/train_fdal_checkpoint.py --data-dir data --out runs/export-parity/fdal.pt

A small teacher (fdal.training.teacher, arch "small") is trained on the labeled images, then one
FDAL cycle (fdal.training.student_training.train_cycle, mode "fdal": distillation + adversarial sampler)
trains a VGG11-lite student and its sampler on `--labels` random labeled images, the rest of the
training split being the sampler's unlabeled pool. The checkpoint is the one `fdal al` writes
(fdal.training.checkpoint), so `fdal export` / `fdal compare --dataset cifar10` read it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np
import torch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="data", help="folder holding cifar-10-batches-py/ (made from the JPEG copy "
                                                       "when missing)")
    ap.add_argument("--out", default="runs/export-parity/fdal.pt")
    ap.add_argument("--labels", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--teacher-epochs", type=int, default=2)
    ap.add_argument("--teacher", default=None, help="a saved teacher (fdal.training.teacher) instead of training one")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from fdal.training import data as fdata
    from fdal.training import teacher as fteacher
    from fdal.training.checkpoint import save_checkpoint
    from fdal.training.student_training import FdalConfig, accuracy, train_cycle

    torch.set_num_threads(args.threads)
    if not os.path.isdir(os.path.join(args.data_dir, "cifar-10-batches-py")):
        fdata.prepare_cifar10_jpeg(args.data_dir)
    ds = fdata.load_dataset("cifar10", args.data_dir)
    rng = np.random.default_rng(args.seed)
    labeled = np.sort(rng.choice(len(ds.train_y), args.labels, replace=False))
    unlabeled = np.setdiff1d(np.arange(len(ds.train_y)), labeled)

    t0 = time.time()
    keep = torch.as_tensor(labeled)
    teacher_set = dataclasses.replace(ds, train_x=ds.train_x[keep], train_y=ds.train_y[keep])
    if args.teacher:
        teacher = fteacher.load_teacher(args.teacher)
    else:
        teacher, _ = fteacher.train_teacher(teacher_set, arch="small", epochs=args.teacher_epochs, device="cpu",
                                            seed=args.seed, progress=True, eval_every=args.teacher_epochs)
    teacher_acc = accuracy(teacher, ds.test_x, ds.test_y)
    print(f"teacher ({args.teacher or f'small, {args.teacher_epochs} epochs on {args.labels} labels'}): {100 * teacher_acc:.2f}% "
          f"in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)

    t1 = time.time()
    config = FdalConfig().scaled(args.epochs)
    models = train_cycle("fdal", ds, labeled, unlabeled, config, seed=args.seed, teacher=teacher, device="cpu",
                         progress=True)
    acc = accuracy(models.student, ds.test_x, ds.test_y)
    print(f"student (FDAL, {args.epochs} epochs): {100 * acc:.2f}% in {time.time() - t1:.0f} s",
          file=sys.stderr, flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)    save_checkpoint(args.out, models, student_arch=config.student_arch, num_classes=ds.num_classes,
                    n_labeled=args.labels, cycle=0, accuracy=acc)
    meta = {"labels": args.labels, "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
            "teacher_accuracy": teacher_acc, "student_accuracy": acc, "seconds": round(time.time() - t0, 1),
            "seed": args.seed}
    with open(os.path.splitext(args.out)[0] + ".json", "w") as fh:
        json.dump(meta, fh, indent=1)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
