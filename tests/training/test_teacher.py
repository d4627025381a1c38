"""fdal.training.teacher: training learns, evaluate is right, checkpoints round-trip."""
import pytest

torch = pytest.importorskip("torch")
from fdal.training.data import make_synthetic, pixels_to_unit_float  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402
from fdal.training.teacher import describe, evaluate, load_teacher, save_teacher, train_teacher  # noqa: E402

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
    assert loaded.meta == {"dataset": "synthetic", "test_acc": 0.5, "recipe": model.recipe}
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


def test_recipe_is_recorded_saved_and_described(trained, tmp_path):
    ds, model, _, seed = trained
    r = model.recipe
    assert (r["arch"], r["epochs"], r["batch_size"], r["schedule"], r["seed"]) == ("small", 3, 64, "onecycle", seed)
    assert r["lr"] == pytest.approx(0.1 * 64 / 256) and r["label_smoothing"] == 0.1
    assert r["train_images"] == 1000 and r["labels"] == "all 1000 training labels of synthetic"
    save_teacher(model, tmp_path / "t.pt")
    loaded = load_teacher(tmp_path / "t.pt")
    assert loaded.recipe == r
    text = describe(loaded)
    assert text.startswith("small teacher, logit scale 0.25; epochs 3, batch_size 64, lr 0.025, schedule onecycle")
    assert "label_smoothing 0.1" in text and "train_images 1000" in text


def test_logit_scale_is_stored_in_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = Teacher(3, "small", logit_scale=0.5).eval()
    save_teacher(model, tmp_path / "t.pt")
    loaded = load_teacher(tmp_path / "t.pt")
    assert loaded.logit_scale == 0.5
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x)[1], loaded(x)[1])
    assert "logit scale 0.5, training recipe not recorded" in describe(loaded)


def test_format_1_checkpoint_loads_with_its_logit_scale_of_0_25(tmp_path):
    torch.manual_seed(0)
    model = Teacher(3, "small").eval()
    path = tmp_path / "old.pt"
    torch.save({"format": "fdal-teacher-1", "arch": "small", "num_classes": 3,
                "mean": [float(v) for v in model.mean], "std": [float(v) for v in model.std],
                "state_dict": model.state_dict(), "meta": {"epochs": 60}}, path)
    loaded = load_teacher(path)
    assert loaded.logit_scale == 0.25 and loaded.meta == {"epochs": 60} and loaded.recipe is None
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x)[1], loaded(x)[1])


def test_unknown_format_is_refused_by_name(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": "fdal-teacher-9"}, path)
    with pytest.raises(ValueError, match="format 'fdal-teacher-9'"):
        load_teacher(path)


def test_progress_bar_shows_test_accuracy_only_once_measured(monkeypatch):
    import fdal.training.teacher as fteacher
    postfixes = []

    class Bar:  # records what the bar would show
        def __init__(self, *args, **kwargs):
            pass

        def update(self, n):
            pass

        def set_postfix(self, **kwargs):
            postfixes.append(kwargs)

        def close(self):
            pass

    monkeypatch.setattr(fteacher, "tqdm", Bar)
    ds = make_synthetic(num_classes=10, n_train=128, n_test=64, seed=0)
    train_teacher(ds, arch="small", epochs=2, batch_size=64, device="cpu", seed=0, eval_every=2)
    assert "test" not in postfixes[0]  # epoch 1: not measured yet, so no test=nan
    assert postfixes[-1]["test"] != "nan" and float(postfixes[-1]["test"]) >= 0
