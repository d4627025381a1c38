"""`fdal quickstart`: the whole story in a few minutes with nothing to download.

On a generated 10-class dataset (fdal.training.data.make_synthetic: shapes, colours and stripe
textures, deterministic for a seed) it trains a small teacher, runs active-learning cycles of
random, distillation + random, the default rule of `fdal rank`, the best rule measured so far
and FDAL, exports the last FDAL student+sampler to int8, checks the int8 file against the float
model, and ranks the unlabeled pool with the native runtime.
--data-dir DIR does the same on CIFAR-10 (official layout, see `fdal prepare-data`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from .common import add_data_dir, add_device, add_out, add_parser, add_seed, thread_count, torch_setup

# The student's schedule on generated data: lr 0.01 (the paper's) for the first 80% of a cycle's
# epochs, then 0.001 (quick_protocol says why).
QUICK_LR, QUICK_MILESTONE = 0.01, 0.8
# The rule with the largest paired AUBC gain over kd_random measured so far (docs/results.md).
POOL_INDEX_FILE = "unlabeled_pool_dataset_index.npy"
BEST_MEASURED_METHOD = "kd+classbalanced@labeled"
MAX_DROP = 0.02  # a curve falling more than this between consecutive budgets is flagged in the report


def default_rule() -> str:
    """The strategy `fdal rank` and fdal.rank_pool use when none is given."""
    import inspect
    import fdal
    return inspect.signature(fdal.rank_pool).parameters["strategy"].default


def rule_method(strategy: str) -> str:
    """The runner method that trains as a device's student would be trained for `strategy` and
    picks with it on the int8 runtime: fdal's sampler exists only after FDAL training; the other
    rules run after distillation (kd), classbalanced given the labeled set's class counts."""
    if strategy == "fdal":
        return "fdal"
    return f"kd+{strategy}@labeled" if strategy == "classbalanced" else f"kd+{strategy}"


def default_methods() -> list:
    """random, distillation + random, the default rule, the best measured rule and fdal (exported)."""
    return list(dict.fromkeys(["random", "kd_random", rule_method(default_rule()), BEST_MEASURED_METHOD, "fdal"]))


def largest_drop(accuracies) -> float:
    """The largest fall of a learning curve between consecutive budgets (0 when it never falls)."""
    return max([0.0] + [a - b for a, b in zip(accuracies, accuracies[1:])])


def register(sub):
    p = add_parser(sub, "quickstart", "train, select, export and rank end to end (nothing to download)",
                   textwrap.fill(__doc__.split("\n\n")[1].replace("\n", " "), 100) +
                   "\n\nThe quick protocols are scaled down from the paper's (fewer images, epochs and a small\n"
                   "teacher; batch 32: with a few hundred images, batch 128 takes too few steps to learn).\n"
                   "Generated data: 15 epochs at lr 0.01, the last 3 at 0.001. CIFAR-10: lr 0.02 and the\n"
                   "paper's milestones scaled down. They show the workflow, not the paper's numbers (for\n"
                   "those: fdal al --preset paper-fig2).",
                   "fdal quickstart                          # 104 s on a 2-core AMD EPYC (README)\n"
                   "  fdal quickstart --fast                   # a smaller run, for CI\n"
                   "  fdal quickstart --data-dir data --out runs/quickstart-cifar10")
    add_data_dir(p, "use CIFAR-10 from this folder (cifar-10-batches-py/) instead of generated data")
    add_out(p, "folder for results, plots and the .fdal file (default fdal-quickstart)", default="fdal-quickstart")
    p.add_argument("--fast", "--reduced", action="store_true", help="a much smaller run (CI): under a minute")
    p.add_argument("--methods", default=",".join(default_methods()),
                   help="comma-separated runner methods, fdal among them (default %(default)s)")
    p.add_argument("--resume", action="store_true", help="reuse finished cycles in --out instead of starting over")
    add_seed(p)
    add_device(p)
    p.add_argument("--threads", type=thread_count, default=1,
                   help="torch CPU threads (default 1: batches of 32 gain little from more, and a busy machine "
                        "loses a lot)")
    p.set_defaults(func=run_quickstart)


