"""labelstudio_format: the labeling config, tasks with predictions, and export parsing."""
from __future__ import annotations

import re

import pytest

from fdal.campaign.labelstudio_format import labeling_config, parse_export, tasks_for_round


def test_labeling_config_has_one_choice_per_class_escaped():
    config = labeling_config(["cat", "dog", 'a "quoted" <b>'])
    assert config.count("<Choice ") == 3
    assert 'value="cat"' in config and "&lt;b&gt;" in config
    assert '<Choices name="label" toName="image" choice="single"' in config


def test_tasks_carry_key_campaign_and_predictions():
    picks = [{"key": "p/1.png", "rank": 1, "score": -3.0, "predicted": "dog", "probability": 0.8},
             {"key": "p/2.png", "rank": 2, "score": -1.0, "predicted": None, "probability": None}]
    tasks = tasks_for_round("abc", 2, picks, {"p/1.png": "/u/1", "p/2.png": "/u/2"}, "m1")
    assert tasks[0]["data"] == {"image": "/u/1", "key": "p/1.png", "campaign": "abc", "round": 2}
    assert tasks[0]["predictions"][0]["result"][0]["value"] == {"choices": ["dog"]}
    assert tasks[0]["predictions"][0]["score"] == 0.8 and tasks[0]["predictions"][0]["model_version"] == "m1"
    assert "predictions" not in tasks[1]


def _task(i, *annotations, key=None):
    return {"id": i, "project": 3, "data": {"key": key or f"p/{i}", "campaign": "abc"}, "annotations": list(annotations)}


def _choice(name, cancelled=False):
    return {"was_cancelled": cancelled, "result": [] if cancelled else [
        {"type": "choices", "value": {"choices": [name]}}, {"type": "textarea", "value": {"text": ["note"]}}]}


def test_parse_export_labels_skips_and_unanswered():
    records = parse_export([_task(1, _choice("dog")), _task(2, _choice("", cancelled=True)), _task(3),
                            _task(4, _choice("", cancelled=True), _choice("cat")), _task(5, _choice("cat"), _choice("dog"))])
    got = [(r["key"], r["label"], r["skipped"], r["labels"]) for r in records]
    assert got == [("p/1", "dog", False, ["dog"]), ("p/2", None, True, []), ("p/3", None, False, []),
                   ("p/4", "cat", False, ["cat"]), ("p/5", None, False, ["cat", "dog"])]
    assert records[0]["task_id"] == 1 and records[0]["project_id"] == 3 and records[0]["campaign"] == "abc"


@pytest.mark.parametrize("export, message", [
    ({"tasks": []}, "is a list of tasks"),
    ([1], "task 1: not a Label Studio task"),
    ([{"id": 9, "data": {}, "annotations": {}}], "task 1 (id 9): 'annotations' must be a list"),
    ([{"id": 9, "data": {}, "annotations": [{"result": [{"value": {"choices": ["a", "b"]}}]}]}],
     "exactly one chosen class"),
])
def test_parse_export_names_the_bad_task(export, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_export(export)
