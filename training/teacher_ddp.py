"""The teacher on several processes with torch's DistributedDataParallel (DDP).

    fdal train-teacher --dataset cifar10 --data-dir data --nproc 4 --out teacher.pt
    torchrun --nproc-per-node 4 -m fdal.cli train-teacher --dataset cifar10 --data-dir data --out teacher.pt

`--nproc N` starts N processes with torch.multiprocessing (spawn); under torchrun (RANK and
WORLD_SIZE set) each process torchrun starts is one rank. Backend gloo on CPU, nccl on CUDA (rank r
on cuda:LOCAL_RANK). The recipe is teacher.train_teacher's, with the global batch --batch-size split
evenly over the ranks (it must divide by N):

- the same seed initializes the model on every rank (DDP broadcasts rank 0's weights anyway);
- each epoch a DistributedSampler (seed, set_epoch) shuffles the training set and gives rank r every
  N-th index, padded by repetition to equal shares; rank r takes batch_size / N of them per step;
- DDP averages the gradients, so one step sees the global batch's mean loss; steps per epoch,
  learning rate and schedule are the single-process ones;
- augmentation draws from a per-rank generator (seed + rank), and BatchNorm normalizes with each
  rank's own batch_size / N images (SyncBatchNorm is CUDA-only): so the result is close to, not
  bit-identical with, the single-process one (docs/scale-out.md, "Parallel experiments", measures it);
- rank 0 tests the model and saves the checkpoint (teacher.save_teacher, meta["processes"] = N).
"""
from __future__ import annotations

import math
import os
import tempfile
import time

import torch
from torch import nn

from .teacher import _optimizer, _recipe, _train_step, evaluate, resolve_device, save_teacher


def under_torchrun() -> bool:
    """Whether this process is one rank of a torchrun launch (torchrun sets these variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def check(nproc: int, batch_size: int) -> None:
    if nproc < 1:
        raise ValueError(f"the number of processes must be >= 1, got {nproc}")
    if batch_size % nproc:
        raise ValueError(f"--batch-size {batch_size} does not split evenly over {nproc} processes; "
                         f"use a multiple of {nproc}")


def launch(dataset, nproc: int, out, device="cpu", threads: int = 1, meta=None, **train_kwargs) -> None:
    """Train on `nproc` spawned processes; rank 0 writes the teacher to `out` (returns when it is saved).
    train_kwargs: train_teacher's (arch, epochs, batch_size, lr, schedule, seed, ...)."""
    check(nproc, train_kwargs.get("batch_size", 256))
    with tempfile.TemporaryDirectory() as tmp:
        # A file rendezvous: no port to pick or collide with; removed with the folder.
        init = "file://" + os.path.join(tmp, "rendezvous")
        torch.multiprocessing.start_processes(_spawned, args=(nproc, init, dataset, out, device, threads, meta,
                                                              train_kwargs),
                                              nprocs=nproc, join=True, start_method="spawn")


def _spawned(rank, nproc, init, dataset, out, device, threads, meta, train_kwargs):
    run_rank(rank, nproc, init, dataset, out, device, threads, meta, **train_kwargs)


def run_rank(rank: int, world: int, init_method: str, dataset, out, device="cpu", threads: int = 1, meta=None,
             local_rank=None, **train_kwargs) -> None:
    """One rank: join the process group, train, rank 0 saves; leaves the group."""
    import torch.distributed as dist
    torch.set_num_threads(threads)
    device = resolve_device(device)
    if device.type == "cuda":
        device = torch.device("cuda", rank if local_rank is None else local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method=init_method,
                            rank=rank, world_size=world)
    try:
        t0 = time.perf_counter()
        model, history = train_teacher_ddp(dataset, rank, world, device=device, **train_kwargs)
        if rank == 0:
            full = dict(meta or {})
            full.update(processes=world, history=history, test_acc=history[-1].get("test_acc"),
                        minutes=(time.perf_counter() - t0) / 60)
            save_teacher(model, out, full)
        dist.barrier()  # no rank leaves (and, under --nproc, no launcher returns) before the file exists
    finally:
        dist.destroy_process_group()


def train_teacher_ddp(dataset, rank, world, arch="vgg19", epochs=60, batch_size=256, lr=None,
                      schedule="onecycle", device="cpu", seed=0, amp=None, weight_decay=5e-4, momentum=0.9,
                      label_smoothing=0.1, labels=None):
    """teacher.train_teacher's recipe as rank `rank` of `world` (the process group must exist).
    Returns (model, history) on every rank; test accuracy (on rank 0 only) after the last epoch."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DistributedSampler
    import torch.distributed as dist
    if schedule not in ("onecycle", "cosine"):
        raise ValueError(f"schedule must be 'onecycle' or 'cosine', got {schedule!r}")
    check(world, batch_size)
    device = resolve_device(device)
    amp = (device.type == "cuda") if amp is None else bool(amp)
    lr = 0.1 * batch_size / 256 if lr is None else lr
    torch.manual_seed(seed)
    from .models import Teacher
    data = dataset.to(device)
    model = Teacher(dataset.num_classes, arch, mean=dataset.mean, std=dataset.std).to(device)
    model.classes = [str(c) for c in dataset.classes]  # saved with the weights (save_teacher)
    model.recipe = _recipe(dataset, model, arch, epochs, batch_size, lr, schedule, momentum, weight_decay,
                           label_smoothing, amp, seed, labels)
    model.recipe["processes"] = f"{world} (DistributedDataParallel; {batch_size // world} images per process and step)"
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    n = int(dataset.train_x.shape[0])
    local_batch = batch_size // world
    sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
    steps_per_epoch = math.ceil(len(sampler) / local_batch)  # = ceil(n / batch_size) up to padding
    total = epochs * steps_per_epoch
    opt, sched = _optimizer(model, lr, momentum, weight_decay, schedule, total)
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    gen = torch.Generator(device=device).manual_seed(seed + rank)
    history = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        ddp.train()
        sampler.set_epoch(epoch)
        perm = torch.tensor(list(sampler), dtype=torch.int64, device=device)
        sums = torch.zeros(3, device=device, dtype=torch.float64)  # loss sum, correct, images
        for step in range(steps_per_epoch):
            idx = perm[step * local_batch:(step + 1) * local_batch]
            # DDP all-reduces (averages) the gradients in the step's backward
            loss, logits, yb = _train_step(ddp, data, idx, gen, device, amp, criterion, opt)
            sched.step()
            sums += torch.stack([loss.detach().double() * idx.shape[0], (logits.argmax(1) == yb).sum().double(),
                                 torch.tensor(float(idx.shape[0]), device=device, dtype=torch.float64)])
        dist.all_reduce(sums)  # the epoch's figures over all ranks (padding images counted once each)
        record = {"epoch": epoch, "loss": float(sums[0] / sums[2]), "train_acc": float(sums[1] / sums[2]),
                  "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
        if rank == 0 and epoch == epochs and data.test_x.shape[0]:
            record["test_acc"] = evaluate(model, data.test_x, data.test_y)
        history.append(record)
    model.eval()
    return model.to(memory_format=torch.contiguous_format), history
