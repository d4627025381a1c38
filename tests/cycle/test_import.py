"""`fdal cycle import`: every bad file is refused whole, with the rows named."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import run
from .simulated_annotator import export_for_round, write_csv

pytest.importorskip("torch")


@pytest.fixture
def picked(campaign, data):
    assert run("cycle", "pick", campaign, "-k", 12) == 0
    return campaign


def state_of(proj) -> dict:
    return json.loads(Path(proj, "campaign.json").read_text())


def keys_of(proj) -> list:
    return state_of(proj)["rounds"][-1]["picked"]


def refused(proj, path, capsys, *needles):
    before = Path(proj, "campaign.json").read_bytes()
    capsys.readouterr()
    assert run("cycle", "import", proj, path) == 1
    err = capsys.readouterr().err
    assert err.startswith("fdal: error: ") and err.count("\n") == 1, err
    assert "nothing imported" in err
    for needle in needles:
        assert needle in err, err
    assert Path(proj, "campaign.json").read_bytes() == before  # nothing of the file was applied
    return err


def test_label_studio_export_labels_and_skips(picked, data, tmp_path):
    export = export_for_round(picked / "rounds" / "round-1" / "tasks.json", data.label, skip_every=4)
    (tmp_path / "e.json").write_text(json.dumps(export))
    assert run("cycle", "import", picked, tmp_path / "e.json") == 0
    state = state_of(picked)
    keys = keys_of(picked)
    assert state["skipped"] == [keys[3], keys[7], keys[11]]
    assert state["labels"] == {k: data.label(k) for k in keys if k not in state["skipped"]}
    assert run("cycle", "import", picked, tmp_path / "e.json") == 0  # again: nothing changes
    assert state_of(picked)["labels"] == state["labels"]
    # A later label for a skipped image wins; skipped images are not picked again.
    write_csv(tmp_path / "late.csv", [(keys[3], data.label(keys[3]))])
    assert run("cycle", "import", picked, tmp_path / "late.csv") == 0
    assert keys[3] in state_of(picked)["labels"] and keys[3] not in state_of(picked)["skipped"]


def test_files_outside_the_pool_and_unknown_classes(picked, data, tmp_path, capsys):
    k = keys_of(picked)
    (data.folder / "notes.txt").write_text("not an image")
    write_csv(tmp_path / "a.csv", [(k[0], data.label(k[0])), ("photos/a/9999.png", data.classes[0]),
                                   ("elsewhere/x.png", data.classes[0]), ("photos/../photos/a/0000.png", data.classes[0]),
                                   ("photos/notes.txt", data.classes[0])])
    refused(picked, tmp_path / "a.csv", capsys, "files outside the pool", "line 3 photos/a/9999.png",
            "line 4 elsewhere/x.png", "line 5 photos/../photos/a/0000.png", "line 6 photos/notes.txt")
    (data.folder / "notes.txt").unlink()
    write_csv(tmp_path / "b.csv", [(k[0], "zebra")])
    refused(picked, tmp_path / "b.csv", capsys, "unknown class names", "line 2", "'zebra'")
    write_csv(tmp_path / "c.csv", [(k[0], "")])
    refused(picked, tmp_path / "c.csv", capsys, "an empty label")
    (tmp_path / "d.csv").write_text("name,class\nx,y\n")
    assert run("cycle", "import", picked, tmp_path / "d.csv") == 1
    assert "needs the header 'file,label'" in capsys.readouterr().err


def test_two_labels_for_one_file(picked, data, tmp_path, capsys):
    k = keys_of(picked)
    other = next(c for c in data.classes if c != data.label(k[1]))
    write_csv(tmp_path / "a.csv", [(k[1], data.label(k[1])), (k[1], other)])
    refused(picked, tmp_path / "a.csv", capsys, "two different labels for one file", "line 2 and line 3")
    export = export_for_round(picked / "rounds" / "round-1" / "tasks.json", data.label)
    export[0]["annotations"].append({"was_cancelled": False, "result": [
        {"type": "choices", "value": {"choices": [other if export[0]["data"]["key"] == k[1] else
                                                  next(c for c in data.classes if c != data.label(k[0]))]}}]})
    (tmp_path / "e.json").write_text(json.dumps(export))
    refused(picked, tmp_path / "e.json", capsys, "annotations disagree", "task 1 (id 1)")
    write_csv(tmp_path / "ok.csv", [(k[1], data.label(k[1]))])
    assert run("cycle", "import", picked, tmp_path / "ok.csv") == 0
    write_csv(tmp_path / "b.csv", [(k[1], other)])
    refused(picked, tmp_path / "b.csv", capsys, "labeled differently before")


def test_exports_of_another_campaign_project_or_task(picked, data, tmp_path, capsys):
    from fdal.campaign.state import load_state, save_state, set_label_studio_ids
    tasks = picked / "rounds" / "round-1" / "tasks.json"
    export = export_for_round(tasks, data.label)
    export[2]["data"]["campaign"] = "0" * 32
    (tmp_path / "a.json").write_text(json.dumps(export))
    refused(picked, tmp_path / "a.json", capsys, "tasks of another campaign", "task 3")
    state = load_state(picked)
    set_label_studio_ids(state, project_id=5, task_ids={k: 500 + i for i, k in enumerate(keys_of(picked))})
    save_state(picked, state)
    (tmp_path / "b.json").write_text(json.dumps(export_for_round(tasks, data.label, project_id=6, first_task_id=500)))
    refused(picked, tmp_path / "b.json", capsys, "another Label Studio project (this campaign's is 5)")
    (tmp_path / "c.json").write_text(json.dumps(export_for_round(tasks, data.label, project_id=5, first_task_id=600)))
    refused(picked, tmp_path / "c.json", capsys, "task ids that differ")
    (tmp_path / "d.json").write_text(json.dumps(export_for_round(tasks, data.label, project_id=5, first_task_id=500)))
    assert run("cycle", "import", picked, tmp_path / "d.json") == 0
    with pytest.raises(ValueError, match="project is 5, not 7"):
        set_label_studio_ids(state, project_id=7)


def test_files_changed_since_the_pick(picked, data, tmp_path, capsys):
    from PIL import Image
    k = keys_of(picked)
    paths = [data.folder / key.split("/", 1)[1] for key in k[:3]]
    saved = [p.read_bytes() for p in paths]
    try:
        Image.fromarray(255 - data.x[data.row(k[0])]).save(paths[0])       # modified
        paths[1].unlink()                                                  # deleted
        shutil.move(paths[2], paths[2].with_name("moved.png"))             # moved
        write_csv(tmp_path / "a.csv", [(key, data.label(key)) for key in k])
        err = refused(picked, tmp_path / "a.csv", capsys, "modified since they were picked",
                      "deleted or moved since they were picked")
        assert f"line 2 {k[0]}" in err and f"line 3 {k[1]}" in err and f"line 4 {k[2]}" in err
    finally:
        paths[2].with_name("moved.png").unlink(missing_ok=True)
        for p, b in zip(paths, saved):
            p.write_bytes(b)
    assert run("cycle", "import", picked, tmp_path / "a.csv") == 0  # restored: accepted


def test_a_changed_npy_row(tmp_path, data, teacher, capsys):
    import numpy as np
    proj = tmp_path / "c"
    pool = tmp_path / "mine.npy"
    np.save(pool, data.x)
    assert run("cycle", "init", proj, "--pool", pool, "--teacher", teacher) == 0
    assert run("cycle", "pick", proj, "-k", 4) == 0
    k = keys_of(proj)
    x = data.x.copy()
    x[int(k[0].split("/")[1])] ^= 1
    np.save(pool, x)
    write_csv(tmp_path / "a.csv", [(key, data.label(key)) for key in k])
    refused(proj, tmp_path / "a.csv", capsys, "modified since they were picked", k[0])
