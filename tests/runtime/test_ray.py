"""Issue 18 item 3: fdal.ray.rank over a Ray Data dataset (a local 2-CPU cluster started here)
equals fdal.rank_pool over the same rows, for per-image and pool-level strategies, with batches
that split the dataset's blocks unevenly. Skipped where ray is not installed."""
from __future__ import annotations

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install \"fdal[ray]\")")
ray_data = pytest.importorskip("ray.data", reason="ray is not installed (pip install \"fdal[ray]\")")

import fdal  # noqa: E402
import fdal.ray  # noqa: E402
from fdal import format as fmt  # noqa: E402
from fdal import testing  # noqa: E402

SEED = 1803
# Ray's own processes and log files outlive its calls (ResourceWarning, unraisable at exit) and it
# uses deprecated APIs; the project's filterwarnings = error is for fdal's code, not Ray's.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning",
                                        "ignore::DeprecationWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(cluster, tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "m.fdal"
    fmt.write_model(testing.random_model(SEED, "tiny", n_calibration=32, embedding="student", input_shape=(8, 8, 3)),
                    path)
    pool = testing.random_images(SEED, 157, (8, 8, 3))
    ds = ray_data.from_items([{"image": im, "label": i % 3} for i, im in enumerate(pool)], override_num_blocks=4)
    return str(path), pool, ds


@pytest.mark.parametrize("strategy, k", [("fdal", 20), ("margin", 31), ("entropy", 5), ("random", 40),
                                         ("kcenter", 12), ("classbalanced", 15)])
def test_equals_rank_pool(setup, strategy, k):
    path, pool, ds = setup
    model = fdal.load(path)
    want, scores = fdal.rank_pool(model, pool, k, strategy=strategy, seed=SEED, cap=60, return_scores=True)
    got, got_scores = fdal.ray.rank(ds, path, k, strategy=strategy, seed=SEED, cap=60, batch_size=23,
                                    return_scores=True)
    np.testing.assert_array_equal(got, want, err_msg=f"{strategy} seed {SEED}")
    np.testing.assert_array_equal(got_scores, scores)


def test_two_actors(setup):
    # Two actors sharing the 2 CPUs (num_cpus=0.5 each leaves one for the reads): the same picks.
    path, pool, ds = setup
    want = fdal.rank_pool(fdal.load(path), pool, 17, strategy="margin")
    got = fdal.ray.rank(ds, path, 17, strategy="margin", concurrency=2, num_cpus=0.5, batch_size=40)
    np.testing.assert_array_equal(got, want)


def test_errors(setup):
    path, pool, ds = setup
    with pytest.raises(ValueError, match="no column 'pixels'; its columns: image, label"):
        fdal.ray.rank(ds, path, 3, column="pixels")
    with pytest.raises(ValueError, match="k=158 is larger than the pool size 157"):
        fdal.ray.rank(ds, path, 158, strategy="margin")
    with pytest.raises(ValueError, match="ray.data.Dataset"):
        fdal.ray.rank(pool, path, 3)
    with pytest.raises(ValueError, match="unknown strategy"):
        fdal.ray.rank(ds, path, 3, strategy="nope")
    with pytest.raises(ValueError, match="num_cpus must be a positive number"):
        fdal.ray.rank(ds, path, 3, num_cpus=0)
