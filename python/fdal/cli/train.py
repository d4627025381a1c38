"""Training-side subcommands (need PyTorch): `fdal prepare-data`, `fdal train-teacher`, `fdal al`."""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

from .common import (add_data_dir, add_device, add_out, add_parser, add_seed, add_threads, job_count, positive_int,
                     require_dir, require_file, torch_setup)

DATASET_CHOICES = ("cifar10", "cifar100", "svhn", "folder", "synthetic")


def register(sub):
    p = add_parser(sub, "prepare-data", "decode the CIFAR-10 JPEG copy, or check a dataset folder",
                   "Write DATA_DIR/cifar-10-batches-py/ from the project's CIFAR-10 JPEG copy (--source), or\n"
                   "with --check DATASET load DATA_DIR as that dataset and print what was found.",
                   "fdal prepare-data --data-dir data\n"
                   "  fdal prepare-data --data-dir data --check cifar10")
    add_data_dir(p, "where to write (or check) the dataset", required=True)
    p.add_argument("--source", default=None, help="folder of the JPEG copy (train.npz, test.npz, to_cifar_batches.py)")
    p.add_argument("--check", default=None, choices=DATASET_CHOICES[:-1], help="only load and describe this dataset")
    p.add_argument("--overwrite", action="store_true", help="decode again even if the files exist")
    p.set_defaults(func=run_prepare_data)

    t = add_parser(sub, "train-teacher", "train the teacher network used for distillation",
                   "Train a VGG19-style (or small) teacher and save it for `fdal al --teacher`.\n"
                   "--nproc N: N processes with DistributedDataParallel (gloo on CPU, nccl on CUDA), the global\n"
                   "batch --batch-size split over them; the same as\n"
                   "  torchrun --nproc-per-node N -m fdal.cli train-teacher ... (without --nproc).",
                   "fdal train-teacher --dataset cifar10 --data-dir data --arch vgg19 --epochs 60 --out teacher.pt\n"
                   "  fdal train-teacher --dataset cifar10 --data-dir data --nproc 4 --out teacher.pt")
    t.add_argument("--dataset", default="cifar10", choices=DATASET_CHOICES)
    add_data_dir(t)
    t.add_argument("--arch", default="vgg19", choices=["vgg19", "small"])
    t.add_argument("--epochs", type=positive_int, default=60)
    t.add_argument("--batch-size", type=positive_int, default=256)
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default 0.1 * batch size / 256)")
    t.add_argument("--schedule", default="onecycle", choices=["onecycle", "cosine"],
                   help="learning-rate schedule (default onecycle: 15%% warm-up, then cosine)")
    t.add_argument("--download", action="store_true",
                   help="fetch the official archive into --data-dir when its files are missing")
    t.add_argument("--nproc", type=positive_int, default=1,
                   help="train on this many processes with DistributedDataParallel (default 1); on CUDA one per GPU")
    add_out(t, "checkpoint path (default teacher.pt)", default="teacher.pt")
    add_seed(t)
    add_device(t)
    add_threads(t)
    t.set_defaults(func=run_train_teacher)

    a = add_parser(sub, "al", "run an active-learning protocol (preset) for several methods",
                   "Run cycles of (train student, test, select) per method and trial. Resumes an\n"
                   "interrupted run in --out; writes results.jsonl, results.md, curves.png and\n"
                   "models/<method>-trial<t>.pt (the checkpoint `fdal export` reads).\n"
                   "Presets: paper-table2, paper-fig2, paper-fig2-cifar100, cpu-small (CPU-sized: 500 -> 2,000\n"
                   "labels), cpu-research, cpu-research-imbalanced, cpu-research-redundant (the no-leak research\n"
                   "protocol and its pool shapes, docs/results.md), cpu-research-v2, cpu-research-v2-imbalanced,\n"
                   "cpu-research-v2-redundant (the same with a cheaper recipe and fdal's sampler trained as the\n"
                   "reference does), smoke.\n"
                   "kd_random, kd_entropy: distillation only (no sampler, no adversarial term);\n"
                   "fdal_random: FDAL's training (distillation + adversarial sampler), random choice.",
                   "fdal al --preset cpu-small --methods random,kd_random,fdal --data-dir data --out runs/cpu-small\n"
                   "  fdal al --preset paper-fig2 --dataset folder --data-dir my_images --trials 3 --out runs/mine")
    a.add_argument("--preset", required=True, help="protocol preset (see above)")
    # The names of training.strategies.METHODS (not imported here: torch); tests/training/test_strategies.py checks.
    a.add_argument("--methods", default="random,kd_random,fdal",
                   help="comma-separated: random, entropy, margin, coreset, ll4al, vaal, fdal, kd_random, kd_entropy, "
                        "fdal_random, badge, typiclust, probcover")
    a.add_argument("--dataset", default=None, choices=DATASET_CHOICES[:-1],
                   help="run the preset's protocol on another dataset (e.g. svhn, folder)")
    a.add_argument("--trials", type=positive_int, default=1)
    a.add_argument("--jobs", type=job_count, default=1,
                   help="run the (method, trial) pairs in this many worker processes, each with --threads torch "
                        "threads (default 1); with --device cuda and several GPUs, worker i uses cuda:(i mod GPUs)")
    add_data_dir(a, "dataset folder (not needed for the smoke preset)")
    add_out(a, "output folder (resumed if it holds a run of the same protocol)", required=True)
    a.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True, help="continue a run in --out (default on; --no-resume starts over)")
    a.add_argument("--teacher", default=None, help="use this saved teacher instead of training one")
    a.add_argument("--epochs", type=positive_int, default=None,
                   help="override the preset's epochs per cycle (its schedule is scaled)")
    a.add_argument("--bf16", action="store_true", help="bf16 autocast for training (GPU)")
    a.add_argument("--deterministic", action="store_true",
                   help="CUDA: deterministic kernels, TF32 and cuDNN autotuning off (slower; CPU runs already are)")
    a.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bars on stderr (default on; --no-progress for logs)")
    add_seed(a, default=None)
    add_device(a)
    add_threads(a)
    a.set_defaults(func=run_al)


