"""Train, evaluate, save and load the FDAL teacher.

    fdal train-teacher --data-dir DIR --dataset cifar10 --arch vgg19 --epochs 60 --out teacher.pt --seed 0

GPU: the whole dataset lives on the GPU, bf16 autocast, channels_last. CPU: fp32.

Checkpoint formats: "fdal-teacher-2" stores the teacher's logit scale and, in meta["recipe"], how it
was trained (train_teacher's `recipe`); "fdal-teacher-1" (before the scale was stored) still loads.
Since `fdal cycle`, a checkpoint also stores the class names ("classes", in label order; a campaign
takes them from it); one without them loads with model.classes = None.
"""
import json
import math
import time

import torch
from torch import nn

from .data import augment, pixels_to_unit_float
from .student_training import accuracy
from .models import Teacher

FORMAT = "fdal-teacher-2"
# Format 1 stored no logit scale: every format-1 teacher was trained with the then fixed 0.25.
FORMAT_1, FORMAT_1_LOGIT_SCALE = "fdal-teacher-1", 0.25

try:
    from tqdm.auto import tqdm
except ImportError:  # progress bars are optional
    tqdm = None


def resolve_device(device=None):
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def evaluate(model, x_uint8, y, batch_size=1000):
    """Top-1 accuracy (a float in [0, 1]) of model(x)[1] on uint8 images x, labels y; bf16 on CUDA."""
    device = next(model.parameters()).device
    return accuracy(model, x_uint8, y, batch_size, amp=device.type == "cuda")


