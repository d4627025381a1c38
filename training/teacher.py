"""Train, evaluate, save and load the FDAL teacher.

    fdal train-teacher --data-dir DIR --dataset cifar10 --arch vgg19 --epochs 60 --out teacher.pt --seed 0

GPU: the whole dataset lives on the GPU, bf16 autocast, channels_last. CPU: fp32.
"""
import json
import math
import time

import torch
from torch import nn

from .data import augment, pixels_to_unit_float
from .student_training import accuracy
from .models import Teacher

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
                  label_smoothing=0.1, eval_every=1):
    """Train Teacher(arch) on dataset with SGD + nesterov, random crop + flip augmentation.

    schedule: "onecycle" (warm up 15% of steps, cosine anneal) or "cosine". lr: peak learning rate
    (default 0.1 for batch 256, scaled linearly with batch size). amp: bf16 autocast, default on
    for CUDA. Returns (model, history): history is a list of per-epoch dicts
    {epoch, loss, train_acc, test_acc, seconds, lr}.
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
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    decay, no_decay = _param_groups(model)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=momentum, nesterov=True)
    n = data.train_x.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15,
                                                    div_factor=10.0, final_div_factor=100.0)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    gen = torch.Generator(device=device).manual_seed(seed)
    history = []
    bar = tqdm(total=total, desc=f"teacher {arch}", unit="step", disable=not progress) if tqdm else None
    start_time = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for step in range(steps_per_epoch):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            xb = _layout(pixels_to_unit_float(augment(data.train_x[idx], gen)), device)
            yb = data.train_y[idx]
            with _autocast(device, amp):
                logits = model(xb)[1]
                loss = criterion(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
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
            bar.set_postfix(loss=f"{record['loss']:.3f}", train=f"{record['train_acc']:.3f}",
                            test=f"{record.get('test_acc', float('nan')):.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    return model.to(memory_format=torch.contiguous_format), history


def save_teacher(model, path, meta=None):
    """Save weights + what is needed to rebuild the model; meta must be JSON-serializable."""
    meta = dict(meta or {})
    json.dumps(meta)  # raises TypeError early for values torch.load(weights_only=True) would reject
    torch.save({"format": "fdal-teacher-1", "arch": model.arch, "num_classes": model.num_classes,
                "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std],
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "meta": meta}, path)


def load_teacher(path, device="cpu"):
    """Rebuild a Teacher saved by save_teacher; returns it in eval mode on `device`."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != "fdal-teacher-1":
        raise ValueError(f"{path}: not a teacher checkpoint written by fdal.training.teacher.save_teacher")
    model = Teacher(ckpt["num_classes"], ckpt["arch"], mean=ckpt["mean"], std=ckpt["std"])
    model.load_state_dict(ckpt["state_dict"])
    model.meta = ckpt.get("meta", {})
    return model.to(resolve_device(device)).eval()


def _param_groups(model):
    # No weight decay on BatchNorm parameters and biases (standard for fast CIFAR training).
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return decay, no_decay


def _autocast(device, enabled):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def _layout(x, device):
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x
