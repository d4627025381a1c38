"""The numbers behind a results table, for one (dataset, preset) group of distinct records:
mean +- std per budget, AUBC per trial, and paired tests of one method against a baseline.

AUBC (area under the budget curve) here is the MEAN test accuracy over the protocol's budgets, every
budget weighted equally. For equally spaced budgets this is the trapezoidal area under the learning
curve divided by its width, except that the trapezoid gives the two end budgets half weight. Only a
trial with an accuracy at every budget has an AUBC.

Paired tests: trial t of every method uses the same seed, so the same first labeled set and the same
initializations; a method's trial is paired with the baseline's trial of the same (trial, seed),
and only where both have an AUBC.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from fdal.training.results import distinct_records, one_group

BASELINES = ("random", "kd_random")  # random choice; FDAL's distillation with a random choice
# FDAL's whole training with a random choice: fdal − fdal_random is the sampler's choice alone.
# Reports compare against it only where a run has it.
ABLATION_BASELINES = ("fdal_random",)
# The Wilcoxon signed-rank test on fewer nonzero differences than this cannot reach p < 0.05
# (two-sided exact p >= 2 / 2**n): tables say so next to its p.
WILCOXON_MIN_PAIRS = 6


def trial_id(rec: dict) -> tuple:
    """(trial, seed): see fdal.training.results."""
    return rec["trial"], rec["seed"]


def method_order(methods) -> list:
    """The baselines first, then the other methods by name: the same text for the same records."""
    methods = set(methods)
    return [m for m in BASELINES if m in methods] + sorted(methods - set(BASELINES))


def mean_std(values) -> tuple:
    """(mean, sample std with ddof 1); the std is 0.0 for a single value."""
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def summarize(records) -> dict:
    """{method: {n_labeled: (mean, std, trials)}} of accuracy over distinct trials of one group;
    std is the sample std (ddof 1), 0.0 for a single trial (tables print no ± then)."""
    records = distinct_records(one_group(records))
    acc = {}
    for r in records:
        acc.setdefault(r["method"], {}).setdefault(r["n_labeled"], []).append(r["accuracy"])
    return {m: {n: (*mean_std(v), len(v)) for n, v in sorted(acc[m].items())} for m in method_order(acc)}


def observed_budgets(records) -> list:
    """The labeled-set sizes present in `records`, sorted."""
    return sorted({r["n_labeled"] for r in records})


def trial_aubc(records, budgets=None) -> dict:
    """{method: {(trial, seed): AUBC}}: the mean accuracy over `budgets` (default: every budget seen
    in the group) of each trial that has all of them; other trials are left out."""
    records = distinct_records(one_group(records))
    budgets = list(budgets) if budgets is not None else observed_budgets(records)
    if not budgets:
        return {}
    curves = {}
    for r in records:
        curves.setdefault(r["method"], {}).setdefault(trial_id(r), {})[r["n_labeled"]] = r["accuracy"]
    out = {}
    for method in method_order(curves):
        complete = {t: sum(c[n] for n in budgets) / len(budgets)
                    for t, c in sorted(curves[method].items()) if all(n in c for n in budgets)}
        if complete:
            out[method] = complete
    return out


@dataclass(frozen=True)
class PairedTest:
    """One method against a baseline over paired trials; differences are method - baseline in
    accuracy fractions. None where a statistic is undefined: std, t_p with fewer than 2 pairs;
    t_p when every difference is the same (zero spread); wilcoxon_p when no difference is nonzero."""
    method: str
    baseline: str
    pairs: int
    mean: float
    std: float | None
    t_p: float | None
    wilcoxon_p: float | None
    wilcoxon_nonzero: int   # differences the signed-rank test uses (scipy drops zeros)

    @property
    def wilcoxon_min_p(self) -> float | None:
        """The smallest two-sided exact p the signed-rank test can give with this many nonzero
        differences (all of one sign): 2 / 2**n."""
        return 2.0 ** (1 - self.wilcoxon_nonzero) if self.wilcoxon_nonzero else None


def paired_test(method_aubc: dict, baseline_aubc: dict, method: str = "", baseline: str = "") -> PairedTest | None:
    """Paired t-test (scipy.stats.ttest_rel) and Wilcoxon signed-rank test (scipy.stats.wilcoxon,
    its defaults: two-sided, zeros dropped) of per-trial AUBC, over the trials both dicts have;
    None if they share none."""
    common = sorted(set(method_aubc) & set(baseline_aubc))
    if not common:
        return None
    a = [method_aubc[t] for t in common]
    b = [baseline_aubc[t] for t in common]
    diffs = [x - y for x, y in zip(a, b)]
    mean, std = mean_std(diffs)
    nonzero = sum(d != 0 for d in diffs)
    t_p = w_p = None
    if len(diffs) > 1 and max(diffs) - min(diffs) > 1e-12:  # zero spread: t is 0/0 or infinite
        from scipy import stats
        t_p = float(stats.ttest_rel(a, b).pvalue)
    if nonzero:
        from scipy import stats
        w_p = float(stats.wilcoxon(a, b).pvalue)
    return PairedTest(method, baseline, len(diffs), mean, std if len(diffs) > 1 else None, t_p, w_p, nonzero)


def paired_tests(aubc: dict, baseline: str) -> list:
    """PairedTest of every other method in `aubc` (from trial_aubc) against `baseline`, in table
    order; empty if the baseline has no complete trial."""
    if baseline not in aubc:
        return []
    tests = (paired_test(aubc[m], aubc[baseline], m, baseline) for m in aubc if m != baseline)
    return [t for t in tests if t is not None]
