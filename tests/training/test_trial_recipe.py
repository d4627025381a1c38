"""The trial's recipe knobs: per-phase timers, teacher outputs cached per (image, view), and the
two ways of training fdal's sampler (the reference's, today's default, and "whole-pool")."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training import phase_timer, runner  # noqa: E402
from fdal.training.data import make_synthetic, pixels_to_unit_float  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402
from fdal.training.protocols import PRESETS, Protocol  # noqa: E402
from fdal.training.sampler_training import adversarial_loss, reference_sampler_lr, sampler_loss  # noqa: E402
from fdal.training.student_training import FdalConfig, train_cycle  # noqa: E402
from fdal.training.teacher_views import TeacherViews  # noqa: E402

SEED = 11
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    ds = make_synthetic(num_classes=3, n_train=120, n_test=30, seed=SEED)
    torch.manual_seed(SEED)
    return ds, Teacher(3, "small").eval()


def cfg(epochs, **kw):
    return dataclasses.replace(FdalConfig(batch_size=16).scaled(epochs), **kw)


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


# --- phase timer ---------------------------------------------------------------------------------

def test_nested_phases_are_not_counted_twice(monkeypatch):
    clock = iter([0.0, 1.0, 3.0, 10.0, 10.0, 12.0])  # a fake clock: the test times nothing
    monkeypatch.setattr(phase_timer.time, "perf_counter", lambda: next(clock))
    t = phase_timer.PhaseTimer()
    with t.phase("student"):          # 0 .. 10
        with t.phase("teacher"):      # 1 .. 3
            pass
    with t.phase("data"):             # 10 .. 12
        pass
    assert t.seconds == {"student": 8.0, "teacher": 2.0, "data": 2.0}


def test_timing_a_cycle_changes_nothing_it_trains(toy):
    ds, teacher = toy
    c = cfg(2, adv_start_epoch=1)
    plain = train_cycle("fdal", ds, np.arange(40), np.arange(40, 120), c, seed=SEED, teacher=teacher)
    timer = phase_timer.PhaseTimer()
    timed = train_cycle("fdal", ds, np.arange(40), np.arange(40, 120), c, seed=SEED, teacher=teacher, timer=timer)
    for a, b in ((plain.student, timed.student), (plain.decoder, timed.decoder), (plain.sampler, timed.sampler)):
        wa, wb = weights(a), weights(b)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert {"data", "teacher", "decoder", "student", "sampler"} <= set(timer.seconds)
    # the decoder's hooks are removed: a later forward is not counted
    before = dict(timer.seconds)
    timed.decoder(torch.zeros(1, 64, 2, 2))
    assert timer.seconds == before


# --- teacher outputs per (image, view) ----------------------------------------------------------

def test_teacher_views_are_fixed_per_image_and_computed_once(toy):
    ds, teacher = toy
    calls = []
    teacher.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    try:
        a = TeacherViews(teacher, ds.train_x, views=3, seed=5)
        b = TeacherViews(teacher, ds.train_x, views=3, seed=5)
        g = torch.Generator().manual_seed(SEED)
        a.batch(torch.tensor([4, 9, 4]), g)
        a.batch(torch.tensor([9, 17]), g)
        assert a.forwards == 3 * 3 and calls == [6, 3], "each image's views go through the teacher once"
        b.batch(torch.tensor([17, 9, 4]), g)  # another order, another batch: the same views
        for i in (4, 9, 17):
            assert torch.equal(a.params[a.row[i]], b.params[b.row[i]])
            assert torch.equal(a.logits[a.row[i]], b.logits[b.row[i]])
        assert not torch.equal(a.params[a.row[4]], TeacherViews(teacher, ds.train_x, 3, seed=6)._views_of(4))
        # what a batch returns is a view of the image with the teacher's outputs for that very view
        x, feat, logits = a.batch(torch.tensor([4, 9, 17, 4]), g)
        with torch.no_grad():
            want_feat, want_logits = teacher(pixels_to_unit_float(x))
        assert torch.allclose(feat, want_feat, atol=1e-5) and torch.allclose(logits, want_logits, atol=1e-5)
        assert len(calls) == 4  # (the check above ran the teacher itself)
    finally:
        teacher._forward_hooks.clear()
    plain = TeacherViews(teacher, ds.train_x, views=2, seed=5, augment=False)
    x, _, _ = plain.batch(torch.tensor([3, 8]), g)
    assert torch.equal(x, ds.train_x[[3, 8]]), "without augmentation every view is the image itself"


def test_cycles_sharing_a_cache_run_the_teacher_only_on_new_images(toy):
    ds, teacher = toy
    views = TeacherViews(teacher, ds.train_x, views=4, seed=2)
    c = cfg(3, teacher_views=4, decoder_hidden=8)
    out = train_cycle("kd", ds, np.arange(32), np.arange(32, 120), c, seed=1, teacher=teacher, teacher_views=views)
    assert views.forwards == 32 * 4 and out.decoder.net[0].out_channels == 8
    train_cycle("kd", ds, np.arange(48), np.arange(48, 120), c, seed=2, teacher=teacher, teacher_views=views)
    assert views.forwards == 48 * 4, "the second cycle computed only its 16 new images"
    with pytest.raises(ValueError, match="teacher_views"):
        FdalConfig(teacher_views=-1)


def test_a_resumed_cached_view_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    p = Protocol("tiny-views", "synthetic", 20, 20, 60, subset=50,
                 train=FdalConfig(batch_size=16, teacher_views=3, decoder_hidden=16).scaled(1),
                 teacher_arch="small", teacher_epochs=1, seed=3, synthetic=(4, 160, 40))
    full = runner.run_protocol(p, ["kd_random"], None, tmp_path / "a", progress=False)
    real, calls = runner.run_cycle, {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_cycle", crashing)
    with pytest.raises(KeyboardInterrupt):
        runner.run_protocol(p, ["kd_random"], None, tmp_path / "b", progress=False)
    monkeypatch.setattr(runner, "run_cycle", real)
    resumed = runner.run_protocol(p, ["kd_random"], None, tmp_path / "b", progress=False)
    assert [r["accuracy"] for r in resumed] == [r["accuracy"] for r in full]
    a, b = (torch.load(tmp_path / d / "models" / "kd_random-trial0.pt") for d in "ab")
    assert all(torch.equal(v, b["student"][k]) for k, v in a["student"].items())
    assert {"teacher", "decoder", "student", "evaluation"} <= set(full[0]["phase_seconds"])


# --- fdal's sampler: the reference's recipe and "whole-pool" --------------------------------------

def sampler_steps(monkeypatch):
    """Record (optimizer, [grad of each parameter]) at every SGD step."""
    seen = []
    real = torch.optim.SGD.step

    def recording(self, *a, **k):
        seen.append((self, [None if p.grad is None else p.grad.clone() for p in self.param_groups[0]["params"]]))
        return real(self, *a, **k)
    monkeypatch.setattr(torch.optim.SGD, "step", recording)
    return seen


@pytest.mark.parametrize("recipe", ["reference", "whole-pool"])
def test_the_sampler_steps_as_its_recipe_says(toy, monkeypatch, recipe):
    ds, teacher = toy
    seen = sampler_steps(monkeypatch)
    # lr 0: nothing moves, so the gradients can be recomputed from the final models; one full
    # labeled and one full unlabeled batch per epoch, no augmentation
    labeled, unlabeled = np.arange(12), np.arange(12, 24)
    c = cfg(2, adv_start_epoch=1, lr=0.0, augment=False, sampler_training=recipe)
    out = train_cycle("fdal", ds, labeled, unlabeled, c, seed=SEED, teacher=teacher)
    ids = [id(p) for p in out.sampler.parameters()]
    mine = [grads for opt, grads in seen if [id(p) for p in opt.param_groups[0]["params"]] == ids]
    with torch.no_grad():
        zl = out.student(pixels_to_unit_float(ds.train_x[labeled]))[0]
        zu = out.student(pixels_to_unit_float(ds.train_x[unlabeled]))[0]

    def grads_of(loss):
        out.sampler.zero_grad(set_to_none=True)
        loss.backward()
        return [p.grad.clone() for p in out.sampler.parameters()]
    own = grads_of(sampler_loss(out.sampler, zl, zu))
    adversarial = [c.adversarial_weight * g for g in grads_of(adversarial_loss(out.sampler, zl, zu, False))]
    # epoch 0 trains no sampler; epoch 1 has one labeled batch
    if recipe == "reference":
        assert len(mine) == 2, "the reference steps the sampler twice per batch"
        expected = [adversarial, own]
    else:
        assert len(mine) == 1
        expected = [own]
    for got, want in zip(mine, expected):
        assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want)), recipe


def test_the_reference_sampler_lr_drops_on_its_own_schedule(toy, monkeypatch):
    c = FdalConfig()  # 200 epochs, milestones 80 and 150, adversarial term from epoch 20
    assert [reference_sampler_lr(c, e) for e in (0, 20, 59, 60, 94, 95, 199)] == \
        pytest.approx([0.01, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001])
    ds, teacher = toy
    short = cfg(6, milestones=(6, 8), adv_start_epoch=1)
    final_lr = {}
    for recipe in ("reference", "whole-pool"):
        seen = sampler_steps(monkeypatch)
        out = train_cycle("fdal", ds, np.arange(32), np.arange(32, 120),
                          dataclasses.replace(short, sampler_training=recipe), seed=SEED, teacher=teacher)
        ids = [id(p) for p in out.sampler.parameters()]
        opt = next(o for o, _ in seen if [id(p) for p in o.param_groups[0]["params"]] == ids)
        final_lr[recipe] = opt.param_groups[0]["lr"]
    # the reference's last epoch (5): 2 * (5 - 1) = 8 scheduler steps, past both milestones; the
    # student's schedule has passed one milestone (6) after its sixth epoch
    assert final_lr["reference"] == pytest.approx(short.lr * short.lr_gamma ** 2)
    assert final_lr["whole-pool"] == pytest.approx(short.lr * short.lr_gamma)


def test_reference_sampler_trains_on_the_cycles_candidates(tmp_path, monkeypatch):
    seen = []
    real_train, real_select = runner.train_cycle, runner.select

    def recording_train(mode, dataset, labeled, unlabeled, config, **kw):
        seen.append(("train", config.sampler_training, set(np.asarray(unlabeled).tolist()), len(labeled)))
        return real_train(mode, dataset, labeled, unlabeled, config, **kw)

    def recording_select(method, ctx, candidates, budget, seed):
        seen.append(("select", set(np.asarray(candidates).tolist())))
        return real_select(method, ctx, candidates, budget, seed)

    monkeypatch.setattr(runner, "train_cycle", recording_train)
    monkeypatch.setattr(runner, "select", recording_select)
    picks = {}
    for recipe in ("reference", "whole-pool"):
        p = Protocol(f"tiny-{recipe}", "synthetic", 20, 20, 60, subset=50,
                     train=FdalConfig(batch_size=16, sampler_training=recipe).scaled(1),
                     teacher_arch="small", teacher_epochs=1, seed=3, synthetic=(4, 160, 40))
        seen.clear()
        runner.run_protocol(p, ["fdal"], None, tmp_path / recipe, progress=False)
        trains, selects = seen[0::2], seen[1::2]
        assert len(selects) == 2 and len(trains) == 3
        for (_, r, unl, n_lab), (_, cands) in zip(trains, selects):
            assert r == recipe
            assert unl == cands if recipe == "reference" else len(unl) == 160 - n_lab > len(cands) == 50
        assert len(trains[2][2]) == (50 if recipe == "reference" else 100)  # the last cycle too
        picks[recipe] = [s[1] for s in selects]
    assert picks["reference"] == picks["whole-pool"], "the candidate draws do not depend on the recipe"


# --- presets and the recorded runs ---------------------------------------------------------------

def test_recorded_cpu_research_runs_still_resume_under_their_presets():
    for name in ("cpu-research", "cpu-research-imbalanced", "cpu-research-redundant"):
        stored = json.loads((REPO / "docs" / "results-data" / name / "protocol.json").read_text())
        assert "sampler_training" not in stored["train"], "the file predates the field"
        assert runner.same_protocol(stored, PRESETS[name]), name
        assert not runner.same_protocol(stored, PRESETS[name.replace("cpu-research", "cpu-research-v2")])
    assert PRESETS["cpu-research"].train.sampler_training == "whole-pool"
    assert PRESETS["cpu-research-v2"].train.sampler_training == FdalConfig().sampler_training == "reference"
    with pytest.raises(ValueError, match="sampler_training"):
        FdalConfig(sampler_training="pool")


def test_plain_ce_training_is_the_same_under_cpu_research_and_v2(toy):
    # random (mode ce) reads none of the knobs v2 changes: its old results stand for v2
    ds, _ = toy
    old, new = (dataclasses.replace(PRESETS[name].train, epochs=1, milestones=(1,), batch_size=16)
                for name in ("cpu-research", "cpu-research-v2"))
    assert old != new
    a = train_cycle("ce", ds, np.arange(40), np.arange(40, 120), old, seed=SEED)
    b = train_cycle("ce", ds, np.arange(40), np.arange(40, 120), new, seed=SEED)
    wa, wb = weights(a.student), weights(b.student)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
