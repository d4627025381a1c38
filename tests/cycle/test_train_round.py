"""`fdal cycle train` and the rounds after it: the report, resume, predictions in the tasks, and no
image picked twice or re-picked after a skip."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run
from .simulated_annotator import export_for_round

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow


def state_of(proj) -> dict:
    return json.loads(Path(proj, "campaign.json").read_text())


def label_round(proj, rnd, data, tmp_path, skip_every=4):
    export = export_for_round(Path(proj, "rounds", f"round-{rnd}", "tasks.json"), data.label, skip_every=skip_every)
    path = tmp_path / f"export-{rnd}.json"
    path.write_text(json.dumps(export))
    assert run("cycle", "import", proj, path) == 0


def test_two_rounds_train_report_resume_and_predictions(campaign, data, tmp_path, capsys):
    assert run("cycle", "pick", campaign, "-k", 24) == 0
    label_round(campaign, 1, data, tmp_path)
    train = ("cycle", "train", campaign, "--method", "fdal", "--epochs", 1, "--heldout", data.heldout,
             "--device", "cpu")
    assert run(*train) == 0
    state = state_of(campaign)
    model = state["models"][0]
    out = campaign / model["dir"]
    assert model["labeled"] == 18 and model["method"] == "fdal" and model["cycle"] == 0
    report = json.loads((out / "report.json").read_text())
    assert sum(report["labels_per_class"].values()) == 18
    assert report["heldout_accuracy"]["images"] == 40
    assert 0.0 <= report["heldout_accuracy"]["int8"] <= 1.0 and report["compare"]["top1_agreement"] > 0.5
    assert "Held-out accuracy (40 images)" in (out / "report.md").read_text()

    # Resume: the same labels are not trained again; a lost export is redone from the checkpoint.
    capsys.readouterr()
    assert run(*train) == 0
    assert "already trained" in capsys.readouterr().err
    first_bytes = (out / "student.fdal").read_bytes()
    (out / "student.fdal").unlink()
    state["models"].clear()
    Path(campaign, "campaign.json").write_text(json.dumps(state))
    assert run(*train) == 0
    assert "resuming" in capsys.readouterr().err
    assert (out / "student.fdal").read_bytes() == first_bytes

    # Round 2 ranks with the student: predictions in the tasks, nothing labeled, skipped or
    # picked before comes back.
    assert run("cycle", "pick", campaign, "-k", 24, "--strategy", "fdal") == 0
    state = state_of(campaign)
    first, second = state["rounds"][0]["picked"], state["rounds"][1]["picked"]
    assert not set(first) & set(second) and len(set(second)) == 24
    tasks = json.loads((campaign / "rounds" / "round-2" / "tasks.json").read_text())
    for task in tasks:
        (pred,) = task["predictions"]
        assert pred["result"][0]["value"]["choices"][0] in data.classes and 0 < pred["score"] <= 1
        assert pred["model_version"].startswith("models/round-1/student.fdal")
    label_round(campaign, 2, data, tmp_path)
    assert run(*train[:4], "kd", *train[5:]) == 0
    assert state_of(campaign)["models"][-1]["labeled"] == 36
    assert run("cycle", "pick", campaign, "-k", 24, "--strategy", "fdal") == 1  # kd has no sampler
    assert "needs a model with a sampler" in capsys.readouterr().err
    assert run("cycle", "pick", campaign, "-k", 24, "--strategy", "classbalanced") == 0
    state = state_of(campaign)
    third = state["rounds"][2]["picked"]
    assert not set(third) & (set(first) | set(second))
    assert not set(third) & set(state["skipped"]) and len(state["skipped"]) == 12
    capsys.readouterr()
    assert run("cycle", "status", campaign) == 0
    print(capsys.readouterr().out)


def test_one_decoder_for_training_and_ranking(tmp_path):
    """A palette PNG with transparency, a grayscale JPEG and a large RGB photo: the training loader
    and the ranking reader give the same uint8 pixels."""
    import numpy as np
    from PIL import Image
    from fdal.image_folder import ImageFolder, list_images
    from fdal.training.data import load_image_folder
    rng = np.random.default_rng(0)
    for cls in ("p", "q"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        (tmp_path / "test" / cls).mkdir(parents=True)
    pal = Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).convert("P")
    pal.info["transparency"] = 0
    pal.save(tmp_path / "train" / "p" / "a.png", transparency=0)
    Image.fromarray(rng.integers(0, 255, (70, 45), dtype=np.uint8)).save(tmp_path / "train" / "p" / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (600, 900, 3), dtype=np.uint8)).save(tmp_path / "train" / "q" / "c.jpg")
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "test" / "q" / "d.png")
    ds = load_image_folder(tmp_path, image_size=32)
    files = list_images(str(tmp_path / "train"))
    folder = ImageFolder(files, (32, 32, 3))
    ranked = np.concatenate(list(folder.batches()))
    assert np.array_equal(ds.train_x.permute(0, 2, 3, 1).numpy(), ranked)
