"""fdal.training.teacher: training learns, evaluate is right, checkpoints round-trip."""
import pytest

torch = pytest.importorskip("torch")
from fdal.training.data import make_synthetic, pixels_to_unit_float  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402
from fdal.training.teacher import evaluate, load_teacher, save_teacher, train_teacher  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def trained():
    seed = 0
    ds = make_synthetic(num_classes=10, n_train=1000, n_test=300, seed=seed)
    model, history = train_teacher(ds, arch="small", epochs=3, batch_size=64, device="cpu",
                                   seed=seed, progress=False)
    return ds, model, history, seed


def test_training_raises_accuracy_well_above_chance(trained):
    ds, model, history, seed = trained
    assert len(history) == 3
    assert history[-1]["test_acc"] >= 0.35, f"seed {seed}: {history}"  # chance is 0.1
    assert history[-1]["loss"] < history[0]["loss"], f"seed {seed}: {history}"
    # The model carries the dataset's statistics, not the CIFAR-10 defaults.
    assert torch.allclose(model.mean, torch.tensor(ds.mean, dtype=torch.float32))


def test_evaluate_matches_a_manual_count(trained):
    ds, model, _, _ = trained
    with torch.no_grad():
        pred = model(pixels_to_unit_float(ds.test_x))[1].argmax(1)
    expected = (pred == ds.test_y).float().mean().item()
    assert evaluate(model, ds.test_x, ds.test_y, batch_size=77) == pytest.approx(expected)
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, ds.test_x, ds.test_y[:3])


def test_save_load_roundtrip(trained, tmp_path):
    ds, model, _, _ = trained
    path = tmp_path / "teacher.pt"
    save_teacher(model, path, {"dataset": "synthetic", "test_acc": 0.5})
    loaded = load_teacher(path, "cpu")
    assert loaded.arch == "small" and loaded.num_classes == 10 and not loaded.training
    assert loaded.meta == {"dataset": "synthetic", "test_acc": 0.5}
    x = pixels_to_unit_float(ds.test_x[:16])
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(loaded.mean, model.mean) and torch.equal(loaded.std, model.std)


def test_load_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a teacher checkpoint"):
        load_teacher(path)


def test_save_rejects_unserializable_meta(tmp_path):
    with pytest.raises(TypeError):
        save_teacher(Teacher(arch="small"), tmp_path / "t.pt", {"bad": object()})


def test_bad_schedule_is_a_value_error():
    ds = make_synthetic(n_train=20, n_test=0)
    with pytest.raises(ValueError, match="schedule"):
        train_teacher(ds, arch="small", epochs=1, schedule="step", progress=False)
