"""`fdal cycle train`: the next student of a campaign, trained as `fdal al` trains a cycle.

The cycle after round R is cycle c = R - 1 of the runner: student_training.train_cycle in mode
kd or fdal on the labeled images (labeled_in_order: the rounds' picks in pick order) with every
other pool image as the unlabeled set (pool minus labeled, as runner.run_cycle passes it), the
teacher, the campaign preset's FdalConfig (--epochs scales it as `fdal al --epochs` does) and seed
seed * 1000 + c. The int8 file is the runner's on-device export (strategies/on_device.py:
export_cycle_model, 1000 pool images drawn with that seed for calibration, the student's z as the
embedding), so a campaign's round ranks with the file `fdal al --methods kd+S` would rank with.

Files, PROJ/models/round-R/:
    student.pt     the float models (checkpoint.save_checkpoint; `fdal export`/`fdal compare` read it)
    train.json     what the checkpoint was trained on (labeled keys' digest, method, epochs, seed)
    student.fdal   the int8 model `fdal cycle pick` ranks with; report.md / report.json
Resume: a checkpoint whose train.json matches is not trained again (an interruption during the
export or the report resumes there); an interruption during training restarts that training,
which is deterministic on CPU given the seed, so the result is the same.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from fdal.campaign.pick import cycle_seed
from fdal.campaign.pixel_cache import sync_pool
from fdal.campaign.state import labeled_in_order, write_json_atomic

COMPARE_IMAGES = 1000  # pool images of the float/int8 comparison when no held-out folder is given


def _recipe(state: dict, epochs):
    from fdal.training.protocols import get_protocol
    config = get_protocol(state["preset"]).train
    return config if epochs is None else config.scaled(epochs)


def _labeled_digest(keys, labels) -> str:
    return hashlib.sha256(json.dumps([[k, labels[k]] for k in keys]).encode()).hexdigest()


def _load_models(path: Path, mode: str):
    """CycleModels from a checkpoint of a finished training (resume)."""
    from fdal.training import models as fmodels
    from fdal.training.checkpoint import load_checkpoint
    from fdal.training.student_training import CycleModels
    student, sampler, ckpt = load_checkpoint(path)
    decoder = None
    if ckpt.get("decoder") is not None:
        decoder = fmodels.Decoder(in_channels=64, out_channels=512)
        decoder.load_state_dict(ckpt["decoder"])
        decoder.eval()
    return CycleModels(mode=mode, student=student, decoder=decoder, sampler=sampler)


def _check_teacher(state: dict):
    from fdal.campaign.create import file_sha256
    from fdal.training.teacher import load_teacher
    path = state["teacher"]
    if not os.path.isfile(path):
        raise FileNotFoundError(2, "No such file (the campaign's teacher)", path)
    if file_sha256(path) != state["teacher_sha256"]:
        raise ValueError(f"the teacher {path} changed since `fdal cycle init` (sha256 differs); a campaign "
                         f"distills from one teacher: restore it, or start a new campaign")
    teacher = load_teacher(path)
    teacher.eval()
    for prm in teacher.parameters():
        prm.requires_grad_(False)
    return teacher


def train_round(proj, state: dict, method: str = "fdal", epochs=None, heldout=None, device="cpu",
                progress: bool = False, say=print) -> dict:
    """Train, export and report the student of the latest round; records it in state["models"]
    (the caller saves the state). Returns the model record."""
    from fdal.format import write_model
    from fdal.training.checkpoint import save_checkpoint
    from fdal.training.strategies.base import SelectionContext
    from fdal.training.strategies.on_device import export_cycle_model
    from fdal.training.student_training import TEACHER_MODES, accuracy, train_cycle
    from .pool_dataset import campaign_dataset, load_heldout

    if method not in TEACHER_MODES:
        raise ValueError(f"--method must be one of {', '.join(TEACHER_MODES)}, got {method!r}")
    keys = labeled_in_order(state)
    if len(keys) < 2:
        raise ValueError(f"{len(keys)} labeled images: import labels first (`fdal cycle import {proj} export.json`)")
    config = _recipe(state, epochs)
    cycle = max(len(state["rounds"]) - 1, 0)
    seed = cycle_seed(state, cycle)
    digest = _labeled_digest(keys, state["labels"])
    wanted = {"labeled_digest": digest, "method": method, "epochs": config.epochs, "seed": seed,
              "preset": state["preset"], "labeled": len(keys)}
    for rec in state["models"]:
        if all(rec.get(k) == v for k, v in wanted.items()):
            say(f"{rec['dir']} is already trained on these {len(keys)} labels ({method}, {config.epochs} epochs)")
            return rec
    name = f"models/round-{cycle + 1}"
    if any(r["dir"] == name for r in state["models"]):
        name = f"{name}-{len(keys)}labels-{method}-e{config.epochs}"
    out = Path(proj) / name
    out.mkdir(parents=True, exist_ok=True)

    pixels, _stats = sync_pool(proj, state, progress=progress, warn=lambda m: say(f"warning: {m}"))
    missing = [k for k in keys if k not in pixels.index]
    if missing:
        raise ValueError(f"{len(missing)} labeled images are no longer in the pool (first: {missing[0]}); "
                         f"put them back")
    class_index = {c: i for i, c in enumerate(state["classes"])}
    labeled = np.asarray([pixels.index[k] for k in keys], dtype=np.int64)
    dataset = campaign_dataset(pixels, state["classes"],
                               {int(i): class_index[state["labels"][k]] for i, k in zip(labeled, keys)}, device)
    teacher = _check_teacher(state).to(device)
    ckpt_path, meta_path = out / "student.pt", out / "train.json"
    t0 = time.perf_counter()
    if ckpt_path.is_file() and meta_path.is_file() and json.loads(meta_path.read_text()) == wanted:
        say(f"resuming: {ckpt_path} is trained on these labels; exporting it")
        models = _load_models(ckpt_path, method)
        models.student.to(device)
    else:
        unlabeled = np.setdiff1d(np.arange(len(pixels)), labeled)  # as runner.run_cycle
        say(f"training the {method} student on {len(keys)} labels ({len(unlabeled):,} unlabeled), "
            f"{config.epochs} epochs, seed {seed}")
        models = train_cycle(method, dataset, labeled, unlabeled, config, seed=seed, teacher=teacher,
                             device=device, progress=progress)
    train_seconds = time.perf_counter() - t0
    held = None
    if heldout is not None:
        hx, hy, _ = load_heldout(heldout, state["classes"], state["image_shape"])
        hx_nchw = torch.from_numpy(hx).permute(0, 3, 1, 2).contiguous()  # the layout of a Dataset's test_x
        held_acc = accuracy(models.student, hx_nchw, torch.from_numpy(hy), config.eval_batch_size)
        held = (hx, hy, held_acc)
    if not ckpt_path.is_file() or json.loads(meta_path.read_text() if meta_path.is_file() else "{}") != wanted:
        meta_path.unlink(missing_ok=True)
        save_checkpoint(ckpt_path, models, student_arch=config.student_arch, num_classes=len(state["classes"]),
                        n_labeled=len(keys), cycle=cycle, accuracy=held[2] if held else math.nan)
        write_json_atomic(meta_path, wanted)

    ctx = SelectionContext(dataset, labeled, models, device, config.eval_batch_size, teacher)
    _model, spec = export_cycle_model(ctx, "student", seed)
    tmp = out / "student.fdal.tmp"
    write_model(spec, str(tmp))
    os.replace(tmp, out / "student.fdal")

    report = _report(state, models, out, keys, held, pixels, seed, method, config, train_seconds)
    rec = {"dir": name, "cycle": cycle, **wanted, "top1_agreement": report["compare"]["top1_agreement"],
           "heldout_accuracy": report.get("heldout_accuracy"), "train_seconds": round(train_seconds, 1)}
    state["models"].append(rec)
    return rec


def _report(state, models, out: Path, keys, held, pixels, seed, method, config, train_seconds) -> dict:
    from fdal.training.parity import compare, format_report
    if held is not None:
        images, labels, where = held[0], held[1], "the held-out folder"
    else:
        n = min(COMPARE_IMAGES, len(pixels))
        idx = np.sort(np.random.default_rng([seed, 8]).choice(len(pixels), n, replace=False))
        images, labels, where = pixels.images(idx), None, f"{n} seeded pool images"
    cmp = compare(models.student, models.sampler, str(out / "student.fdal"), images, labels)
    per_class = Counter(state["labels"][k] for k in keys)
    report = {"method": method, "labeled": len(keys), "skipped": len(state["skipped"]),
              "labels_per_class": {c: per_class.get(c, 0) for c in state["classes"]},
              "epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr, "seed": seed,
              "preset": state["preset"], "train_seconds": round(train_seconds, 1), "compared_on": where,
              "compare": cmp, "last_epoch_losses": models.history[-1] if models.history else None}
    if held is not None:
        report["heldout_accuracy"] = {"float": held[2], "int8": cmp["int8_accuracy"], "images": int(len(held[1]))}
    write_json_atomic(out / "report.json", report, indent=1)
    lines = [f"# {out.name}: {method} student on {len(keys)} labels", "",
             f"Recipe: preset {state['preset']}, {config.epochs} epochs, batch {config.batch_size}, lr {config.lr}, "
             f"seed {seed}; trained in {train_seconds:.0f} s. Skipped images: {len(state['skipped'])}.", "",
             "| class | labels |", "|---|---|"]
    lines += [f"| {c} | {n} |" for c, n in report["labels_per_class"].items()]
    if held is not None:
        lines += ["", f"Held-out accuracy ({len(held[1])} images): float {100 * held[2]:.2f}%, "
                  f"int8 {100 * cmp['int8_accuracy']:.2f}%"]
    lines += ["", f"Float vs int8 on {where}:", "", format_report(cmp), ""]
    (out / "report.md").write_text("\n".join(lines))
    return report
