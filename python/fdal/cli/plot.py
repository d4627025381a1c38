"""`fdal plot`: results.jsonl files -> per (dataset, preset): learning-curve PNG + markdown report."""
from __future__ import annotations

import os
from pathlib import Path

from .common import add_out, add_parser, require_file


def register(sub):
    p = add_parser(sub, "plot", "plot learning curves and tabulate results of `fdal al` runs",
                   "Read one or more results.jsonl files (the same trial in two files counts once) and\n"
                   "write, for each (dataset, preset) found, curves.png (mean ± std over trials per method)\n"
                   "and results.md (accuracy per budget with AUBC, and paired AUBC differences vs random\n"
                   "and kd_random with t-test and Wilcoxon p) into --out. With several groups each file\n"
                   "name gets the group as a suffix: results-cifar10-paper-fig2.md, curves-....png.\n"
                   "AUBC averages the budgets of the protocol.json next to a results file (else those seen).",
                   "fdal plot runs/cpu-small/results.jsonl --out runs/cpu-small --title 'CIFAR-10, cpu-small'")
    p.add_argument("results", nargs="+", help="results.jsonl files (from fdal al or fdal quickstart)")
    add_out(p, "folder for the curves and reports (default: next to the first results file)")
    p.add_argument("--title", default="", help="plot title (the group is appended when there are several)")
    p.add_argument("--methods", default=None, help="only these methods (comma-separated)")
    p.set_defaults(func=run_plot)


def run_plot(args) -> int:
    from fdal.training.report import group_report, run_budgets
    from fdal.training.results import group_name, merge_results, split_groups
    for path in args.results:
        require_file(path, "results")
    results = merge_results(args.results)
    if args.methods:
        keep = {m.strip() for m in args.methods.split(",")}
        unknown = keep - {r["method"] for r in results}
        if unknown:
            raise ValueError(f"no results for method(s) {', '.join(sorted(unknown))}")
        results = [r for r in results if r["method"] in keep]
    if not results:
        raise ValueError(f"no results in {', '.join(args.results)}")
    out = Path(args.out or os.path.dirname(os.path.abspath(args.results[0])))
    out.mkdir(parents=True, exist_ok=True)
    try:
        from fdal.training.plots import plot_learning_curves
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError('fdal plot needs matplotlib: pip install matplotlib (or "fdal[train]")') from None
    budgets = run_budgets(args.results)
    groups = split_groups(results)
    written = []
    for key, records in groups.items():
        suffix = f"-{group_name(key)}" if len(groups) > 1 else ""
        dataset, preset = key
        png, md = out / f"curves{suffix}.png", out / f"results{suffix}.md"
        title = args.title or f"{preset}: {dataset}"
        if args.title and len(groups) > 1:
            title = f"{args.title} ({dataset}, {preset})"
        plot_learning_curves(records, png, title=title)
        report = group_report(records, budgets=budgets.get(preset), image=png.name)
        md.write_text(report)
        if len(groups) > 1:
            print(f"## {dataset}, preset {preset} ({md.name})\n")
        print(report)
        written += [png, md]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
