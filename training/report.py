"""Markdown for one (dataset, preset) group of results: the accuracy table (mean ± std per budget
and AUBC) and the paired AUBC differences against the baselines. `fdal plot` and
benchmarks/results_report.py both write it, so a results page and a plot folder say the same.
"""
from __future__ import annotations

import json
from pathlib import Path

from fdal.training.analysis import ABLATION_BASELINES, BASELINES, WILCOXON_MIN_PAIRS, mean_std, paired_tests, summarize, trial_aubc
from fdal.training.results import distinct_records, one_group


def _cell(mean: float, std: float, n: int, digits: int) -> str:
    if n == 1:
        return f"{100 * mean:.{digits}f} (1 trial)"  # no ±: one trial has no spread to show
    return f"{100 * mean:.{digits}f} ± {100 * std:.{digits}f} ({n})"


def _budget_list(budgets) -> str:
    names = [f"{n:,}" for n in budgets]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def markdown_table(records, digits: int = 2, budgets=None) -> str:
    """Rows: methods; columns: labeled-set sizes, then AUBC; cells: accuracy in % as mean ± sample
    std (distinct trials). `budgets`: the protocol's budgets for AUBC (default: those present).
    Records of more than one (dataset, preset) raise ValueError."""
    records = distinct_records(one_group(records))
    summary = summarize(records)
    if not summary:
        raise ValueError("no results to tabulate")
    columns = sorted({n for by_n in summary.values() for n in by_n})
    aubc_budgets = list(budgets) if budgets is not None else columns
    aubc = trial_aubc(records, aubc_budgets)
    lines = ["| method | " + " | ".join(f"{n:,}" for n in columns) + " | AUBC |",
             "|---|" + "---|" * (len(columns) + 1)]
    for method, by_n in summary.items():
        cells = [_cell(*by_n[n], digits) if n in by_n else "—" for n in columns]
        values = list(aubc.get(method, {}).values())
        cells.append(_cell(*mean_std(values), len(values), digits) if values else "—")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    source = "the protocol's budgets" if budgets is not None else "the budgets present in these results"
    return ("\n".join(lines) + "\n\nTest accuracy (%) by labeled-set size: mean ± sample std over distinct "
            "trials (their number); a single trial shows its value. AUBC: the mean accuracy over "
            f"{source}, {_budget_list(aubc_budgets)}, every budget weighted equally (for equally spaced "
            "budgets, the area under the learning curve over its width, up to the end points' weights); "
            "only trials with every budget count.\n")


def _p(p) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def _wilcoxon(test) -> str:
    text = _p(test.wilcoxon_p)
    if test.wilcoxon_p is not None and test.wilcoxon_nonzero < WILCOXON_MIN_PAIRS:
        text += f" (n<{WILCOXON_MIN_PAIRS}: min {test.wilcoxon_min_p:.3g})"
    return text


def paired_table(records, baseline: str, digits: int = 2, budgets=None) -> str:
    """Per method: the per-trial AUBC difference against `baseline` (points), its paired t-test
    and Wilcoxon signed-rank p, over the trials both have complete. A baseline listed before
    `baseline` in BASELINES (then ABLATION_BASELINES) is left out (its row is the negation of one already shown)."""
    order = BASELINES + ABLATION_BASELINES
    shown = order[:order.index(baseline)] if baseline in order else ()
    aubc = trial_aubc(records, budgets)
    if baseline not in aubc:
        return f"No complete `{baseline}` trial in these results: no paired differences against it.\n"
    tests = [t for t in paired_tests(aubc, baseline) if t.method not in shown]
    if not tests:
        return f"No other method shares a complete trial with `{baseline}`.\n"
    lines = [f"| method | pairs | Δ AUBC vs {baseline} | paired t p | Wilcoxon p |", "|---|---|---|---|---|"]
    for t in tests:
        diff = (f"{100 * t.mean:+.{digits}f} ± {100 * t.std:.{digits}f}" if t.std is not None
                else f"{100 * t.mean:+.{digits}f} (1 pair)")
        lines.append(f"| {t.method} | {t.pairs} | {diff} | {_p(t.t_p)} | {_wilcoxon(t)} |")
    return "\n".join(lines) + "\n"


PAIRED_CAPTION = (
    "Δ AUBC: method − baseline in points, per paired trial (the same trial index and seed, so the same "
    "first labeled set), mean ± sample std. p: two-sided, paired t-test (scipy.stats.ttest_rel) and "
    "Wilcoxon signed-rank test (scipy.stats.wilcoxon, zero differences dropped); with n < "
    f"{WILCOXON_MIN_PAIRS} nonzero differences the Wilcoxon p cannot fall below 2/2^n (the min shown), "
    "so it cannot reach 0.05. —: undefined (one pair, or all differences equal, for t; no nonzero "
    "difference for Wilcoxon).\n")


def group_report(records, heading: str | None = None, digits: int = 2, budgets=None, image: str | None = None,
                 level: int = 2) -> str:
    """The markdown of one group: [heading,] accuracy table, paired tables vs each baseline,
    [curves image]. Paired sections are headed one level below `level`."""
    records = distinct_records(one_group(records))
    parts = [f"{'#' * level} {heading}", ""] if heading else []
    parts.append(markdown_table(records, digits, budgets))
    present = {r["method"] for r in records}
    for baseline in BASELINES + tuple(b for b in ABLATION_BASELINES if b in present):
        parts += [f"{'#' * (level + 1)} Paired AUBC differences vs {baseline}", "",
                  paired_table(records, baseline, digits, budgets)]
    parts.append(PAIRED_CAPTION)
    if image is not None:
        parts += [f"![learning curves{': ' + heading if heading else ''}]({image})", ""]
    return "\n".join(parts)


def run_budgets(results_paths) -> dict:
    """{preset: budgets} from the protocol.json next to each results.jsonl (written by `fdal al`);
    files without one add nothing. Two protocol files naming one preset with different budgets
    raise ValueError."""
    found, where = {}, {}
    for path in results_paths:
        proto = Path(path).parent / "protocol.json"
        if not proto.is_file():
            continue
        p = json.loads(proto.read_text())
        budgets = list(range(p["initial"], p["final"] + 1, p["step"]))
        if p["name"] in found and found[p["name"]] != budgets:
            raise ValueError(f"preset {p['name']!r} has budgets {found[p['name']]} in {where[p['name']]} but "
                             f"{budgets} in {proto}")
        found[p["name"]], where[p["name"]] = budgets, proto
    return found
