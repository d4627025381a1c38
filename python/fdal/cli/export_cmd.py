"""`fdal export` (runner checkpoint -> int8 .fdal) and `fdal compare` (float vs int8 parity).
Both need PyTorch; the dataset for calibration and comparison is the one the run was trained on
(read from the run's protocol.json), or --dataset/--data-dir."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .common import (add_data_dir, add_out, add_parser, add_seed, positive_int, require_dir, require_file,
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


def checkpoint_dataset(checkpoint: str, dataset=None, data_dir=None):
    """The dataset a runner checkpoint was trained on: --dataset, else OUT/protocol.json."""
    from fdal.training import data as fdata
    synthetic = {}
    proto_path = Path(checkpoint).resolve().parent.parent / "protocol.json"
    proto = json.loads(proto_path.read_text()) if proto_path.is_file() else None
    if dataset is None:
        if proto is None:
            raise ValueError(f"cannot tell which dataset {checkpoint} was trained on (no {proto_path}); "
                             f"pass --dataset and --data-dir")
        dataset = proto["dataset"]
    # The run's generated data, also under an explicit --dataset synthetic (the defaults differ).
    if dataset == "synthetic" and proto is not None and proto.get("dataset") == "synthetic":
        nc, n_train, n_test = proto["synthetic"]
        synthetic = dict(num_classes=nc, n_train=n_train, n_test=n_test, seed=proto["seed"])
    if dataset == "synthetic":
        return fdata.make_synthetic(**synthetic)
    if data_dir is None:
        raise ValueError(f"--data-dir is required: the checkpoint was trained on {dataset}")
    require_dir(data_dir, "--data-dir")
    return fdata.load_dataset(dataset, data_dir)


def load_checkpoint(path: str):
    require_file(path, "checkpoint")
    from fdal.training.parity import load_checkpoint as load
    import pickle
    try:
        return load(path)
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError) as exc:  # torch.load / load_state_dict
        first = (str(exc).splitlines() or [""])[0][:120]
        raise ValueError(f"{path}: not a student checkpoint written by `fdal al` "
                         f"({type(exc).__name__}: {first})") from None


def calibration_images(ds, n: int, seed: int):
    """n seeded training images, uint8 NHWC (what export() calibrates on)."""
    import numpy as np
    import torch
    n = min(n, len(ds.train_y))
    pick = np.sort(np.random.default_rng(seed).choice(len(ds.train_y), n, replace=False))
    return ds.train_x[torch.as_tensor(pick)].permute(0, 2, 3, 1).contiguous().numpy()


def test_images(ds, n=None):
    x = ds.test_x if n is None else ds.test_x[:n]
    y = ds.test_y if n is None else ds.test_y[:n]
    if len(y) == 0:
        raise ValueError(f"{ds.name} has no test images to compare on")
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy(), y.cpu().numpy()


def run_export(args) -> int:
    torch_setup(args)
    from fdal.training.int8_export import export
    student, sampler, ckpt = load_checkpoint(args.checkpoint)
    ds = checkpoint_dataset(args.checkpoint, args.dataset, args.data_dir)
    out = args.out or os.path.splitext(args.checkpoint)[0] + ".fdal"
    calib = calibration_images(ds, args.calibration, args.seed)
    export(student, sampler, calib, out, method=args.method, seed=args.seed)
    print(f"wrote {out} ({os.path.getsize(out):,} bytes): {ckpt.get('student_arch', 'vgg11lite')} "
          f"{'+ sampler ' if sampler is not None else ''}trained on {ckpt.get('n_labeled')} labels of {ds.name}; "
          f"calibrated ({args.method}) on {len(calib)} training images")
    return 0


def run_compare(args) -> int:
    torch_setup(args)
    from fdal.training.parity import compare, format_report
    require_file(args.model, "model")
    student, sampler, ckpt = load_checkpoint(args.checkpoint)
    ds = checkpoint_dataset(args.checkpoint, args.dataset, args.data_dir)
    if ckpt.get("num_classes") != ds.num_classes:  # accuracies against the wrong labels would look plausible
        raise ValueError(f"{args.checkpoint} has {ckpt.get('num_classes')} classes but {ds.name} has "
                         f"{ds.num_classes}; pass the --dataset it was trained on")
    x, y = test_images(ds, args.n)
    report = format_report(compare(student, sampler, args.model, x, y))
    print(f"{args.checkpoint} (float) vs {args.model} (int8), {len(y):,} test images of {ds.name}\n\n{report}")
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0
