"""Where a trial's time goes: the per-phase seconds that `fdal al` records in results.jsonl.

    python benchmarks/phase_profile.py runs/cpu-research-e5 [RUN ...] [--trial 0]

For each (preset, method) of the runs' trial, the seconds per phase summed over the trial's cycles
(phase_timer.py: data, teacher forward, decoder forward+backward, student step, sampler steps,
evaluation, selection), their share of the trial, and the cycles' total wall-clock. Records
written before the timers existed (no phase_seconds) are skipped.
"""
from __future__ import annotations

import argparse
import sys

PHASES = ("data", "teacher", "decoder", "student", "sampler", "vaal", "evaluation", "selection")


def profile(records: list, trial: int) -> str:
    sums: dict = {}
    for r in records:
        if r["trial"] != trial or "phase_seconds" not in r:
            continue
        key = (r["preset"], r["method"])
        acc = sums.setdefault(key, {"cycles": 0, "seconds": 0.0, "phases": {}})
        acc["cycles"] += 1
        acc["seconds"] += r["seconds"]
        for name, s in r["phase_seconds"].items():
            acc["phases"][name] = acc["phases"].get(name, 0.0) + s
    if not sums:
        raise ValueError(f"no record of trial {trial} has phase_seconds")
    present = [p for p in PHASES if any(p in a["phases"] for a in sums.values())]
    lines = ["| preset | method | cycles | " + " | ".join(present) + " | other | trial s |",
             "|---|---|---|" + "---|" * (len(present) + 2)]
    for (preset, method), a in sorted(sums.items()):
        total = a["seconds"]
        cells = [f"{a['phases'].get(p, 0.0):.0f} ({100 * a['phases'].get(p, 0.0) / total:.0f}%)" for p in present]
        other = total - sum(a["phases"].values())
        lines.append(f"| {preset} | {method} | {a['cycles']} | " + " | ".join(cells) +
                     f" | {other:.0f} | {total:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from fdal.training.results import read_results, results_path
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run folders or results.jsonl files")
    ap.add_argument("--trial", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        records = []
        for run in args.runs:
            records += read_results(results_path(run))
        print(profile(records, args.trial), end="")
    except (OSError, ValueError) as exc:
        print(f"phase_profile: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
