"""`fdal export` (runner checkpoint -> int8 .fdal) and `fdal compare` (float vs int8 parity).
Both need PyTorch; the dataset for calibration and comparison is the one the run was trained on
(read from the run's protocol.json), or --dataset/--data-dir."""
from __future__ import annotations

import os
from pathlib import Path

from .common import (add_data_dir, add_out, add_parser, add_seed, positive_int, require_file,
                     torch_setup)
from .train import DATASET_CHOICES

CALIBRATION_METHODS = ("minmax", "percentile", "mse")


def register(sub):
    e = add_parser(sub, "export", "quantize a trained student+sampler to an int8 .fdal file",
                   "Read a checkpoint written by `fdal al` (OUT/models/<method>-trial<t>.pt), calibrate on\n"
                   "training images of the run's dataset, and write the int8 model.",
                   "fdal export runs/cpu-small/models/fdal-trial0.pt --data-dir data --out student.fdal")
    _common(e)
    add_out(e, ".fdal path to write (default: the checkpoint's name with .fdal)")
    e.add_argument("--calibration", type=positive_int, default=1000, help="training images for calibration")
    e.add_argument("--method", default="minmax", choices=CALIBRATION_METHODS, help="activation range calibration")
    e.add_argument("--percentile", type=float, default=99.99,
                   help="with --method percentile: clip each activation to its [100-P, P] percentiles (default 99.99)")
    e.set_defaults(func=run_export)

    c = add_parser(sub, "compare", "compare a float checkpoint with its int8 .fdal file",
                   "Run the float student+sampler (PyTorch) and the int8 file (native runtime) on test images:\n"
                   "accuracy of both, top-1 agreement, sampler rank correlation, overlap of the fdal top-10%.",
                   "fdal compare runs/cpu-small/models/fdal-trial0.pt student.fdal --data-dir data")
    _common(c)
    c.add_argument("model", help="the .fdal file exported from the checkpoint")
    c.add_argument("-n", type=positive_int, default=None, help="compare on the first N test images (default all)")
    add_out(c, "also write the report (markdown) here")
    c.set_defaults(func=run_compare)


def _common(p):
    p.add_argument("checkpoint", help="a runner checkpoint, e.g. runs/x/models/fdal-trial0.pt")
    p.add_argument("--dataset", default=None, choices=DATASET_CHOICES,
                   help="dataset of the checkpoint (default: read from the run's protocol.json)")
    add_data_dir(p)
    add_seed(p)


def _load(checkpoint: str, dataset, data_dir):
    """(student, sampler, checkpoint dict, dataset) of a checkpoint given on the command line."""
    from fdal.training.checkpoint import checkpoint_dataset, load_checkpoint
    require_file(checkpoint, "checkpoint")
    student, sampler, ckpt = load_checkpoint(checkpoint)
    return student, sampler, ckpt, checkpoint_dataset(checkpoint, dataset, data_dir)


def run_export(args) -> int:
    torch_setup(args)
    from fdal.training.data import calibration_images
    from fdal.training.int8_export import export
    student, sampler, ckpt, ds = _load(args.checkpoint, args.dataset, args.data_dir)
    out = args.out or os.path.splitext(args.checkpoint)[0] + ".fdal"
    calib = calibration_images(ds, args.calibration, args.seed)
    export(student, sampler, calib, out, method=args.method, percentile=args.percentile, seed=args.seed)
    print(f"wrote {out} ({os.path.getsize(out):,} bytes): {ckpt.get('student_arch', 'vgg11lite')} "
          f"{'+ sampler ' if sampler is not None else ''}trained on {ckpt.get('n_labeled')} labels of {ds.name}; "
          f"calibrated ({args.method}) on {len(calib)} training images")
    return 0


def run_compare(args) -> int:
    torch_setup(args)
    from fdal.training.data import evaluation_images
    from fdal.training.parity import compare, format_report
    require_file(args.model, "model")
    student, sampler, ckpt, ds = _load(args.checkpoint, args.dataset, args.data_dir)
    if ckpt.get("num_classes") != ds.num_classes:  # accuracies against the wrong labels would look plausible
        raise ValueError(f"{args.checkpoint} has {ckpt.get('num_classes')} classes but {ds.name} has "
                         f"{ds.num_classes}; pass the --dataset it was trained on")
    x, y = evaluation_images(ds, args.n)
    report = format_report(compare(student, sampler, args.model, x, y))
    print(f"{args.checkpoint} (float) vs {args.model} (int8), {len(y):,} test images of {ds.name}\n\n{report}")
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0