def _check_data_dir(path):
    if path is not None:
        require_dir(path, "--data-dir")


def run_prepare_data(args) -> int:
    torch_setup(args)
    from fdal.training import data as fdata
    if args.check:
        _check_data_dir(args.data_dir)
        ds = fdata.load_dataset(args.check, args.data_dir)
        print(f"{args.data_dir}: {ds!r}\nclasses: {', '.join(ds.classes)}")
        return 0
    folder = fdata.prepare_cifar10_jpeg(args.data_dir, args.source, overwrite=args.overwrite)
    print(f"CIFAR-10 (JPEG copy) ready in {folder}; use --data-dir {args.data_dir}")
    return 0


def run_train_teacher(args) -> int:
    torch, device = torch_setup(args)
    from fdal.training import data as fdata
    from fdal.training import teacher as fteacher
    from fdal.training import teacher_ddp as fteacher_ddp
    fteacher_ddp.check(args.nproc, args.batch_size)  # before loading any data
    if args.nproc > 1 and device.startswith("cuda") and args.nproc > torch.cuda.device_count():
        # nccl runs one rank per GPU; two ranks on one GPU fail deep inside nccl
        raise ValueError(f"--nproc {args.nproc}: CUDA ranks need one GPU each and this machine has "
                         f"{torch.cuda.device_count()}")
    if args.dataset != "synthetic":
        if args.data_dir is None:
            raise ValueError(f"--data-dir is required for dataset {args.dataset}")
        if not args.download:
            _check_data_dir(args.data_dir)
    ds = fdata.load_dataset(args.dataset, args.data_dir, download=args.download)
    recipe = dict(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                  seed=args.seed)
    meta = {"dataset": args.dataset, "epochs": args.epochs, "seed": args.seed}
    if fteacher_ddp.under_torchrun() or args.nproc > 1:
        import os
        threads = args.threads or 1  # per process: N processes share the machine's cores
        if fteacher_ddp.under_torchrun():
            if args.nproc > 1:
                raise ValueError("--nproc: under torchrun each process is one rank already; "
                                 "drop --nproc (torchrun's --nproc-per-node sets the count)")
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            fteacher_ddp.check(world, args.batch_size)
            fteacher_ddp.run_rank(rank, world, "env://", ds, args.out, device, threads, meta,
                                  local_rank=int(os.environ["LOCAL_RANK"]), **recipe)
            if rank != 0:
                return 0
        else:
            fteacher_ddp.launch(ds, args.nproc, args.out, device, threads, meta, **recipe)
        model = fteacher.load_teacher(args.out)
        _print_teacher(args, ds, model, model.meta["test_acc"], model.meta["minutes"])
        return 0
    t0 = time.perf_counter()
    model, history = fteacher.train_teacher(ds, device=device, **recipe)
    minutes = (time.perf_counter() - t0) / 60
    acc = history[-1].get("test_acc")
    fteacher.save_teacher(model, args.out, {**meta, "test_acc": acc, "minutes": minutes, "history": history})
    _print_teacher(args, ds, model, acc, minutes)
    return 0