def quick_protocol(data_dir=None, fast=False, seed=0, epochs=None):
    """The scaled-down protocol the quickstart runs (generated data, or CIFAR-10 with a data dir);
    `epochs` replaces the generated-data protocol's 15 (benchmarks/quickstart_seeds.py --epochs).

    On generated data the student trains at lr QUICK_LR for the first QUICK_MILESTONE of a cycle's
    epochs, then at a tenth of it. The earlier recipe (lr 0.02 and the paper's milestones scaled to
    15 epochs: drops at epochs 6 and 11) made curves fall by 5 to 24 points from one budget to the
    next, for two reasons seen in the per-epoch losses: the first drop came while the student (no
    BatchNorm) was still leaving chance level, so each cycle ended wherever it had got by then
    (training accuracy ~54%: underfit, and a lottery between cycles); and at 0.02 the distilling
    modes, whose loss adds two MSE terms to the CE, are unstable (an FDAL cycle's training accuracy
    fell from 29% to 16% at the full rate).
    """
    from fdal.training.student_training import FdalConfig
    from fdal.training.protocols import Protocol

    def train(epochs):
        scaled = FdalConfig(batch_size=32, lr=QUICK_LR).scaled(epochs)  # adv_start_epoch: 10% of the epochs
        return dataclasses.replace(scaled, milestones=(round(QUICK_MILESTONE * epochs),))

    if data_dir is None and fast:
        return Protocol("quickstart-fast", "synthetic", 40, 40, 120, subset=300, seed=seed,
                        train=train(4), teacher_arch="small", teacher_epochs=1, synthetic=(4, 400, 200))
    if data_dir is None:
        # 2,000 test images: one test accuracy's binomial standard error is ~1 point (~2 with 500)
        return Protocol("quickstart", "synthetic", 200, 100, 400, subset=1000, seed=seed,
                        train=train(epochs or 15), teacher_arch="small", teacher_epochs=4, synthetic=(10, 2000, 2000))
    if fast:
        return Protocol("quickstart-cifar10-fast", "cifar10", 200, 200, 600, subset=1000, seed=seed,
                        train=FdalConfig(batch_size=32, lr=0.02).scaled(5), teacher_arch="small", teacher_epochs=1,
                        teacher_subset=2000)
    return Protocol("quickstart-cifar10", "cifar10", 500, 500, 1500, subset=2000, seed=seed,
                    train=FdalConfig(batch_size=32, lr=0.02).scaled(10), teacher_arch="small", teacher_epochs=3,
                    teacher_subset=5000)


def run_quickstart(args) -> int:
    torch, device = torch_setup(args)
    import numpy as np
    import fdal
    from fdal.training.checkpoint import load_checkpoint
    from fdal.training.data import calibration_images, evaluation_images, images_nhwc
    from fdal.training.int8_export import export
    from fdal.training.parity import compare, format_report
    from fdal.training.plots import plot_learning_curves
    from fdal.training.report import markdown_table
    from fdal.training.runner import load_protocol_dataset, run_protocol
    from .rank import measure

    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise FileNotFoundError(2, "No such directory (--data-dir)", args.data_dir)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "fdal" not in methods:
        raise ValueError("--methods must include fdal (its student+sampler is what gets exported)")
    p = quick_protocol(args.data_dir, args.fast, args.seed)
    out = Path(args.out)
    run_dir = out / "run"
    t_start = time.perf_counter()
    what = "generated shapes" if p.dataset == "synthetic" else f"{p.dataset} from {args.data_dir}"
    _say(f"fdal quickstart: {what}; {', '.join(methods)}; {p.cycles} cycles "
         f"({p.initial} -> {p.final} labels), {p.train.epochs} epochs each; output in {out}/")

    # 1. Active learning: teacher, then cycles of (train, test, select) per method.
    results = run_protocol(p, methods, args.data_dir, run_dir, trials=1, device=device, resume=args.resume,
                           progress=True)
    t_al = time.perf_counter() - t_start
    table = markdown_table(results, digits=1)
    plot_learning_curves(results, out / "curves.png", title=f"fdal quickstart: {what}")
    teacher = json.loads((run_dir / "teacher.json").read_text()) if (run_dir / "teacher.json").exists() else {}

    # 2. Export the last FDAL student+sampler to int8 and compare it with the float model.
    t0 = time.perf_counter()
    ds = load_protocol_dataset(p, args.data_dir, "cpu")
    student, sampler, ckpt = load_checkpoint(str(run_dir / "models" / "fdal-trial0.pt"))
    model_path = out / "student.fdal"
    export(student, sampler, calibration_images(ds, 500, args.seed), model_path)
    test_x, test_y = evaluation_images(ds)
    parity = compare(student, sampler, model_path, test_x, test_y)
    t_export = time.perf_counter() - t0

    # 3. Rank the still-unlabeled pool on the native int8 runtime, as a device would.
    state = json.loads((run_dir / "checkpoints" / "fdal-trial0.json").read_text())
    unlabeled = np.setdiff1d(np.arange(len(ds.train_y)), np.asarray(state["labeled"]))
    pool = images_nhwc(ds.train_x[torch.as_tensor(unlabeled)])
    model = fdal.load(model_path)
    k = min(p.step, len(pool))
    picks = fdal.rank_pool(model, pool, k, strategy="fdal")
    np.save(out / "unlabeled_pool.npy", pool)  # the pool itself: the README's Python example ranks it
    np.save(out / "next_to_label.npy", picks)  # rows of that pool: pool[picks] are the images to label
    np.save(out / POOL_INDEX_FILE, unlabeled)  # pool row -> index in the generated (or CIFAR-10) training set
    speed = measure(model, pool, k, "fdal", 256, repeat=3)
    total = time.perf_counter() - t_start

    report = _report(p, what, teacher, table, _trial_notes(results, methods, args.fast), parity, format_report(parity),
                     speed, k, model, out, ckpt, t_al, t_export, total)
    (out / "report.md").write_text(report + "\n")
    print(report)
    return 0


