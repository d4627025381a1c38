"""Label Studio's formats, as pure functions (no server, no files): the labeling config generated
from the class names, a round's import tasks with the student's predictions, and the JSON export
parsed into one record per task. A client for a live server builds on these.

A task (what `fdal cycle pick` writes to rounds/round-R/tasks.json):
    {"data": {"image": URL, "key": KEY, "campaign": CAMPAIGN ID, "round": R},
     "meta": {"rank": 1, "score": ...},                      # the pick's rank and ranking key
     "predictions": [{"model_version": "round-R-1 student.fdal sha256 ...", "score": P,
                      "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                  "value": {"choices": [CLASS]}}]}]}
The prediction (a pre-annotation: the annotator confirms or changes it) is the int8 student's
class and its softmax probability; round 1 has no student, so its tasks carry none.

The JSON export is a list of tasks, each with "id", "data", "project" and "annotations"; an
annotation's result holds {"type": "choices", "value": {"choices": [CLASS]}}; a skip is an
annotation with "was_cancelled": true and an empty result.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

FROM_NAME = "label"   # the Choices control
TO_NAME = "image"     # the Image object; also the task's data field
IMAGE_URL_PREFIX = "/data/local-files/?d="  # Label Studio's local files (LOCAL_FILES_DOCUMENT_ROOT)


def labeling_config(classes) -> str:
    """The project's labeling config: one image, one single-choice Choices control over `classes`."""
    choices = "".join(f"\n    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return (f"<View>\n  <Image name=\"{TO_NAME}\" value=\"${TO_NAME}\"/>\n"
            f"  <Choices name=\"{FROM_NAME}\" toName=\"{TO_NAME}\" choice=\"single\" showInline=\"true\">"
            f"{choices}\n  </Choices>\n</View>\n")


def tasks_for_round(campaign_id: str, rnd: int, picks: list, image_urls: dict, model_version=None) -> list:
    """Import tasks of one round. picks: [{key, rank, score, predicted (class name or None),
    probability}] best first; image_urls: {key: the URL Label Studio loads}."""
    tasks = []
    for p in picks:
        task = {"data": {TO_NAME: image_urls[p["key"]], "key": p["key"], "campaign": campaign_id, "round": rnd},
                "meta": {"rank": int(p["rank"]), "score": float(p["score"])}}
        if p.get("predicted") is not None:
            task["predictions"] = [{
                "model_version": model_version or "student", "score": float(p["probability"]),
                "result": [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
                            "value": {"choices": [p["predicted"]]}}]}]
        tasks.append(task)
    return tasks


def _choices(annotation, where: str) -> list:
    out = []
    result = annotation.get("result") or []
    if not isinstance(result, list):
        raise ValueError(f"{where}: 'result' must be a list")
    for item in result:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict) or "choices" not in value:
            continue  # another control's result (a comment, a box): not a class label
        choices = value["choices"]
        if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], str):
            raise ValueError(f"{where}: expected exactly one chosen class, got {choices!r}")
        out.append(choices[0])
    return out


def parse_export(export) -> list:
    """One record per task of a Label Studio JSON export (the parsed list):
        {"row": position in the export (0-based), "task_id", "project_id", "key", "campaign",
         "label": the class name or None, "skipped": bool, "labels": every distinct class given}
    A task whose annotations were all cancelled is skipped; one with none is neither (not yet
    labeled). Structural problems raise ValueError naming the task; whether the labels make sense
    for a campaign is labels.py's business."""
    if not isinstance(export, list):
        raise ValueError("a Label Studio JSON export is a list of tasks; this file holds a "
                         f"{type(export).__name__}")
    records = []
    for row, task in enumerate(export):
        where = f"task {row + 1}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ValueError(f"{where}: not a Label Studio task (no 'data' object)")
        where = f"task {row + 1} (id {task.get('id')})"
        data = task["data"]
        annotations = task.get("annotations")
        annotations = [] if annotations is None else annotations
        if not isinstance(annotations, list):
            raise ValueError(f"{where}: 'annotations' must be a list")
        labels, cancelled, answered = [], 0, 0
        for a in annotations:
            if not isinstance(a, dict):
                raise ValueError(f"{where}: an annotation is not an object")
            if a.get("was_cancelled"):
                cancelled += 1
                continue
            given = _choices(a, where)
            answered += bool(given)
            labels += [c for c in given if c not in labels]
        records.append({"row": row, "task_id": task.get("id"), "project_id": task.get("project"),
                        "key": data.get("key"), "campaign": data.get("campaign"),
                        "label": labels[0] if len(labels) == 1 else None,
                        "skipped": cancelled > 0 and answered == 0, "labels": labels})
    return records
