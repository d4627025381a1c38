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


def test_fdal_losses_finite_and_falling_decoder_stepped(toy, monkeypatch):
    ds, teacher = toy
    labeled, unlabeled = np.arange(64), np.arange(64, 150)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    # Record the decoder's real initial weights as train_cycle builds it (not rebuilt from the seed).
    from fdal.training import models as fmodels
    made = []

    class RecordingDecoder(fmodels.Decoder):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append({k: v.detach().clone() for k, v in self.state_dict().items()})

    monkeypatch.setattr(fmodels, "Decoder", RecordingDecoder)  # train_cycle looks it up at call time
    out = train_cycle("fdal", ds, labeled, unlabeled, cfg(8, adv_start_epoch=4), seed=SEED, teacher=teacher)
    assert len(made) == 1 and isinstance(out.decoder, RecordingDecoder), "train_cycle built no decoder"
    decoder_init = made[0]
    h = out.history
    assert len(h) == 8
    for epoch in h:
        for k, v in epoch.items():
            assert np.isfinite(v), f"{k} not finite at epoch {epoch['epoch']} (seed {SEED})"
    for term in ("ce", "feature", "logit"):
        assert h[-1][term] < h[0][term], f"{term} did not fall: {h[0][term]} -> {h[-1][term]} (seed {SEED})"
    # the adversarial term and the sampler's training only from adv_start_epoch on
    assert {"adversarial", "sampler"}.isdisjoint(h[3]) and {"adversarial", "sampler"} <= set(h[4])
    # the reference code never stepped the decoder
    changed = [k for k, v in out.decoder.state_dict().items() if not torch.equal(v, decoder_init[k])]
    assert changed, f"decoder parameters never changed (seed {SEED})"
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), f"teacher changed: {k}"


def test_kd_mode_distills_without_sampler_or_unlabeled_batches(toy):
    ds, teacher = toy
    # An empty unlabeled pool is fine: the kd mode never draws unlabeled batches.
    out = train_cycle("kd", ds, np.arange(64), [], cfg(4, adv_start_epoch=0), seed=SEED, teacher=teacher)
    assert out.sampler is None and out.decoder is not None
    for epoch in out.history:
        assert {"ce", "feature", "logit", "total"} == set(epoch) - {"epoch"}, epoch
    assert out.history[-1]["feature"] < out.history[0]["feature"], f"seed {SEED}"
    with pytest.raises(ValueError, match="'kd' needs a teacher"):
        train_cycle("kd", ds, np.arange(64), [], cfg(1), seed=SEED)


def test_ablation_methods_use_the_intended_training_modes():
    from fdal.training.strategies import training_mode
    assert {m: training_mode(m) for m in ("kd_random", "kd_entropy", "fdal_random", "fdal")} == \
        {"kd_random": "kd", "kd_entropy": "kd", "fdal_random": "fdal", "fdal": "fdal"}


def test_sampler_learns_to_separate_labeled_from_unlabeled(toy):
    ds, teacher = toy
    labeled, unlabeled = np.arange(100), np.arange(100, 150)
    x = ds.train_x.clone()
    x[unlabeled] //= 4  # a much darker unlabeled group: easy to tell apart
    ds = dataclasses.replace(ds, train_x=x)
    # The reference's SGD sampler learns slowly: the whole run at lr 0.01 (no milestone: its schedule
    # counts two steps per epoch, 10 in 6 epochs), from epoch 0, and the adversarial term (weight 0)
    # does not fight it.
    out = train_cycle("fdal", ds, labeled, unlabeled, cfg(6, adv_start_epoch=0, adversarial_weight=0.0,
                                                          milestones=(12,)), seed=SEED, teacher=teacher)
    with torch.no_grad():
        s_l = out.sampler(out.student(x[labeled].float() / 255)[0]).numpy()
        s_u = out.sampler(out.student(x[unlabeled].float() / 255)[0]).numpy()
    auc = (s_l[:, None] > s_u[None, :]).mean()
    print(f"sampler AUC {auc:.3f}")
    assert auc > 0.9, f"sampler AUC {auc:.3f} (seed {SEED})"
    assert s_l.mean() > 0.5 > s_u.mean(), f"means {s_l.mean():.3f} / {s_u.mean():.3f} (seed {SEED})"


def test_fdal_equals_kd_until_adv_start_epoch(toy):
    ds, teacher = toy
    labeled, unlabeled = np.arange(48), np.arange(48, 150)
    kd = train_cycle("kd", ds, labeled, unlabeled, cfg(3, adv_start_epoch=2), seed=SEED, teacher=teacher)
    fd = train_cycle("fdal", ds, labeled, unlabeled, cfg(3, adv_start_epoch=2), seed=SEED, teacher=teacher)
    # no sampler training, no adversarial term and no unlabeled batch before adv_start_epoch
    assert fd.history[:2] == kd.history[:2]
    assert {"adversarial", "sampler"} <= set(fd.history[2])


