"""`fdal plot`: results.jsonl -> learning-curve PNG + markdown table (matplotlib, no PyTorch)."""
from __future__ import annotations

import os
from pathlib import Path

from .common import add_out, add_parser, require_file


def register(sub):
    p = add_parser(sub, "plot", "plot learning curves and tabulate results of `fdal al` runs",
                   "Read one or more results.jsonl files; write curves.png (mean ± std over trials per method)\n"
                   "and results.md (accuracy table) into --out.",
                   "fdal plot runs/cpu-small/results.jsonl --out runs/cpu-small --title 'CIFAR-10, cpu-small'")
    p.add_argument("results", nargs="+", help="results.jsonl files (from fdal al or fdal quickstart)")
    add_out(p, "folder for curves.png and results.md (default: next to the first results file)")
    p.add_argument("--title", default="", help="plot title")
    p.add_argument("--methods", default=None, help="only these methods (comma-separated)")
    p.set_defaults(func=run_plot)


def run_plot(args) -> int:
    from fdal.training.results import markdown_table, read_results
    results = []
    for path in args.results:
        require_file(path, "results")
        results += read_results(path)
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
    table = markdown_table(results)
    (out / "results.md").write_text(table)
    plot_learning_curves(results, out / "curves.png", title=args.title)
    print(table)
    print(f"wrote {out / 'curves.png'} and {out / 'results.md'}")
    return 0
