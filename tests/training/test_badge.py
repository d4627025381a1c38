"""BADGE: gradient embeddings and k-means++ seeding, on cases with known answers."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.models import Student  # noqa: E402
from fdal.training.strategies import SelectionContext  # noqa: E402
from fdal.training.strategies.badge import gradient_factors, kmeans_pp_seeds  # noqa: E402
from fdal.training.strategies.base import penultimate_and_logits  # noqa: E402
from fdal.training.student_training import CycleModels  # noqa: E402


def explicit_embeddings(a, h):
    return np.einsum("nc,nd->ncd", a, h).reshape(len(a), -1)


def test_gradient_embedding_is_the_last_layers_cross_entropy_gradient():
    torch.manual_seed(0)
    ds = make_synthetic(num_classes=3, n_train=6, n_test=2, seed=0)
    student = Student(3).eval()
    ctx = SelectionContext(ds, np.array([], dtype=np.int64), CycleModels("ce", student), batch_size=4)
    idx = np.arange(6)
    h, logits = penultimate_and_logits(ctx, idx)
    assert h.shape == (6, 512) and (h >= 0).all()  # after the ReLU
    a, h64 = gradient_factors(h, logits)
    last = student.classifier[-1]
    from fdal.training import data as fdata
    for i in idx:
        x = fdata.pixels_to_unit_float(ds.train_x[i:i + 1])
        out = student(x)[1]
        loss = torch.nn.functional.cross_entropy(out, out.argmax(1))
        grad, = torch.autograd.grad(loss, last.weight)
        np.testing.assert_allclose(np.outer(a[i], h64[i]), -grad.double().numpy(), rtol=1e-4, atol=1e-6)


def test_first_pick_is_the_largest_norm_embedding():
    rng = np.random.default_rng(3)
    for seed in range(5):
        a, h = rng.standard_normal((40, 4)), rng.standard_normal((40, 7))
        first = kmeans_pp_seeds(a, h, 5, seed)[0]
        assert first == np.argmax(np.linalg.norm(explicit_embeddings(a, h), axis=1))


def test_points_at_distance_zero_from_a_pick_are_never_drawn():
    # three distinct embeddings, each 6 times: three picks must take one of each
    rng = np.random.default_rng(4)
    a0, h0 = rng.standard_normal((3, 3)), rng.standard_normal((3, 5))
    a, h = np.repeat(a0, 6, 0), np.repeat(h0, 6, 0)
    for seed in range(30):
        picks = kmeans_pp_seeds(a, h, 3, seed)
        assert sorted(picks // 6) == [0, 1, 2], f"seed {seed}"
        more = kmeans_pp_seeds(a, h, 10, seed)  # all D^2 = 0 after three: uniform, still distinct
        assert len(set(more.tolist())) == 10 and sorted(set((more[:3] // 6).tolist())) == [0, 1, 2]


def test_second_pick_is_drawn_in_proportion_to_squared_distance():
    # h one-dimensional, a in two classes: embeddings are the rows of g below (up to sign)
    a = np.array([[1.0, -1.0], [0.5, -0.5], [0.0, 0.0], [-0.5, 0.5]])
    h = np.array([[3.0], [1.0], [1.0], [1.0]])
    g = explicit_embeddings(a, h)
    d2 = ((g - g[0]) ** 2).sum(1)  # the first pick is row 0 (norm^2 18)
    want = d2 / d2.sum()
    seconds = np.array([kmeans_pp_seeds(a, h, 2, seed)[1] for seed in range(3000)])
    assert (kmeans_pp_seeds(a, h, 2, 0)[0] == 0) and (seconds != 0).all()
    freq = np.bincount(seconds, minlength=4) / len(seconds)
    np.testing.assert_allclose(freq, want, atol=0.03)


def test_same_seed_same_picks_and_budget_checked():
    rng = np.random.default_rng(5)
    a, h = rng.standard_normal((30, 3)), rng.standard_normal((30, 4))
    np.testing.assert_array_equal(kmeans_pp_seeds(a, h, 12, 7), kmeans_pp_seeds(a, h, 12, 7))
    assert not np.array_equal(kmeans_pp_seeds(a, h, 12, 7), kmeans_pp_seeds(a, h, 12, 8))
    assert sorted(kmeans_pp_seeds(a, h, 30, 1).tolist()) == list(range(30))
    with pytest.raises(ValueError, match="budget"):
        kmeans_pp_seeds(a, h, 31, 0)