def _method_line(method: str) -> str:
    """What a method is, in the words of the report (its role: baseline, default rule, best measured)."""
    what = {"random": "cross-entropy only, random picks",
            "kd_random": "distillation from the teacher, random picks",
            "fdal": "FDAL training, picks ranked by its sampler (strategy fdal)"}.get(method, "")
    if not what and "+" in method:
        mode, _, rule = method.partition("+")
        strategy, _, embedding = rule.partition("@")
        what = (f"{'distillation' if mode == 'kd' else mode} training, picks by the int8 runtime's `{strategy}` rule"
                + (" given the labeled set's class counts" if embedding == "labeled" else ""))
    roles = []
    if method == rule_method(default_rule()):
        roles.append(f"the default rule of `fdal rank` (`--strategy {default_rule()}`)")
    if method == BEST_MEASURED_METHOD:
        roles.append("the best rule measured so far in docs/results.md")
    return f"- `{method}`: {what or 'see `fdal al --help`'}" + (f"; {' and '.join(roles)}" if roles else "") + "."


def _trial_notes(results, methods, fast=False) -> list:
    """The methods, any curve that falls (not checked for --fast: it trains too little to learn),
    and what one trial can and cannot show."""
    lines = ["Methods:", ""] + [_method_line(m) for m in methods] + [""]
    if fast:
        lines += ["`--fast` trains a few steps per cycle, too few to learn: its accuracies sit near chance. It "
                  "checks the workflow; run `fdal quickstart` without it to see the students learn.", ""]
    for m in ([] if fast else methods):
        curve = [r["accuracy"] for r in sorted((r for r in results if r["method"] == m), key=lambda r: r["n_labeled"])]
        drop = largest_drop(curve)
        if drop > MAX_DROP:
            lines += [f"**Warning**: `{m}` loses {100 * drop:.1f} points of accuracy between two consecutive budgets; "
                      "a training recipe that works gains accuracy with labels. Re-run with another `--seed`; if it "
                      "persists, report it (benchmarks/quickstart_seeds.py checks several seeds).", ""]
    lines += ["What one trial shows: the loop runs end to end, the students learn from the labels they are given, "
              "the int8 file agrees with the float model, and how fast this CPU ranks a pool. What it cannot show: "
              "which method is better. It is one seed on small generated data; retraining with another seed moves "
              "each accuracy by a few points, so differences of a few points between methods here are noise. "
              "Paired results over several trials on CIFAR-10, with their p-values, are in docs/results.md."]
    return lines


def _report(p, what, teacher, table, notes, parity, parity_table, speed, k, model, out, ckpt, t_al, t_export,
            total):
    lines = [f"# fdal quickstart ({p.name}: {what})", ""]
    if teacher:
        lines.append(f"Teacher ({teacher['arch']}, {teacher['epochs']} epochs on {teacher['train_images']:,} images): "
                     f"test accuracy {100 * teacher['test_accuracy']:.1f}%.")
    lines += ["", "## Student test accuracy per cycle (one trial: a demo, not a benchmark)", "", table.strip(), "",
              *notes, "", f"Learning curves: {out / 'curves.png'}", "",
              f"## int8 export: {out / 'student.fdal'} ({model.info['file_bytes']:,} bytes, FDAL student at "
              f"{ckpt.get('n_labeled')} labels)", "",
              f"Float vs int8 on the {parity['n']:,} test images:", "", parity_table, "",
              "## Ranking the unlabeled pool on the native int8 runtime", "",
              f"{speed['images']:,} unlabeled images, top {k} by the sampler (strategy fdal): "
              f"{speed['rank_images_per_s']:,.0f} images/s (best of 3, kernels {model.info.get('kernels', '?')}); "
              f"the pool: {out / 'unlabeled_pool.npy'}; the picks, as rows of that pool (`pool[picks]` are the "
              f"images to label): {out / 'next_to_label.npy'}; each pool row's index in the dataset's "
              f"training split: {out / POOL_INDEX_FILE}.", "",
              f"Time: active learning {t_al:.0f} s, export + compare {t_export:.0f} s, total {total:.0f} s.", "",
              "Next: `fdal info " + str(out / "student.fdal") + "`, `fdal rank " + str(out / "student.fdal") +
              " POOL.npy -k 100`, or the real thing: `fdal prepare-data --data-dir data && "
              "fdal al --preset cpu-small --data-dir data --out runs/cpu-small`."]
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
