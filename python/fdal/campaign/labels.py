"""`fdal cycle import`: labels back from Label Studio's JSON export or a CSV with columns file,label.

Everything in the file is checked first; any problem is one error naming the rows, and then
nothing of that file is imported. Refused:
    a task of another campaign (its data.campaign, its Label Studio project id, or its task id
    differ from what this campaign recorded), a file outside the pool, a class the campaign does
    not have, two different labels for one file (in the file, or against a label imported before),
    a file deleted, moved or modified since it was picked (content digest, pool.py).
A skipped task (annotations all cancelled) is remembered as skipped and never picked again; a
later label for it wins. Importing the same labels twice changes nothing.
"""
from __future__ import annotations

import csv
import io
import json

from .labelstudio_format import parse_export
from .pool import current_digest, locate

SHOWN = 5  # rows named per kind of problem


def read_records(path: str) -> list:
    """Records (as labelstudio_format.parse_export's) from a .json export or a .csv file,label."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        text = f.read()
    if path.lower().endswith(".json") or text.lstrip().startswith(("[", "{")):
        try:
            export = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        return [dict(r, where=f"task {r['row'] + 1}" + (f" (id {r['task_id']})" if r["task_id"] is not None else ""))
                for r in parse_export(export)]
    reader = csv.DictReader(io.StringIO(text))
    fields = [c.strip() for c in reader.fieldnames or []]
    if "file" not in fields or "label" not in fields:
        raise ValueError(f"{path}: a label CSV needs the header 'file,label', got {reader.fieldnames}")
    records = []
    for row, line in enumerate(reader):
        line = {k.strip(): (v or "").strip() for k, v in line.items() if k is not None}
        label = line["label"]
        records.append({"row": row, "where": f"line {row + 2}", "task_id": None, "project_id": None,
                        "key": line["file"].replace("\\", "/") or None, "campaign": None,
                        "label": label or None, "skipped": False, "labels": [label] if label else []})
    return records


def check_records(state: dict, records: list) -> list:
    """Problems of `records` for this campaign, one message per kind, naming up to SHOWN rows."""
    problems: dict = {}

    def add(kind, where):
        problems.setdefault(kind, []).append(where)

    ls = state.get("label_studio") or {}
    classes, shape = set(state["classes"]), state["image_shape"]
    npy_cache: dict = {}
    given: dict = {}
    for r in records:
        where, key = r["where"], r["key"]
        if r["campaign"] is not None and r["campaign"] != state["id"]:
            add(f"tasks of another campaign (data.campaign {r['campaign']!r}, this campaign is {state['id']!r})", where)
            continue
        if ls.get("project_id") is not None and r["project_id"] is not None and r["project_id"] != ls["project_id"]:
            add(f"tasks of another Label Studio project (this campaign's is {ls['project_id']})", where)
            continue
        if key is None:
            add("no file: a task without data.key (not made by `fdal cycle pick`), or an empty file column", where)
            continue
        known_task = (ls.get("task_ids") or {}).get(key)
        if known_task is not None and r["task_id"] is not None and int(r["task_id"]) != known_task:
            add("task ids that differ from the ones this campaign pushed (another project's export?)", where)
            continue
        if len(r["labels"]) > 1:
            add("two different labels for one file (annotations disagree)", f"{where} {key}: {r['labels']}")
            continue
        if locate(state["pools"], key) is None:
            add("files outside the pool", f"{where} {key}")
            continue
        if r["label"] is None and not r["skipped"]:
            if r["campaign"] is None and r["task_id"] is None:  # a CSV line with no label
                add("an empty label", f"{where} {key}")
            continue  # a task not yet annotated
        if r["label"] is not None and r["label"] not in classes:
            add(f"unknown class names (classes: {', '.join(state['classes'])})", f"{where} {key}: {r['label']!r}")
            continue
        now = current_digest(state["pools"], key, shape, npy_cache)
        then = state["digests"].get(key)
        if now is None:
            add("files deleted or moved since they were picked" if then else "files outside the pool", f"{where} {key}")
            continue
        if then is not None and now != then:
            add("files modified since they were picked (content digest differs)", f"{where} {key}")
            continue
        if r["label"] is not None:
            before = state["labels"].get(key)
            if before is not None and before != r["label"]:
                add("two different labels for one file (labeled differently before)",
                    f"{where} {key}: {r['label']!r}, before {before!r}")
                continue
            other = given.get(key)
            if other is not None and other[1] != r["label"]:
                add("two different labels for one file",
                    f"{other[0]} and {where} {key}: {other[1]!r} vs {r['label']!r}")
                continue
            given[key] = (where, r["label"])
    return [f"{kind}: {'; '.join(rows[:SHOWN])}" + (f" (and {len(rows) - SHOWN} more)" if len(rows) > SHOWN else "")
            for kind, rows in problems.items()]


def apply_records(state: dict, records: list) -> dict:
    """Apply checked records to `state`; returns counts {labeled, again, skipped, unanswered}."""
    labels, skipped = state["labels"], state["skipped"]
    skipped_set = set(skipped)
    picked = {k for rnd in state["rounds"] for k in rnd["picked"]}
    order = state.setdefault("label_order", [])
    npy_cache: dict = {}
    counts = {"labeled": 0, "again": 0, "skipped": 0, "unanswered": 0}
    for r in records:
        key = r["key"]
        if r["label"] is not None:
            if labels.get(key) == r["label"]:
                counts["again"] += 1
                continue
            labels[key] = r["label"]
            counts["labeled"] += 1
            if key in skipped_set:
                skipped_set.discard(key)
            if key not in picked:
                order.append(key)
                state["digests"].setdefault(key, current_digest(state["pools"], key, state["image_shape"], npy_cache))
        elif r["skipped"]:
            if key not in labels and key not in skipped_set:
                skipped_set.add(key)
                skipped.append(key)
                counts["skipped"] += 1
        else:
            counts["unanswered"] += 1
    state["skipped"] = [k for k in skipped if k in skipped_set]
    return counts


def import_labels(state: dict, path: str) -> dict:
    records = read_records(path)
    problems = check_records(state, records)
    if problems:
        raise ValueError(f"{path}: nothing imported; " + " | ".join(problems))
    return apply_records(state, records)
