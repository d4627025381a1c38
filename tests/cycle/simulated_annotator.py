"""A simulated annotator for the campaign tests: answers a round's Label Studio tasks with the
true labels, as a Label Studio JSON export (skipping every `skip_every`-th task) or a CSV."""
from __future__ import annotations

import csv
import json
from pathlib import Path


def export_for_round(tasks_path, true_label, skip_every=0, project_id=1, first_task_id=1) -> list:
    """A Label Studio JSON export answering the tasks in tasks_path; true_label(key) -> class name."""
    tasks = json.loads(Path(tasks_path).read_text())
    out = []
    for i, task in enumerate(tasks):
        if skip_every and i % skip_every == skip_every - 1:
            annotations = [{"id": i + 1, "was_cancelled": True, "result": []}]
        else:
            annotations = [{"id": i + 1, "was_cancelled": False, "result": [
                {"from_name": "label", "to_name": "image", "type": "choices",
                 "value": {"choices": [true_label(task["data"]["key"])]}}]}]
        out.append({"id": first_task_id + i, "project": project_id, "data": task["data"],
                    "annotations": annotations, "predictions": [1]})
    return out


def write_csv(path, rows) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "label"])
        w.writerows(rows)


def csv_for_round(tasks_path, out_path, true_label) -> None:
    tasks = json.loads(Path(tasks_path).read_text())
    write_csv(out_path, [(t["data"]["key"], true_label(t["data"]["key"])) for t in tasks])
