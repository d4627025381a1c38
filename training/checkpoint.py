"""The student checkpoint of one finished cycle: `fdal al` writes OUT/models/<method>-trial<t>.pt,
`fdal export` and `fdal compare` read it.

A dict of CPU state dicts, strings and numbers only, so it loads with torch.load(weights_only=True):
    student, sampler, decoder    state dicts (sampler: fdal training mode only; decoder: kd and fdal)
    student_arch, num_classes    what rebuilds the student (models.make_student)
    n_labeled, cycle, accuracy   the cycle it comes from
"""
from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

import torch

KEYS = ("student", "sampler", "decoder", "student_arch", "num_classes", "n_labeled", "cycle", "accuracy")


def _state_dict(module):
    return None if module is None else {k: v.detach().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(path, models, *, student_arch: str, num_classes: int, n_labeled: int, cycle: int,
                    accuracy: float) -> None:
    """Write `models` (a student_training.CycleModels) to `path` atomically (temporary file + rename),
    so an interrupted run never leaves a truncated checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"student": _state_dict(models.student), "sampler": _state_dict(models.sampler),
                "decoder": _state_dict(models.decoder), "student_arch": student_arch,
                "num_classes": int(num_classes), "n_labeled": int(n_labeled), "cycle": int(cycle),
                "accuracy": float(accuracy)}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    """(student, sampler or None, the checkpoint dict) from a checkpoint written by save_checkpoint;
    the models in eval mode on the CPU. Raises ValueError for a file that is not one."""
    from . import models
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or "student" not in ckpt:
            raise ValueError(f"{path}: not a checkpoint with a 'student' state dict (written by `fdal al`)")
        student = models.make_student(ckpt.get("student_arch", "vgg11lite"), num_classes=ckpt["num_classes"])
        student.load_state_dict(ckpt["student"])
        sampler = None
        if ckpt.get("sampler") is not None:
            sd = ckpt["sampler"]
            hidden, in_features = sd["net.1.weight"].shape
            sampler = models.Sampler(in_features=in_features, hidden=hidden)
            sampler.load_state_dict(sd)
            sampler.eval()
    except (RuntimeError, pickle.UnpicklingError, EOFError, KeyError) as exc:  # torch.load / load_state_dict
        first = (str(exc).splitlines() or [""])[0][:120]
        raise ValueError(f"{path}: not a student checkpoint written by `fdal al` "
                         f"({type(exc).__name__}: {first})") from None
    return student.eval(), sampler, ckpt


def checkpoint_dataset(checkpoint, dataset=None, data_dir=None):
    """The dataset a checkpoint was trained on: `dataset` (a name) if given, else the one in the
    run's protocol.json (OUT/protocol.json for OUT/models/x.pt). A generated (synthetic) dataset is
    rebuilt with the run's own parameters."""
    from . import data as fdata
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
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(errno.ENOENT, "No such directory (--data-dir)", str(data_dir))
    return fdata.load_dataset(dataset, data_dir)