def train_teacher(dataset, arch="vgg19", epochs=60, batch_size=256, lr=None, schedule="onecycle",
                  device=None, seed=0, amp=None, progress=True, weight_decay=5e-4, momentum=0.9,
                  label_smoothing=0.1, eval_every=1, labels=None):
    """Train Teacher(arch) on dataset with SGD + nesterov, random crop + flip augmentation.

    schedule: "onecycle" (warm up 15% of steps, cosine anneal) or "cosine". lr: peak learning rate
    (default 0.1 for batch 256, scaled linearly with batch size). amp: bf16 autocast, default on
    for CUDA. labels: what labels the teacher sees, in words, for its recipe (default: all of
    dataset's training labels). Returns (model, history): history is a list of per-epoch dicts
    {epoch, loss, train_acc, test_acc, seconds, lr}; model.recipe says how it was trained (JSON).
    """
    if schedule not in ("onecycle", "cosine"):
        raise ValueError(f"schedule must be 'onecycle' or 'cosine', got {schedule!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    device = resolve_device(device)
    amp = (device.type == "cuda") if amp is None else bool(amp)
    lr = 0.1 * batch_size / 256 if lr is None else lr
    torch.manual_seed(seed)
    data = dataset.to(device)
    model = Teacher(dataset.num_classes, arch, mean=dataset.mean, std=dataset.std).to(device)
    model.classes = [str(c) for c in dataset.classes]  # saved with the weights (save_teacher)
    n = dataset.train_x.shape[0]
    model.recipe = _recipe(dataset, model, arch, epochs, batch_size, lr, schedule, momentum, weight_decay,
                           label_smoothing, amp, seed, labels)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    opt, sched = _optimizer(model, lr, momentum, weight_decay, schedule, total)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    gen = torch.Generator(device=device).manual_seed(seed)
    history = []
    bar = tqdm(total=total, desc=f"teacher {arch}", unit="step", disable=not progress) if tqdm else None
    start_time = time.perf_counter()
    last_test = None  # the latest measured test accuracy, for the progress bar
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for step in range(steps_per_epoch):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            loss, logits, yb = _train_step(model, data, idx, gen, device, amp, criterion, opt)
            sched.step()
            loss_sum += loss.detach() * idx.shape[0]   # stays on device: no sync per step
            correct += (logits.argmax(1) == yb).sum()
            if bar is not None:
                bar.update(1)
        record = {"epoch": epoch, "loss": float(loss_sum) / n, "train_acc": int(correct) / n,
                  "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - start_time}
        if data.test_x.shape[0] and (epoch % eval_every == 0 or epoch == epochs):
            record["test_acc"] = evaluate(model, data.test_x, data.test_y)
        history.append(record)
        if bar is not None:
            # test accuracy only once measured (every eval_every epochs), never a placeholder nan
            if "test_acc" in record:
                last_test = f"{record['test_acc']:.3f}"
            shown = {"test": last_test} if last_test is not None else {}
            bar.set_postfix(loss=f"{record['loss']:.3f}", train=f"{record['train_acc']:.3f}", **shown)
    if bar is not None:
        bar.close()
    model.eval()
    return model.to(memory_format=torch.contiguous_format), history


def save_teacher(model, path, meta=None):
    """Save weights + what is needed to rebuild the model (its logit scale included); meta must be
    JSON-serializable. meta["recipe"] defaults to model.recipe (set by train_teacher)."""
    meta = dict(meta or {})
    if getattr(model, "recipe", None) is not None:
        meta.setdefault("recipe", model.recipe)
    json.dumps(meta)  # raises TypeError early for values torch.load(weights_only=True) would reject
    torch.save({"format": FORMAT, "arch": model.arch, "num_classes": model.num_classes,
                "logit_scale": float(model.logit_scale),
                "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std],
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "classes": _class_names(model), "meta": meta}, path)


def _class_names(model):
    classes = getattr(model, "classes", None)
    if classes is not None and len(classes) != model.num_classes:
        raise ValueError(f"the teacher has {model.num_classes} outputs but {len(classes)} class names")
    return None if classes is None else [str(c) for c in classes]


def load_teacher(path, device="cpu"):
    """Rebuild a Teacher saved by save_teacher (either format); returns it in eval mode on `device`,
    with .meta and .recipe (None when the checkpoint has none)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
    if fmt == FORMAT:
        scale = ckpt["logit_scale"]
    elif fmt == FORMAT_1:
        scale = FORMAT_1_LOGIT_SCALE
    else:
        raise ValueError(f"{path}: not a teacher checkpoint written by fdal.training.teacher.save_teacher "
                         f"(format {fmt!r}; this version reads {FORMAT!r} and {FORMAT_1!r})")
    model = Teacher(ckpt["num_classes"], ckpt["arch"], mean=ckpt["mean"], std=ckpt["std"], logit_scale=scale)
    model.load_state_dict(ckpt["state_dict"])
    model.meta = ckpt.get("meta", {})
    model.classes = ckpt.get("classes")  # None before class names were stored
    model.recipe = model.meta.get("recipe")
    return model.to(resolve_device(device)).eval()


def describe(model) -> str:
    """One line: the teacher's logit scale and training recipe (what `fdal train-teacher` prints)."""
    recipe = getattr(model, "recipe", None)
    if not recipe:
        return f"{model.arch} teacher, logit scale {model.logit_scale:g}, training recipe not recorded"
    keys = ("epochs", "batch_size", "lr", "schedule", "optimizer", "momentum", "weight_decay",
            "label_smoothing", "augment", "seed", "train_images", "labels", "processes")
    return (f"{recipe['arch']} teacher, logit scale {model.logit_scale:g}; "
            + ", ".join(f"{k} {recipe[k]}" for k in keys if k in recipe))


def _recipe(dataset, model, arch, epochs, batch_size, lr, schedule, momentum, weight_decay, label_smoothing,
            amp, seed, labels) -> dict:
    n = int(dataset.train_x.shape[0])
    return {
        "arch": arch, "epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": schedule,
        "optimizer": "SGD nesterov", "momentum": momentum, "weight_decay": weight_decay,
        "weight_decay_on": "conv and linear weights (not BatchNorm, not biases)",
        "label_smoothing": label_smoothing, "augment": "random crop (zero padding 4) + horizontal flip",
        "bf16": amp, "seed": seed, "dataset": dataset.name, "train_images": n,
        "labels": labels or f"all {n} training labels of {dataset.name}", "logit_scale": model.logit_scale}


def _optimizer(model, lr, momentum, weight_decay, schedule, total_steps):
    """SGD nesterov (no decay on BatchNorm and biases) and the per-step learning-rate schedule."""
    decay, no_decay = _param_groups(model)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=momentum, nesterov=True)
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=0.15,
                                                    div_factor=10.0, final_div_factor=100.0)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    return opt, sched


def _param_groups(model):
    # No weight decay on BatchNorm parameters and biases (standard for fast CIFAR training).
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return decay, no_decay


def _train_step(model, data, idx, gen, device, amp, criterion, opt):
    """One optimizer step of the teacher recipe on the pool images `idx` (augmented with `gen`);
    the single-process loop and each DDP rank (where `model` is the DDP wrapper, whose backward
    all-reduces the gradients) run this same step. Returns (loss, logits, labels)."""
    xb = _layout(pixels_to_unit_float(augment(data.train_x[idx], gen)), device)
    yb = data.train_y[idx]
    with _autocast(device, amp):
        logits = model(xb)[1]
        loss = criterion(logits.float(), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, logits, yb


def _autocast(device, enabled):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _layout(x, device):
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x
