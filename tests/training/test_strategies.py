"""Selection invariants for every acquisition strategy, plus the scoring rules of each."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.student_training import FdalConfig, train_cycle  # noqa: E402
from fdal.training.models import Teacher  # noqa: E402
from fdal.training.strategies import METHODS, SelectionContext, select, training_mode  # noqa: E402
from fdal.training.strategies.base import forward_pool, student_logits  # noqa: E402
from fdal.training.strategies.coreset import k_center_greedy  # noqa: E402
from fdal.training.strategies.ll4al import loss_prediction_loss  # noqa: E402

SEED = 1234
BUDGET = 12


@pytest.fixture(scope="module")
def setup(narrow_vae):
    torch.set_num_threads(1)
    ds = make_synthetic(num_classes=4, n_train=160, n_test=20, seed=SEED)
    rng = np.random.default_rng(SEED)
    labeled = rng.choice(160, size=24, replace=False)
    unlabeled = np.setdiff1d(np.arange(160), labeled)
    candidates = rng.choice(unlabeled, size=60, replace=False)  # the cycle's SUBSET
    torch.manual_seed(SEED)
    teacher = Teacher(4, "small").eval()
    cfg = FdalConfig(batch_size=16).scaled(2)
    cfg = FdalConfig(**{**cfg.__dict__, "adv_start_epoch": 0})
    models = {mode: train_cycle(mode, ds, labeled, unlabeled, cfg, seed=SEED, teacher=teacher)
              for mode in ("ce", "kd", "fdal", "ll4al", "vaal")}
    return ds, labeled, candidates, models


def ctx_for(setup, method):
    ds, labeled, candidates, models = setup
    return SelectionContext(ds, labeled, models[training_mode(method)], "cpu", batch_size=25), candidates


@pytest.mark.parametrize("method", sorted(METHODS))
def test_selection_invariants(setup, method):
    ctx, candidates = ctx_for(setup, method)
    picks = select(method, ctx, candidates, BUDGET, seed=SEED)
    assert picks.dtype == np.int64 and picks.shape == (BUDGET,), f"seed {SEED}"
    assert len(np.unique(picks)) == BUDGET, f"{method}: duplicates (seed {SEED})"
    assert np.isin(picks, candidates).all(), f"{method}: picked outside the subset (seed {SEED})"
    assert not np.isin(picks, ctx.labeled).any(), f"{method}: picked a labeled image (seed {SEED})"
    again = select(method, ctx, candidates, BUDGET, seed=SEED)
    np.testing.assert_array_equal(picks, again, err_msg=f"{method} not deterministic (seed {SEED})")


@pytest.mark.parametrize("method", sorted(METHODS))
def test_budget_equal_to_candidates_takes_all(setup, method):
    ctx, candidates = ctx_for(setup, method)
    picks = select(method, ctx, candidates[:7], 7, seed=SEED)
    assert sorted(picks.tolist()) == sorted(candidates[:7].tolist())


def test_random_differs_across_seeds_and_has_no_replacement(setup):
    ctx, candidates = ctx_for(setup, "random")
    a = select("random", ctx, candidates, 30, seed=1)
    b = select("random", ctx, candidates, 30, seed=2)
    assert len(set(a.tolist())) == 30  # the reference harness drew WITH replacement
    assert not np.array_equal(np.sort(a), np.sort(b))


@pytest.mark.parametrize("bad, msg", [
    (dict(budget=61), "exceeds"), (dict(budget=0), "positive"),
    (dict(dup=True), "duplicates"), (dict(with_labeled=True), "labeled"),
    (dict(out_of_range=True), "index the pool"),
])
def test_bad_requests_raise(setup, bad, msg):
    ctx, candidates = ctx_for(setup, "random")
    cand = candidates.copy()
    if bad.get("dup"):
        cand[1] = cand[0]
    if bad.get("with_labeled"):
        cand[0] = ctx.labeled[0]
    if bad.get("out_of_range"):
        cand[0] = 10_000
    with pytest.raises(ValueError, match=msg):
        select("random", ctx, cand, bad.get("budget", 5), seed=0)


def test_unknown_method_is_named(setup):
    ctx, candidates = ctx_for(setup, "random")
    with pytest.raises(ValueError, match="bogus"):
        select("bogus", ctx, candidates, 5, seed=0)


def test_fdal_takes_lowest_sampler_scores(setup):
    ctx, candidates = ctx_for(setup, "fdal")
    m = ctx.models
    scores = forward_pool(ctx, candidates, lambda x: m.sampler.logit(m.student(x)[0])).numpy()
    picks = select("fdal", ctx, candidates, BUDGET, seed=0)
    picked = scores[np.isin(candidates, picks)]
    rest = scores[~np.isin(candidates, picks)]
    assert picked.max() <= rest.min()


def test_entropy_and_margin_take_most_uncertain(setup):
    ctx, candidates = ctx_for(setup, "entropy")
    p = torch.softmax(student_logits(ctx, candidates).double(), 1).numpy()
    ent = -(p * np.log(p)).sum(1)
    top2 = np.sort(p, 1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    for method, score, sign in (("entropy", ent, 1), ("margin", margin, -1)):
        chosen = np.isin(candidates, select(method, ctx, candidates, BUDGET, seed=0))
        assert (sign * score[chosen]).min() >= (sign * score[~chosen]).max() - 1e-9, method


def test_k_center_greedy_picks_farthest_then_covers():
    pts = torch.tensor([[1.0], [10.0], [9.0], [-5.0], [2.0]])
    centers = torch.tensor([[0.0]])
    # 10 is farthest from 0; then -5 (distance 5 from 0, vs 9 which is 1 from 10); then 2 or 1
    picks = k_center_greedy(pts, centers, 3).tolist()
    assert picks[:2] == [1, 3]
    assert picks[2] == 4  # 2.0 is 2 away from 0; 1.0 is 1 away; 9.0 is 1 away from 10
    assert len(set(k_center_greedy(torch.zeros(5, 2), torch.zeros(1, 2), 5).tolist())) == 5  # duplicates ok


def test_loss_prediction_loss_ranks_pairs():
    target = torch.tensor([3.0, 1.0, 0.5, 2.0])  # pairs (0,3): 3>2 and (1,2): 1>0.5
    good = torch.tensor([5.0, 3.0, 1.0, 2.0])    # same order, gaps >= margin 1
    bad = torch.tensor([0.0, 0.0, 3.0, 5.0])
    assert float(loss_prediction_loss(good, target, 1.0)) == 0.0
    assert float(loss_prediction_loss(bad, target, 1.0)) > 1.0


def test_al_command_help_lists_every_method():
    # `fdal al --help` cannot import the registry (torch) to build its text, so it is checked here.
    import argparse

    from fdal.cli import build_parser
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    methods = next(a for a in commands.choices["al"]._actions if a.dest == "methods")
    listed = [name.strip() for name in methods.help.split(":", 1)[1].split(",")]
    assert listed == list(METHODS)
    assert all(name in METHODS for name in methods.default.split(","))
