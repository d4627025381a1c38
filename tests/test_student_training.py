"""The FDAL per-cycle trainer: losses, the decoder actually learning, the sampler separating."""
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.student_training import FdalConfig, accuracy, train_cycle  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402

SEED = 7


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    ds = make_synthetic(num_classes=3, n_train=150, n_test=30, seed=SEED)
    torch.manual_seed(SEED)
    return ds, Teacher(3, "small").eval()


def cfg(epochs, **kw):
    return dataclasses.replace(FdalConfig(batch_size=16).scaled(epochs), **kw)


def test_scaled_keeps_schedule_fractions():
    c = FdalConfig().scaled(20)
    assert (c.epochs, c.milestones, c.adv_start_epoch, c.ll4al_detach_epoch) == (20, (8, 15), 2, 12)
    assert FdalConfig().milestones == (80, 150) and FdalConfig().adv_start_epoch == 20


@pytest.mark.parametrize("kw, msg", [(dict(epochs=0), "epochs"), (dict(student_arch="vgg16"), "student_arch"),
                                     (dict(milestones=(5, 2)), "milestones")])
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        FdalConfig(**kw)


def test_fdal_losses_finite_and_falling_decoder_stepped(toy):
    ds, teacher = toy
    labeled, unlabeled = np.arange(64), np.arange(64, 150)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    torch.manual_seed(SEED)  # train_cycle reseeds with `seed`; so the decoder's init is reproducible:
    out = train_cycle("fdal", ds, labeled, unlabeled, cfg(8, adv_start_epoch=4), seed=SEED, teacher=teacher)
    torch.manual_seed(SEED)
    from fdal.training.student_training import make_student
    from fdal.training.models import Decoder
    make_student("vgg11lite", ds)
    decoder_init = Decoder(64, 512).state_dict()
    h = out.history
    assert len(h) == 8
    for epoch in h:
        for k, v in epoch.items():
            assert np.isfinite(v), f"{k} not finite at epoch {epoch['epoch']} (seed {SEED})"
    for term in ("ce", "feature", "logit"):
        assert h[-1][term] < h[0][term], f"{term} did not fall: {h[0][term]} -> {h[-1][term]} (seed {SEED})"
    # the adversarial term only from adv_start_epoch on; the sampler is trained throughout
    assert "adversarial" not in h[3] and "adversarial" in h[4] and "sampler" in h[0]
    # the reference code never stepped the decoder
    changed = [k for k, v in out.decoder.state_dict().items() if not torch.equal(v, decoder_init[k])]
    assert changed, f"decoder parameters never changed (seed {SEED})"
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), f"teacher changed: {k}"


def test_sampler_learns_to_separate_labeled_from_unlabeled(toy):
    ds, teacher = toy
    y = ds.train_y.numpy()
    labeled, unlabeled = np.flatnonzero(y != 2), np.flatnonzero(y == 2)  # easy-to-tell groups
    out = train_cycle("fdal", ds, labeled, unlabeled, cfg(10, adv_start_epoch=10, sampler_lr=1e-2),
                      seed=SEED, teacher=teacher)
    with torch.no_grad():
        s_l = out.sampler(out.student(ds.train_x[labeled].float() / 255)[0]).numpy()
        s_u = out.sampler(out.student(ds.train_x[unlabeled].float() / 255)[0]).numpy()
    auc = (s_l[:, None] > s_u[None, :]).mean()
    print(f"sampler AUC {auc:.3f}")
    assert auc > 0.9, f"sampler AUC {auc:.3f} (seed {SEED})"
    assert s_l.mean() > 0.5 > s_u.mean(), f"means {s_l.mean():.3f} / {s_u.mean():.3f} (seed {SEED})"


def test_ce_training_learns_and_is_deterministic(toy):
    ds, _ = toy
    c = cfg(6)
    a = train_cycle("ce", ds, np.arange(120), np.arange(120, 150), c, seed=SEED)
    b = train_cycle("ce", ds, np.arange(120), np.arange(120, 150), c, seed=SEED)
    for k, v in a.student.state_dict().items():
        assert torch.equal(v, b.student.state_dict()[k]), f"not deterministic: {k}"
    assert a.history[-1]["ce"] < a.history[0]["ce"]
    assert accuracy(a.student, ds.test_x, ds.test_y) > 1 / 3, f"seed {SEED}"
    assert a.sampler is None and a.decoder is None


@pytest.mark.parametrize("mode, extra", [("ll4al", "loss_prediction"), ("vaal", "discriminator")])
def test_baseline_modes_train_their_modules(toy, mode, extra, narrow_vae):
    ds, _ = toy
    out = train_cycle(mode, ds, np.arange(40), np.arange(40, 150), cfg(2), seed=SEED)
    assert extra in out.history[-1] and np.isfinite(out.history[-1][extra])
    assert (out.lossnet is not None) == (mode == "ll4al") and (out.vae is not None) == (mode == "vaal")


@pytest.mark.parametrize("mode, kw, msg", [("bogus", {}, "mode"), ("fdal", {}, "teacher"),
                                           ("vaal", dict(unlabeled=[]), "unlabeled")])
def test_bad_arguments(toy, mode, kw, msg):
    ds, _ = toy
    with pytest.raises(ValueError, match=msg):
        train_cycle(mode, ds, np.arange(10), kw.get("unlabeled", np.arange(10, 20)), cfg(1), seed=0)