def test_sampler_uses_the_students_sgd_recipe(toy, monkeypatch):
    ds, teacher = toy
    made = []

    class RecordingSGD(torch.optim.SGD):
        def __init__(self, params, **kw):
            super().__init__(params, **kw)
            made.append((self, kw))

    def no_adam(*a, **k):
        raise AssertionError("the fdal mode must not use Adam")

    monkeypatch.setattr(torch.optim, "SGD", RecordingSGD)
    monkeypatch.setattr(torch.optim, "Adam", no_adam)
    c = cfg(4)
    assert c.milestones == (2, 3)  # so the lr ends at lr * gamma^2
    out = train_cycle("fdal", ds, np.arange(32), np.arange(32, 150), c, seed=SEED, teacher=teacher)
    sampler_ids = [id(p) for p in out.sampler.parameters()]
    mine = [(o, kw) for o, kw in made if [id(p) for p in o.param_groups[0]["params"]] == sampler_ids]
    assert len(mine) == 1, "no SGD over exactly the sampler's parameters"
    sampler_opt, kw = mine[0]
    assert kw == dict(lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    assert sampler_opt.param_groups[0]["lr"] == pytest.approx(c.lr * c.lr_gamma ** 2)


def test_adversarial_and_sampler_losses_are_means_of_two_bces(toy):
    from fdal.training.student_training import adversarial_loss, sampler_loss
    ds, teacher = toy
    # lr 0: nothing moves, so one full batch per epoch gives the history's terms from the final models
    labeled, unlabeled = np.arange(12), np.arange(12, 24)
    c = cfg(2, adv_start_epoch=0, lr=0.0, augment=False)
    out = train_cycle("fdal", ds, labeled, unlabeled, c, seed=SEED, teacher=teacher)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    with torch.no_grad():
        zl = out.student(ds.train_x[labeled].float() / 255)[0]
        zu = out.student(ds.train_x[unlabeled].float() / 255)[0]
        ll, lu = out.sampler.logit(zl), out.sampler.logit(zu)
        adv = (bce(ll, torch.ones_like(ll)) + bce(lu, torch.ones_like(lu))) / 2
        own = (bce(ll, torch.ones_like(ll)) + bce(lu, torch.zeros_like(lu))) / 2
        assert float(adversarial_loss(out.sampler, zl, zu)) == pytest.approx(float(adv), rel=1e-6)
        assert float(sampler_loss(out.sampler, zl, zu)) == pytest.approx(float(own), rel=1e-6)
    assert out.history[-1]["adversarial"] == pytest.approx(float(adv), rel=1e-5)
    assert out.history[-1]["sampler"] == pytest.approx(float(own), rel=1e-5)


def test_sampler_steps_on_features_recomputed_after_the_students_step(toy, monkeypatch):
    from fdal.training import data as fdata
    from fdal.training import student_training
    ds, teacher = toy
    grad_flags, augmented = [], []
    real_augment, real_make = fdata.augment, student_training.make_student

    def hooked_student(arch, dataset):
        student = real_make(arch, dataset)
        student.register_forward_hook(lambda m, i, o: grad_flags.append(torch.is_grad_enabled()))
        return student

    monkeypatch.setattr(fdata, "augment", lambda x, g: augmented.append(len(x)) or real_augment(x, g))
    monkeypatch.setattr(student_training, "make_student", hooked_student)
    c = cfg(1, adv_start_epoch=0)
    train_cycle("fdal", ds, np.arange(2 * c.batch_size), np.arange(64, 150), c, seed=SEED, teacher=teacher)
    # per labeled batch: the student's forward on it and on an unlabeled batch (with grad), then on
    # both again without grad, after the student's step, for the sampler's step
    assert grad_flags == [True, True, False, False] * 2
    assert augmented == [c.batch_size] * 2, "only the labeled batches are augmented"


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


def test_labeled_batches_drop_the_partial_last_batch():
    from fdal.training.student_training import labeled_batches
    sizes = lambda n, b: [len(t) for t in labeled_batches(torch.arange(n), b)]  # noqa: E731
    assert sizes(1000, 128) == [128] * 7  # the reference's DataLoader(drop_last=True): 7 steps, not 8
    assert sizes(256, 128) == [128, 128]
    assert sizes(50, 128) == [50]  # smaller than a batch: one batch, so the cycle still trains
    assert torch.equal(torch.cat(labeled_batches(torch.arange(300), 128)), torch.arange(256))


@pytest.mark.parametrize("mode", ["ce", "kd", "fdal", "ll4al", "vaal"])
def test_every_mode_takes_one_step_per_full_batch(toy, mode, monkeypatch):
    ds, teacher = toy
    steps = []
    real_step = torch.optim.SGD.step

    def counting_step(self, *a, **k):
        steps.append(len(self.param_groups[0]["params"]))
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.SGD, "step", counting_step)
    c = cfg(1, adv_start_epoch=1)  # no sampler step: one SGD step per labeled batch
    train_cycle(mode, ds, np.arange(40), np.arange(40, 150), c, seed=SEED, teacher=teacher)
    assert len(steps) == 40 // c.batch_size == 2, f"{mode}: {len(steps)} steps for 40 labels in batches of 16"


@pytest.fixture
def restore_determinism_flags():
    flags = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    yield
    torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
    (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
     torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) = flags[2:]


def test_deterministic_option_sets_the_cuda_flags(toy, restore_determinism_flags):
    ds, _ = toy
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    plain = train_cycle("ce", ds, np.arange(32), np.arange(32, 150), cfg(1), seed=SEED)
    assert not torch.are_deterministic_algorithms_enabled()
    det = train_cycle("ce", ds, np.arange(32), np.arange(32, 150), cfg(1, deterministic=True), seed=SEED)
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    for k, v in plain.student.state_dict().items():  # on the CPU both were deterministic already
        assert torch.equal(v, det.student.state_dict()[k]), k


def test_al_command_passes_deterministic_into_the_protocol(monkeypatch, tmp_path):
    from fdal.cli import build_parser
    from fdal.training import runner

    class Captured(Exception):
        pass

    def capture(p, *a, **k):
        raise Captured(p)

    monkeypatch.setattr(runner, "run_protocol", capture)
    for argv, expected in ((["--deterministic"], True), ([], False)):
        args = build_parser().parse_args(["al", "--preset", "smoke", "--out", str(tmp_path), *argv])
        with pytest.raises(Captured) as got:
            args.func(args)
        assert got.value.args[0].train.deterministic is expected
