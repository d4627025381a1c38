"""Runner methods "<mode>+<strategy>[@embedding]": the cycle's models exported to int8 and the picks
made by the runtime itself (training/strategies/on_device.py)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import fdal  # noqa: E402
from fdal.format import write_model  # noqa: E402
from fdal.oracle.pool_select import pool_select  # noqa: E402
from fdal.training.data import calibration_images, make_synthetic  # noqa: E402
from fdal.training.data.runtime_images import images_nhwc  # noqa: E402
from fdal.training.int8_export import export  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402
from fdal.training.strategies import SelectionContext, needs_teacher, select, training_mode  # noqa: E402
from fdal.training.strategies.on_device import CALIBRATION_IMAGES  # noqa: E402
from fdal.training.student_training import FdalConfig, train_cycle  # noqa: E402

SEED = 4321
BUDGET = 10


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    ds = make_synthetic(num_classes=4, n_train=160, n_test=20, seed=SEED)
    rng = np.random.default_rng(SEED)
    labeled = rng.choice(160, size=24, replace=False)
    unlabeled = np.setdiff1d(np.arange(160), labeled)
    candidates = rng.choice(unlabeled, size=60, replace=False)  # not sorted: the runner's order
    torch.manual_seed(SEED)
    teacher = Teacher(4, "small").eval()
    cfg = FdalConfig(batch_size=16).scaled(2)
    cfg = FdalConfig(**{**cfg.__dict__, "adv_start_epoch": 0})
    models = {mode: train_cycle(mode, ds, labeled, unlabeled, cfg, seed=SEED, teacher=teacher)
              for mode in ("ce", "kd", "fdal")}
    return ds, labeled, candidates, models


def _ctx(setup, mode):
    ds, labeled, candidates, models = setup
    return SelectionContext(ds, labeled, models[mode], "cpu", batch_size=25), candidates


def _device_picks(ctx, candidates, strategy, embedding, seed, labeled=False):
    """What a device given this cycle's export would pick, computed here step by step."""
    m = ctx.models
    calib = calibration_images(ctx.dataset, CALIBRATION_IMAGES, seed)
    spec = export(m.student.eval(), None if m.sampler is None else m.sampler.eval(), calib,
                  embedding=embedding, decoder=m.decoder if embedding == "decoder" else None)
    model = fdal.load(write_model(spec))
    pool = np.sort(candidates)
    images = images_nhwc(ctx.dataset.train_x[torch.as_tensor(pool)])
    if strategy == "classbalanced":
        logits = model.forward(images)["logits_raw"].astype(np.int64)
        top = np.sort(logits, axis=1)
        # "@labeled": the labeled set's true class counts, which a device holds as the labels it got.
        counts = (np.bincount(np.asarray(ctx.dataset.train_y)[ctx.labeled]).astype(np.int64)
                  if labeled else None)
        picks = pool_select("classbalanced", None, top[:, -1] - top[:, -2], BUDGET, seed, pool_indices=pool,
                            classes=np.argmax(logits, axis=1).astype(np.int64), labeled_counts=counts,
                            unit=float(np.float32(spec.layers[spec.logits_layer].out_scale)))
    else:
        picks = fdal.rank_pool(model, images, BUDGET, strategy=strategy, seed=seed, cap=len(pool))
    return pool[picks]


@pytest.mark.parametrize("method", ["kd+typiclust", "kd+kcenter@decoder", "fdal+fdal", "ce+power",
                                    "kd+margin", "kd+classbalanced", "kd+classbalanced@labeled", "ce+random"])
def test_picks_are_the_devices(setup, method):
    mode, rest = method.split("+")
    strategy, _, embedding = rest.partition("@")
    ctx, candidates = _ctx(setup, mode)
    picks = select(method, ctx, candidates, BUDGET, seed=SEED)
    assert picks.dtype == np.int64 and len(np.unique(picks)) == BUDGET, f"{method} (seed {SEED})"
    assert np.isin(picks, candidates).all() and not np.isin(picks, ctx.labeled).any(), f"seed {SEED}"
    labeled = embedding == "labeled"
    want = _device_picks(ctx, candidates, strategy, "student" if labeled or not embedding else embedding, SEED,
                         labeled)
    np.testing.assert_array_equal(picks, want, err_msg=f"{method} (seed {SEED})")


def test_picks_do_not_depend_on_candidate_order(setup):
    ctx, candidates = _ctx(setup, "kd")
    a = select("kd+typiclust", ctx, candidates, BUDGET, seed=SEED)
    b = select("kd+typiclust", ctx, candidates[::-1].copy(), BUDGET, seed=SEED)
    np.testing.assert_array_equal(a, b)


def test_modes_and_teacher_needs():
    assert training_mode("kd+typiclust@decoder") == "kd"
    assert training_mode("ce+power") == "ce"
    assert needs_teacher("kd+power") and needs_teacher("fdal+fdal") and not needs_teacher("ce+kcenter")


@pytest.mark.parametrize("bad, msg", [
    ("xx+margin", "unknown training mode 'xx'"),
    ("kd+bogus", "unknown on-device strategy 'bogus'"),
    ("kd+kcenter@teacher", "unknown embedding 'teacher'"),
    ("kd+fdal", "only mode 'fdal' trains"),
    ("ce+kcenter@decoder", "needs mode 'kd' or 'fdal'"),
    ("kd+margin@labeled", "'@labeled' (the labeled set's class counts) is for strategy 'classbalanced' only"),
    ("kdrandom", "unknown method 'kdrandom'"),
])
def test_bad_method_names_are_named(bad, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        training_mode(bad)
