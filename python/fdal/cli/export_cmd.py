"""`fdal export` (runner checkpoint -> int8 .fdal) and `fdal compare` (float vs int8 parity).
Both need PyTorch; the dataset for calibration and comparison is the one the run was trained on
(read from the run's protocol.json), or --dataset/--data-dir."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import (add_data_dir, add_out, add_parser, add_seed, positive_int, require_file,
                     torch_setup)
from .train import DATASET_CHOICES

CALIBRATION_METHODS = ("minmax", "percentile", "mse")
EMBEDDING_CHOICES = ("student", "decoder", "none")


def register(sub):
    e = add_parser(sub, "export", "quantize a trained student+sampler to an int8 .fdal file",
                   "Read a checkpoint written by `fdal al` (OUT/models/<method>-trial<t>.pt), calibrate on\n"
                   "training images of the run's dataset, and write the int8 model.",
                   "fdal export runs/cpu-small/models/fdal-trial0.pt --data-dir data --out student.fdal")
    _common(e)
    add_out(e, ".fdal path to write (default: the checkpoint's name with .fdal)")
    e.add_argument("--calibration", type=positive_int, default=1000, help="how many training images calibrate the int8 scales (an image count, default 1000)")
    e.add_argument("--method", default="minmax", choices=CALIBRATION_METHODS, help="activation range calibration")
    e.add_argument("--percentile", type=float, default=99.99,
                   help="with --method percentile: clip each activation to its [100-P, P] percentiles (default 99.99)")
    e.add_argument("--embedding", default="student", choices=EMBEDDING_CHOICES,
                   help="the per-image embedding output for pool-level selection: the student's feature map z "
                        "(default, free), the trained decoder's 512-d output (fdal/kd checkpoints; ~4x the "
                        "student's MACs), or none")
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


def decoder_from_checkpoint(ckpt: dict, checkpoint: str):
    """The trained decoder (models.Decoder, eval mode) stored in a runner checkpoint; ValueError naming
    the fix when the checkpoint has none (only the fdal and kd training modes train one)."""
    from fdal.training import models
    sd = ckpt.get("decoder")
    if sd is None:
        raise ValueError(f"{checkpoint} has no decoder (only the fdal and kd training modes train one); "
                         f"export with --embedding student or --embedding none")
    try:
        hidden, in_channels = sd["net.0.weight"].shape[:2]
        decoder = models.Decoder(in_channels=in_channels, out_channels=sd["net.2.weight"].shape[0],
                                 hidden_channels=hidden)
        decoder.load_state_dict(sd)
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"{checkpoint}: its decoder is not a models.Decoder state dict "
                         f"({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})") from None
    return decoder.eval()


def run_export(args) -> int:
    torch_setup(args)
    from fdal.training.data import calibration_images
    from fdal.training.int8_export import export
    student, sampler, ckpt, ds = _load(args.checkpoint, args.dataset, args.data_dir)
    embedding = None if args.embedding == "none" else args.embedding
    decoder = decoder_from_checkpoint(ckpt, args.checkpoint) if embedding == "decoder" else None
    out = args.out or os.path.splitext(args.checkpoint)[0] + ".fdal"
    calib = calibration_images(ds, args.calibration, args.seed)
    spec = export(student, sampler, calib, out, method=args.method, percentile=args.percentile, seed=args.seed,
                  embedding=embedding, decoder=decoder)
    described = ("no embedding" if spec.embedding_layer < 0 else
                 f"{args.embedding} embedding of {int(np.prod(spec.layers[spec.embedding_layer].out_shape))} values")
    print(f"wrote {out} ({os.path.getsize(out):,} bytes): {ckpt.get('student_arch', 'vgg11lite')} "
          f"{'+ sampler ' if sampler is not None else ''}trained on {ckpt.get('n_labeled')} labels of {ds.name}, "
          f"{described}; calibrated ({args.method}) on {len(calib)} training images")
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
    # A decoder embedding is a branch of its own (fdal info): compare it with the float decoder's output.
    from fdal import format as fmt
    from .info import embedding_branch_layers
    decoder = (decoder_from_checkpoint(ckpt, args.checkpoint)
               if embedding_branch_layers(fmt.read_model(args.model)) else None)
    report = format_report(compare(student, sampler, args.model, x, y, decoder=decoder))
    print(f"{args.checkpoint} (float) vs {args.model} (int8), {len(y):,} test images of {ds.name}\n\n{report}")
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0
