"""Device-like pools (training/data/pools.py) and the protocols that use them."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fdal.training.data import make_synthetic, pools  # noqa: E402
from fdal.training.protocols import PRESETS, Protocol, teacher_and_pool  # noqa: E402


@pytest.fixture(scope="module")
def ds():
    return make_synthetic(num_classes=5, n_train=1000, n_test=100, seed=3)


def test_split_source_pool_is_disjoint_stratified_and_seeded(ds):
    (src, si), (pool, pi) = pools.split_source_pool(ds, 0.5, seed=7)
    assert len(np.intersect1d(si, pi)) == 0
    assert len(si) + len(pi) == len(ds.train_y)
    y = ds.train_y.numpy()
    for c in range(ds.num_classes):
        assert abs(int((y[si] == c).sum()) - int((y[pi] == c).sum())) <= 1
    assert torch.equal(pool.train_x, ds.train_x[torch.as_tensor(pi)])
    assert torch.equal(src.train_y, ds.train_y[torch.as_tensor(si)])
    assert torch.equal(pool.test_x, ds.test_x) and pool.mean == ds.mean
    (_, si2), _ = pools.split_source_pool(ds, 0.5, seed=7)
    (_, si3), _ = pools.split_source_pool(ds, 0.5, seed=8)
    assert np.array_equal(si, si2) and not np.array_equal(si, si3)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        pools.split_source_pool(ds, 1.0, seed=0)


def test_long_tailed_counts_follow_the_exponential_profile():
    keep = pools.long_tailed_counts([100] * 10, ratio=10, seed=0)
    assert sorted(keep.tolist(), reverse=True)[0] == 100 and min(keep) == 10
    # rank r keeps round(100 * 10 ** (-r / 9)): 100, 77.4 -> 77, 59.9 -> 60, ...
    assert sorted(keep.tolist(), reverse=True) == [100, 77, 60, 46, 36, 28, 22, 17, 13, 10]
    assert not np.array_equal(keep, pools.long_tailed_counts([100] * 10, ratio=10, seed=1))
    with pytest.raises(ValueError, match="ratio must be >= 1"):
        pools.long_tailed_counts([5, 5], ratio=0.5, seed=0)


def test_long_tailed_pool(ds):
    lt, idx = pools.long_tailed(ds, ratio=10, seed=2)
    counts = np.bincount(lt.train_y.numpy(), minlength=ds.num_classes)
    assert counts.max() / counts.min() == pytest.approx(10, rel=0.05)
    assert len(np.unique(idx)) == len(idx)
    assert torch.equal(lt.train_x, ds.train_x[torch.as_tensor(idx)])
    assert torch.equal(lt.test_y, ds.test_y)


def test_bursts_are_adjacent_near_duplicates(ds):
    red, idx = pools.bursts(ds, burst=4, seed=1)
    n_base = len(ds.train_y) // 4
    assert len(red.train_y) == 4 * n_base and len(idx) == 4 * n_base
    assert np.array_equal(idx[::4], idx[1::4]) and len(np.unique(idx)) == n_base
    x = red.train_x.numpy().astype(np.int64)
    assert np.array_equal(red.train_x[::4].numpy(), ds.train_x[torch.as_tensor(idx[::4])].numpy())
    assert torch.equal(red.train_y, ds.train_y[torch.as_tensor(idx)])
    # a frame is far closer to its own burst's first frame than to other bursts' first frames
    own = np.abs(x[1::4] - x[::4]).mean(axis=(1, 2, 3))
    other = np.abs(x[1::4] - np.roll(x[::4], 1, axis=0)).mean(axis=(1, 2, 3))
    assert (own < other).mean() > 0.95
    assert not np.array_equal(x[1::4], x[::4])  # the duplicates are not exact copies
    red2, _ = pools.bursts(ds, burst=4, seed=1)
    assert torch.equal(red.train_x, red2.train_x)


def test_teacher_and_pool_for_each_shape(ds):
    base = Protocol("t", "synthetic", 10, 10, 30, teacher_source=0.5)
    teacher_set, pool = teacher_and_pool(base, ds)
    assert len(teacher_set.train_y) + len(pool.train_y) == len(ds.train_y)
    _, lt = teacher_and_pool(base.replace(pool="imbalanced", imbalance_ratio=5), ds)
    counts = np.bincount(lt.train_y.numpy())
    assert counts.max() / counts.min() == pytest.approx(5, rel=0.1)
    _, red = teacher_and_pool(base.replace(pool="redundant", burst=5), ds)
    assert len(red.train_y) == len(pool.train_y) // 5 * 5
    leak_teacher, leak_pool = teacher_and_pool(base.replace(teacher_source=0.0), ds)
    assert leak_teacher is ds and leak_pool is ds
    with pytest.raises(ValueError, match="pool must be one of"):
        base.replace(pool="skewed")
    with pytest.raises(ValueError, match="teacher_source"):
        base.replace(teacher_source=1.0)


def test_research_presets_share_one_teacher_recipe():
    names = ("cpu-research", "cpu-research-imbalanced", "cpu-research-redundant")
    recipes = {(PRESETS[n].teacher_source, PRESETS[n].teacher_arch, PRESETS[n].teacher_epochs,
                PRESETS[n].seed) for n in names}
    assert len(recipes) == 1 and PRESETS["cpu-research"].teacher_source == 0.5
    assert [PRESETS[n].pool for n in names] == ["balanced", "imbalanced", "redundant"]
