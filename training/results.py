"""Results as JSON lines, one record per (method, trial, cycle), and mean +- std tables.

Record keys: method, dataset, trial, cycle, n_labeled, accuracy (top-1 on the test set, a
fraction in [0, 1]), seconds (wall-clock of that cycle: training, test, selection), preset, seed.
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict

FIELDS = ("method", "dataset", "trial", "cycle", "n_labeled", "accuracy", "seconds", "preset", "seed")
_KEY = ("preset", "method", "dataset", "trial", "cycle")


def check_record(rec: dict) -> dict:
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        raise ValueError(f"result record lacks {missing}: {rec}")
    if not 0.0 <= rec["accuracy"] <= 1.0:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {rec['accuracy']}")
    return rec


def append_result(path, rec: dict) -> None:
    """Append one record and flush it to disk (a crash loses at most the running cycle)."""
    check_record(rec)
    with open(path, "a") as f:
        f.write(json.dumps({k: rec[k] for k in FIELDS}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_results(path) -> list:
    """All records in file order; a record repeated (same preset/method/dataset/trial/cycle, e.g. a
    cycle re-run after a crash) keeps its last occurrence. A torn last line is ignored."""
    out = {}
    with open(path) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                continue  # interrupted mid-write
            raise ValueError(f"{path}: line {i + 1} is not JSON")
        check_record(rec)
        out[tuple(rec[k] for k in _KEY)] = rec
    return list(out.values())


def summarize(results) -> dict:
    """{method: {n_labeled: (mean, std, trials)}} of accuracy; std is the sample std (ddof 1),
    0 for a single trial."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in results:
        acc[r["method"]][r["n_labeled"]].append(r["accuracy"])
    out = {}
    for method, by_n in acc.items():
        out[method] = {}
        for n, v in sorted(by_n.items()):
            mean = sum(v) / len(v)
            std = math.sqrt(sum((a - mean) ** 2 for a in v) / (len(v) - 1)) if len(v) > 1 else 0.0
            out[method][n] = (mean, std, len(v))
    return out


def markdown_table(results, digits: int = 2) -> str:
    """Rows: methods; columns: labeled-set sizes; cells: accuracy in % as mean +- std (trials)."""
    summary = summarize(results)
    if not summary:
        raise ValueError("no results to tabulate")
    budgets = sorted({n for by_n in summary.values() for n in by_n})
    lines = ["| method | " + " | ".join(f"{n:,}" for n in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for method, by_n in summary.items():
        cells = []
        for n in budgets:
            if n in by_n:
                m, s, k = by_n[n]
                cells.append(f"{100 * m:.{digits}f} ± {100 * s:.{digits}f} ({k})")
            else:
                cells.append("—")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nTest accuracy (%) as mean ± sample std (trials), by labeled-set size.\n"
