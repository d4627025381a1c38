"""What BADGE, TypiClust and ProbCover embed with, and the runner giving them a teacher."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training import runner  # noqa: E402
from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.models import Student, Teacher  # noqa: E402
from fdal.training.protocols import PRESETS  # noqa: E402
from fdal.training.strategies import METHODS, SelectionContext, needs_teacher, select, training_mode  # noqa: E402
from fdal.training.strategies.base import PRETRAINED_EMBEDDINGS, pretrained_embedding  # noqa: E402
from fdal.training.student_training import CycleModels, FdalConfig  # noqa: E402

# The smoke preset shrunk to seconds: 20 + 20 -> 60 labels, one epoch, a one-epoch teacher.
TINY = PRESETS["smoke"].replace(name="tiny-baselines", initial=20, step=20, final=60, subset=50,
                                train=FdalConfig(batch_size=16).scaled(1), teacher_epochs=1,
                                synthetic=(4, 160, 40))


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_the_new_methods_train_with_ce_and_two_embed_with_the_teacher():
    assert [training_mode(m) for m in ("badge", "typiclust", "probcover")] == ["ce"] * 3
    assert needs_teacher("typiclust") and needs_teacher("probcover") and needs_teacher("fdal")
    assert not needs_teacher("badge") and not needs_teacher("random")
    assert all(needs_teacher(m) for m in METHODS if training_mode(m) == "fdal")


def test_pretrained_embedding_is_the_teachers_when_there_is_one():
    torch.manual_seed(0)
    ds = make_synthetic(num_classes=4, n_train=10, n_test=2, seed=0)
    models = CycleModels("ce", Student(4))
    idx = np.arange(10)
    feats, source = pretrained_embedding(SelectionContext(ds, idx[:2], models, batch_size=4), idx)
    assert source == "student" and feats.shape == (10, 256) and source in PRETRAINED_EMBEDDINGS
    teacher = Teacher(4, "small").eval()
    feats, source = pretrained_embedding(SelectionContext(ds, idx[:2], models, batch_size=4, teacher=teacher), idx)
    assert source == "teacher" and feats.shape == (10, 512)
    from fdal.training import data as fdata
    with torch.no_grad():
        want = teacher(fdata.pixels_to_unit_float(ds.train_x))[0].flatten(1)
    torch.testing.assert_close(feats, want)


def test_runner_trains_a_teacher_for_typiclust_alone_and_hands_it_to_selection(tmp_path, monkeypatch):
    seen = []

    def recording_select(name, ctx, candidates, budget, seed):
        seen.append(ctx.teacher)
        return select(name, ctx, candidates, budget, seed)

    monkeypatch.setattr(runner, "select", recording_select)
    res = runner.run_protocol(TINY, ["typiclust"], None, tmp_path, progress=False)
    assert [r["n_labeled"] for r in res] == [20, 40, 60]
    assert (tmp_path / "teacher.pt").exists() and len(seen) == 2
    assert all(isinstance(t, Teacher) for t in seen)
    ck = json.loads((tmp_path / "checkpoints" / "typiclust-trial0.json").read_text())
    assert len(set(ck["labeled"])) == 60


def test_runner_trains_no_teacher_for_badge(tmp_path):
    runner.run_protocol(TINY, ["badge"], None, tmp_path, progress=False)
    assert not (tmp_path / "teacher.pt").exists()
