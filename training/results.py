"""Results as JSON lines, one record per (method, trial, cycle); merging files into distinct trials.

Record keys: method, dataset, trial, cycle, n_labeled, accuracy (top-1 on the test set, a
fraction in [0, 1]), seconds (wall-clock of that cycle: training, test, selection), preset, seed;
optional: phase_seconds (that wall-clock per phase: data, teacher, decoder, student, sampler,
evaluation, selection; runner.py), absent in records written before 2026-12-08.

A trial is identified by (trial, seed): trial t of a run with --seed s records seed s + t, and the
run's seed also picks the teacher and the pool, so the same index under another --seed is another
trial. Results are only ever summarized within one (dataset, preset) group (`split_groups`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FIELDS = ("method", "dataset", "trial", "cycle", "n_labeled", "accuracy", "seconds", "preset", "seed")
OPTIONAL_FIELDS = ("phase_seconds",)
_KEY = ("preset", "method", "dataset", "trial", "cycle")
# One cycle of one trial: the same key in two files is the same measurement, counted once.
_DISTINCT_KEY = ("dataset", "preset", "method", "trial", "seed", "cycle")


_INTEGER_FIELDS = ("trial", "cycle", "n_labeled")


def check_record(rec: dict) -> dict:
    if not isinstance(rec, dict):
        raise ValueError(f"a result record is a JSON object with {', '.join(FIELDS)}, got {type(rec).__name__}")
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        raise ValueError(f"result record lacks {missing}: {rec}")
    for name in _INTEGER_FIELDS:
        if isinstance(rec[name], bool) or not isinstance(rec[name], int):
            raise ValueError(f"{name} must be an integer, got {rec[name]!r}")
    for name in ("accuracy", "seconds"):
        if isinstance(rec[name], bool) or not isinstance(rec[name], (int, float)):
            raise ValueError(f"{name} must be a number, got {rec[name]!r}")
    if not 0.0 <= rec["accuracy"] <= 1.0:
        raise ValueError(f"accuracy must be a fraction in [0, 1], got {rec['accuracy']}")
    return rec


def record_line(rec: dict) -> str:
    """The record as one JSON line: FIELDS in order, then the OPTIONAL_FIELDS it has."""
    check_record(rec)
    return json.dumps({k: rec[k] for k in FIELDS + OPTIONAL_FIELDS if k in rec}) + "\n"


def append_result(path, rec: dict) -> None:
    """Append one record and flush it to disk (a crash loses at most the running cycle)."""
    line = record_line(rec)
    with open(path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def results_path(run) -> Path:
    """The results.jsonl of a run: a run folder (holding results.jsonl) or the file itself."""
    path = Path(run)
    path = path / "results.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{run}: no results.jsonl")
    return path


def read_results(path) -> list:
    """All records in file order; a record repeated (same preset/method/dataset/trial/cycle, e.g. a
    cycle re-run after a crash) keeps its last occurrence. A torn last line is ignored."""
    out = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        # e.g. `fdal plot pool.npy`: binary data, not the text file fdal al writes.
        raise ValueError(f"{path}: not a text file; expected a results.jsonl written by fdal al") from None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                continue  # interrupted mid-write
            raise ValueError(f"{path}: line {i + 1} is not JSON; expected a results.jsonl written by fdal al")
        try:
            check_record(rec)
        except ValueError as exc:
            raise ValueError(f"{path}: line {i + 1}: {exc}") from None
        out[tuple(rec[k] for k in _KEY)] = rec
    return list(out.values())


def distinct_records(records, sources=None) -> list:
    """`records` with each (dataset, preset, method, trial, seed, cycle) once, in first-seen order.
    A repeat that agrees (same n_labeled and accuracy) is dropped; one that disagrees raises
    ValueError naming both sources (`sources[i]` says where records[i] came from)."""
    seen = {}
    out = []
    for i, rec in enumerate(records):
        key = tuple(rec[k] for k in _DISTINCT_KEY)
        if key not in seen:
            seen[key] = i
            out.append(rec)
            continue
        j = seen[key]
        first = records[j]
        if (first["n_labeled"], first["accuracy"]) != (rec["n_labeled"], rec["accuracy"]):
            where = (f"{sources[j]} and {sources[i]}" if sources is not None else "two records")
            raise ValueError(
                f"conflicting results for {', '.join(f'{k}={v}' for k, v in zip(_DISTINCT_KEY, key))}: "
                f"{where} give accuracy {first['accuracy']} vs {rec['accuracy']} (n_labeled "
                f"{first['n_labeled']} vs {rec['n_labeled']}); keep one of the two runs")
    return out


def merge_results(paths) -> list:
    """The distinct records of several results.jsonl files (see distinct_records): the same trial
    found in two files counts once; a disagreement is an error naming both files."""
    records, sources = [], []
    for path in paths:
        got = read_results(path)
        records += got
        sources += [str(path)] * len(got)
    return distinct_records(records, sources)


def group_key(rec: dict) -> tuple:
    """(dataset, preset): the unit of every table and plot; records of two groups never mix."""
    return rec["dataset"], rec["preset"]


def split_groups(records) -> dict:
    """{(dataset, preset): [records]}, groups sorted by key, records in input order."""
    groups = {}
    for rec in records:
        groups.setdefault(group_key(rec), []).append(rec)
    return {k: groups[k] for k in sorted(groups)}


def one_group(records) -> list:
    """`records` if they all share one (dataset, preset); ValueError otherwise (a mean over two
    datasets or presets is not a result)."""
    groups = split_groups(records)
    if len(groups) > 1:
        names = "; ".join(f"{d} / {p}" for d, p in groups)
        raise ValueError(f"results of {len(groups)} (dataset, preset) groups ({names}) cannot share a table "
                         f"or a plot: split them with split_groups")
    return list(records)


def group_name(key: tuple) -> str:
    """A file-name suffix for a group: 'cifar10-cpu-small'."""
    dataset, preset = key
    text = f"{dataset}-{preset}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
