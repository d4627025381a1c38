"""A scripted annotator: labels and skips tasks through Label Studio's API as a person would in the
browser (one annotation per task; a skip is an annotation with was_cancelled and no result)."""
from __future__ import annotations

from fdal.labelstudio import CHOICES_NAME, IMAGE_NAME


def choice_result(label: str) -> list:
    return [{"from_name": CHOICES_NAME, "to_name": IMAGE_NAME, "type": "choices", "value": {"choices": [label]}}]


def label_task(client, task_id: int, label: str) -> dict:
    return client.post(f"/api/tasks/{int(task_id)}/annotations", {"result": choice_result(label), "was_cancelled": False})


def skip_task(client, task_id: int) -> dict:
    return client.post(f"/api/tasks/{int(task_id)}/annotations", {"result": [], "was_cancelled": True})
