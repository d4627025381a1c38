"""The real loop is the researched loop: `fdal cycle` with --method kd --strategy S, a simulated
annotator and fdal al's candidate rule (--candidates = the preset's subset) gives, after every
round, the labeled list of `fdal al --methods kd+S` (the runner's on-device path: each cycle's
student exported to int8 and ranked by the native runtime) and the same test accuracy, bit for bit
on CPU. Same preset (smoke), seed, first draw, candidate rule and calibration."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from fdal.cli import main  # noqa: E402

from .simulated_annotator import csv_for_round  # noqa: E402

pytestmark = pytest.mark.slow


def _save_heldout(dataset, folder):
    from PIL import Image
    x = dataset.test_x.permute(0, 2, 3, 1).numpy()
    for i, (img, y) in enumerate(zip(x, dataset.test_y.tolist())):
        d = os.path.join(folder, dataset.classes[y])
        os.makedirs(d, exist_ok=True)
        Image.fromarray(img).save(os.path.join(d, f"{i:04d}.png"))  # PNG: lossless, the same pixels


@pytest.mark.parametrize("strategy", ["margin", "classbalanced"])
def test_campaign_equals_fdal_al(tmp_path, strategy):
    from fdal.training.protocols import get_protocol, teacher_and_pool
    from fdal.training.runner import load_protocol_dataset, run_protocol
    torch.set_num_threads(1)
    p = get_protocol("smoke")
    # The campaign gives classbalanced the labeled counts: fdal al's "@labeled".
    method = f"kd+{strategy}" + ("@labeled" if strategy == "classbalanced" else "")
    results = run_protocol(p, method, out_dir=tmp_path / "al", progress=False)
    final = json.loads((tmp_path / "al" / "checkpoints" / f"{method}-trial0.json").read_text())["labeled"]

    _, dataset = teacher_and_pool(p, load_protocol_dataset(p, None, "cpu"))
    np.save(tmp_path / "pool.npy", dataset.train_x.permute(0, 2, 3, 1).numpy())
    _save_heldout(dataset, tmp_path / "heldout")
    truth = dataset.train_y.numpy()
    proj = str(tmp_path / "camp")
    assert main(["cycle", "init", proj, "--pool", f"pool={tmp_path / 'pool.npy'}", "--teacher",
                 str(tmp_path / "al" / "teacher.pt"), "--preset", "smoke", "--seed", str(p.seed)]) == 0

    def true_label(key):
        return dataset.classes[truth[int(key.split("/")[1])]]

    accuracies, lists = [], []
    for cycle in range(p.cycles):
        extra = [] if cycle == 0 else ["--strategy", strategy, "--candidates", str(p.subset)]
        if cycle < p.cycles:
            step = p.initial if cycle == 0 else p.step
            assert main(["cycle", "pick", proj, "-k", str(step), *extra]) == 0
            rnd = cycle + 1
            csv_for_round(f"{proj}/rounds/round-{rnd}/tasks.json", tmp_path / f"labels-{rnd}.csv", true_label)
            assert main(["cycle", "import", proj, str(tmp_path / f"labels-{rnd}.csv")]) == 0
        assert main(["cycle", "train", proj, "--method", "kd", "--heldout", str(tmp_path / "heldout"),
                     "--device", "cpu"]) == 0
        state = json.loads(Path(proj, "campaign.json").read_text())
        lists.append([int(k.split("/")[1]) for r in state["rounds"] for k in r["picked"]])
        accuracies.append(state["models"][-1]["heldout_accuracy"]["float"])
    for cycle, rec in enumerate(results):
        n = rec["n_labeled"]
        assert lists[cycle] == final[:n], f"cycle {cycle}: the campaign labeled other images than fdal al"
        assert accuracies[cycle] == rec["accuracy"], f"cycle {cycle}: accuracy {accuracies[cycle]} vs {rec['accuracy']}"
    # The last cycle's float student and decoder, weight for weight (fdal al keeps only the last).
    ours = torch.load(f"{proj}/models/round-{p.cycles}/student.pt", weights_only=True)
    theirs = torch.load(tmp_path / "al" / "models" / f"{method}-trial0.pt", weights_only=True)
    for part in ("student", "decoder"):
        assert ours[part].keys() == theirs[part].keys()
        for name, value in theirs[part].items():
            assert torch.equal(ours[part][name], value), f"{part}.{name} differs"
    print("parity", method, [(r["n_labeled"], r["accuracy"]) for r in results], accuracies)
