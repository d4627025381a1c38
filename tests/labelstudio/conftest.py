"""The `label_studio` fixture: one real Label Studio server per test session (labelstudio_server.py), shared by
the tests here; each test makes its own project and keeps its images in its own folder under the
server's document root (`ls_images`). Outside CI the tests skip when the server's venv is absent;
in CI (CI=true or FDAL_REQUIRE_LABEL_STUDIO=1) they fail."""
from __future__ import annotations

import numpy as np
import pytest

from . import labelstudio_server as ls_server


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    venv = ls_server.venv_path()
    if not (venv / "bin" / "label-studio").exists() and not ls_server.required():
        pytest.skip(f"no Label Studio venv at {venv}: create it with .ci/labelstudio_venv.sh (or set FDAL_LS_VENV)")
    root, data_dir = tmp_path_factory.mktemp("ls-document-root"), tmp_path_factory.mktemp("ls-data")
    try:
        server = ls_server.start(venv, data_dir, root)
    except ls_server.StartFailed as exc:
        pytest.fail(f"Label Studio did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ls_images(label_studio, request):
    """This test's own folder under the server's document root."""
    folder = label_studio.document_root / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir()
    return folder


N_CLASSES, N_POOL, N_HELDOUT = 3, 300, 90


class Shapes:
    """The quickstart's generated shapes (training/data/synthetic.py) as PNG files under the
    server's document root: photos/<row>.png (the pool) and heldout/<class>/<row>.png; the pool
    also as a .npy file; and a teacher trained on them that stores the class names."""

    def __init__(self, root, teacher_dir):
        import torch
        from PIL import Image

        from fdal.training.data import make_synthetic
        from fdal.training.teacher import save_teacher, train_teacher
        ds = make_synthetic(N_CLASSES, N_POOL, N_HELDOUT, seed=1)
        self.classes = list(ds.classes)
        self.y = ds.train_y.numpy()
        self.photos, self.heldout = root / "photos", root / "heldout"
        self.photos.mkdir()
        pixels = ds.train_x.permute(0, 2, 3, 1).numpy()
        for i, img in enumerate(pixels):
            Image.fromarray(img).save(self.photos / f"{i:04d}.png")
        self.npy = teacher_dir / "shapes.npy"  # a .npy pool (outside the document root: pick writes PNGs)
        np.save(self.npy, pixels)
        for i, (img, y) in enumerate(zip(ds.test_x.permute(0, 2, 3, 1).numpy(), ds.test_y.tolist())):
            folder = self.heldout / self.classes[y]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:04d}.png")
        torch.manual_seed(0)
        model, _ = train_teacher(ds, arch="small", epochs=TEACHER_EPOCHS, seed=0, progress=False, eval_every=TEACHER_EPOCHS)
        self.teacher = teacher_dir / "teacher.pt"
        save_teacher(model, self.teacher)

    def label(self, key: str) -> str:
        """The true class of a campaign key (photos/0012.png)."""
        return self.classes[self.y[int(key.rsplit("/", 1)[1].split(".")[0])]]


TEACHER_EPOCHS = 4


@pytest.fixture(scope="session")
def shapes(label_studio, tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("PIL")
    root = label_studio.document_root / "shapes"
    root.mkdir()
    return Shapes(root, tmp_path_factory.mktemp("teacher"))


def run(*argv) -> int:
    from fdal.cli import main
    return main([str(a) for a in argv])