def _print_teacher(args, ds, model, acc, minutes) -> None:
    from fdal.training import teacher as fteacher
    acc_text = f"test accuracy {100 * acc:.2f}%" if acc is not None else "no test split"
    print(f"{args.arch} teacher on {ds.name}: {acc_text} after {args.epochs} epochs ({minutes:.1f} min); "
          f"saved {args.out}\nrecipe: {fteacher.describe(model)}")


def _check_teacher_file(path: str) -> None:
    """A teacher is a torch checkpoint (a zip, or a legacy pickle); anything else fails before the run
    with a message naming the flag, not deep inside torch.load."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89FDAL"):
        raise ValueError(f"--teacher {path}: this is an int8 .fdal student (for fdal rank), not a teacher; "
                         f"pass a checkpoint from fdal train-teacher --out teacher.pt")
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        raise ValueError(f"--teacher {path}: not a PyTorch teacher checkpoint; "
                         f"pass one from fdal train-teacher --out teacher.pt")


def run_al(args) -> int:
    torch, device = torch_setup(args)
    from fdal.training.plots import plot_learning_curves
    from fdal.training.protocols import get_protocol
    from fdal.training.report import group_report
    from fdal.training.runner import run_protocol
    from fdal.training.strategies import training_mode
    p = get_protocol(args.preset)
    for method in args.methods.split(","):
        training_mode(method.strip())  # unknown method: ValueError before any work
    _check_data_dir(args.data_dir)
    if args.teacher is not None:
        require_file(args.teacher, "--teacher")
        _check_teacher_file(args.teacher)
    if args.dataset is not None and args.dataset != p.dataset:
        p = p.replace(dataset=args.dataset, name=f"{p.name}-{args.dataset}")
    if args.epochs is not None:
        p = p.replace(train=p.train.scaled(args.epochs), name=f"{p.name}-e{args.epochs}")
    if args.bf16:
        p = p.replace(train=dataclasses.replace(p.train, bf16=True), name=f"{p.name}-bf16")
    if args.deterministic:
        p = p.replace(train=dataclasses.replace(p.train, deterministic=True))
    if args.seed is not None:
        p = p.replace(seed=args.seed)
    # Ctrl-C during the run: main() prints this one line (the run resumes from its results.jsonl).
    argv = getattr(args, "argv", None) or sys.argv[1:]  # set by main(); a parser used alone lacks it
    args.interrupted_message = (f"fdal: interrupted; resume with: fdal {shlex.join(argv)} "
                                f"(same --out)")
    t0 = time.time()
    results = run_protocol(p, args.methods, args.data_dir, args.out, args.trials, device, resume=args.resume,
                           teacher_path=args.teacher, progress=args.progress, jobs=args.jobs,
                           threads=args.threads or 1)
    out = Path(args.out)
    table = group_report(results, f"{p.name} ({p.dataset})", budgets=p.budgets(), image="curves.png", level=1)
    (out / "results.md").write_text(table)
    plot_learning_curves(results, out / "curves.png", title=f"{p.name}: {p.dataset}")
    print(table)
    # The export hint names a checkpoint this run wrote: fdal's first trial when it ran, else any.
    saved = sorted((out / "models").glob("*.pt"))
    first = next((m for m in saved if m.name == "fdal-trial0.pt"), saved[0] if saved else None)
    hint = f"; export with: fdal export {first} --out student.fdal" if first else ""
    print(f"wall-clock {time.time() - t0:.0f} s; results {out / 'results.jsonl'}, table {out / 'results.md'}, "
          f"plot {out / 'curves.png'}{hint}", file=sys.stderr)
    return 0
