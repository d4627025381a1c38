"""Old recipe vs new recipe: the same methods and seeds under two presets, paired by trial.

    python benchmarks/recipe_compare.py docs/results-data/cpu-research docs/results-data/cpu-research-v2 \
        --methods kd_random,random

Prints a markdown table: per method, the mean accuracy per budget under each recipe, and the paired
AUBC difference new - old over the trials (trial, seed) both have, with the paired t-test and
Wilcoxon p of training/analysis.py. A trial counts only when it has every budget under both.
"""
from __future__ import annotations

import argparse
import sys


def load(run: str) -> list:
    from fdal.training.results import read_results, results_path
    return read_results(results_path(run))


def fmt_p(p) -> str:
    return "—" if p is None else f"{p:.3f}"


def compare(old: list, new: list, methods: list) -> str:
    from fdal.training.analysis import paired_test, trial_aubc
    old_preset, new_preset = old[0]["preset"], new[0]["preset"]
    lines = [f"| method | trials (paired) | budget: {old_preset} → {new_preset} (mean accuracy %) | "
             f"AUBC {old_preset} | AUBC {new_preset} | Δ AUBC (new − old) ± std | t-test p | Wilcoxon p |",
             "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        budgets = sorted({r["n_labeled"] for r in old + new if r["method"] == m})
        o = trial_aubc([r for r in old if r["method"] == m], budgets).get(m, {})
        n = trial_aubc([r for r in new if r["method"] == m], budgets).get(m, {})
        test = paired_test(n, o, m, m)
        if test is None:
            lines.append(f"| {m} | 0 | no trial under both recipes | | | | | |")
            continue
        common = sorted(set(o) & set(n))
        per_budget = []
        for b in budgets:
            def mean_at(recs):
                v = [r["accuracy"] for r in recs if r["method"] == m and r["n_labeled"] == b
                     and (r["trial"], r["seed"]) in common]
                return 100 * sum(v) / len(v) if v else float("nan")
            per_budget.append(f"{b}: {mean_at(old):.1f} → {mean_at(new):.1f}")
        mean_o = 100 * sum(o[t] for t in common) / len(common)
        mean_n = 100 * sum(n[t] for t in common) / len(common)
        std = "" if test.std is None else f" ± {100 * test.std:.2f}"
        lines.append(f"| {m} | {test.pairs} | {'; '.join(per_budget)} | {mean_o:.2f} | {mean_n:.2f} | "
                     f"{100 * test.mean:+.2f}{std} | {fmt_p(test.t_p)} | {fmt_p(test.wilcoxon_p)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="run folder or results.jsonl of the old recipe")
    ap.add_argument("new", help="run folder or results.jsonl of the new recipe")
    ap.add_argument("--methods", default="kd_random,random")
    args = ap.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
        if not old or not new:
            raise ValueError("a results file is empty")
        print(compare(old, new, [m.strip() for m in args.methods.split(",") if m.strip()]), end="")
    except (OSError, ValueError) as exc:
        print(f"recipe_compare: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
