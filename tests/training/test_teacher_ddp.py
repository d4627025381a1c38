"""The teacher on 2 CPU processes with DistributedDataParallel (gloo): it trains, saves, loads."""
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import torch.distributed as dist  # noqa: E402

from fdal.training import teacher_ddp  # noqa: E402
from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.teacher import load_teacher  # noqa: E402

# The smoke preset's teacher: synthetic (4 classes, 400 training and 100 test images), small arch, 2 epochs.
RECIPE = dict(arch="small", epochs=2, batch_size=64, seed=0)


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch built without gloo")
def test_two_gloo_processes_train_a_loadable_teacher(tmp_path):
    ds = make_synthetic(4, 400, 100, seed=0)
    out = tmp_path / "teacher.pt"
    teacher_ddp.launch(ds, 2, out, "cpu", threads=1, meta={"dataset": "synthetic"}, **RECIPE)
    model = load_teacher(out)
    assert model.num_classes == 4 and model.meta["processes"] == 2 and model.meta["dataset"] == "synthetic"
    assert model.recipe["batch_size"] == 64 and model.recipe["processes"].startswith("2 (DistributedDataParallel; 32")
    history = model.meta["history"]
    assert [h["epoch"] for h in history] == [1, 2] and history[-1]["loss"] < history[0]["loss"], history
    assert 0.4 <= model.meta["test_acc"] <= 1.0, history  # chance is 0.25; one process reaches 0.64


def test_a_batch_that_does_not_split_is_one_line(tmp_path, capsys):
    from fdal.cli import main
    assert main(["train-teacher", "--dataset", "synthetic", "--arch", "small", "--out", str(tmp_path / "t.pt"),
                 "--device", "cpu", "--nproc", "3", "--batch-size", "64"]) == 1
    assert capsys.readouterr().err.strip() == \
        "fdal: error: --batch-size 64 does not split evenly over 3 processes; use a multiple of 3"
    assert not (tmp_path / "t.pt").exists()


def test_more_cuda_ranks_than_gpus_is_one_line(tmp_path, capsys, monkeypatch):
    from fdal.cli import main
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a 1-GPU machine, as far as the check sees
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert main(["train-teacher", "--dataset", "synthetic", "--device", "cuda", "--nproc", "2",
                 "--out", str(tmp_path / "t.pt")]) == 1
    assert capsys.readouterr().err.strip() == \
        "fdal: error: --nproc 2: CUDA ranks need one GPU each and this machine has 1"


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_nproc_must_be_positive(capsys, value):
    from fdal.cli import main
    with pytest.raises(SystemExit):
        main(["train-teacher", "--dataset", "synthetic", f"--nproc={value}"])
    assert "argument --nproc: expected a positive integer" in capsys.readouterr().err.strip().splitlines()[-1]
