"""Fixtures of the campaign tests: a small generated dataset saved as a folder of PNG files and as a
.npy pool, a held-out folder, and a small teacher that stores its class names."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

N_CLASSES, N_POOL, N_TEST = 4, 160, 40


class Data:
    def __init__(self, root: Path):
        from PIL import Image
        from fdal.training.data import make_synthetic
        ds = make_synthetic(N_CLASSES, N_POOL, N_TEST, seed=3)
        self.classes = list(ds.classes)
        self.x = ds.train_x.permute(0, 2, 3, 1).numpy()
        self.y = ds.train_y.numpy()
        self.folder = root / "photos"
        for i, img in enumerate(self.x):  # two sub-folders: keys keep the relative path
            sub = self.folder / ("a" if i % 2 == 0 else "b")
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(sub / f"{i:04d}.png")
        self.npy = root / "pool.npy"
        np.save(self.npy, self.x)
        self.heldout = root / "heldout"
        for i, (img, y) in enumerate(zip(ds.test_x.permute(0, 2, 3, 1).numpy(), ds.test_y.tolist())):
            d = self.heldout / self.classes[y]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i:04d}.png")
        self.dataset = ds

    def row(self, key: str) -> int:
        """The generated image a key names (photos/a/0012.png or pool/12)."""
        last = key.rsplit("/", 1)[1]
        return int(last.split(".")[0])

    def label(self, key: str) -> str:
        return self.classes[self.y[self.row(key)]]


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    pytest.importorskip("PIL")
    pytest.importorskip("torch")
    return Data(tmp_path_factory.mktemp("cycle-data"))


@pytest.fixture(scope="session")
def teacher(data, tmp_path_factory):
    """A 'small' teacher, one epoch: fast, and it stores the class names."""
    import torch
    from fdal.training.teacher import save_teacher, train_teacher
    torch.manual_seed(0)
    model, _ = train_teacher(data.dataset, arch="small", epochs=1, seed=0, progress=False, eval_every=1)
    path = tmp_path_factory.mktemp("cycle-teacher") / "teacher.pt"
    save_teacher(model, path)
    return str(path)


def run(*argv) -> int:
    from fdal.cli import main
    return main([str(a) for a in argv])


@pytest.fixture
def campaign(tmp_path, data, teacher):
    """A new campaign over the PNG folder (seed 0, smoke recipe)."""
    proj = tmp_path / "camp"
    assert run("cycle", "init", proj, "--pool", data.folder, "--teacher", teacher, "--preset", "smoke") == 0
    return proj


