"""Property-based tests (hypothesis, derandomized) of fdal.rank_pool and Model.forward over
dtypes, ndim, shapes, channel counts, strides (negative, sliced, transposed views), k, batch sizes,
strategies and iterables of batches: the result equals the numpy oracle, or a ValueError names the
problem. A crash would kill the test process."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fdal
from fdal import format as fmt
from fdal import oracle, testing
from fdal.strategies import BY_NAME

SHAPE = (5, 4, 3)  # (H, W, C) of the property model
PROPERTY_SETTINGS = settings(derandomize=True, max_examples=40, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)
def pair(with_sampler: bool):
    b = testing.ModelBuilder(SHAPE, seed=21)
    b.conv2d(4, (3, 3), pad=(1, 1, 1, 1))
    b.maxpool((2, 2), pad=(0, 0, 1, 0))
    feat = b.flatten()
    b.fc(5, head="logits", input=feat)
    if with_sampler:
        b.fc(1, head="score", input=feat)
    spec = b.build(n_calibration=32)
    return spec, fdal.load(fmt.write_model(spec))


def _pool(seed: int, n: int) -> np.ndarray:
    return testing.random_images(seed, n, SHAPE)


@st.composite
def image_views(draw):
    """A uint8 (N, H, W, C) view with unusual strides, and a contiguous copy of it."""
    n = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    layout = draw(st.sampled_from(["contiguous", "reversed_n", "sliced", "transposed", "flipped_hw",
                                   "fortran", "broadcast_n", "readonly"]))
    h, w, c = SHAPE
    if layout == "contiguous":
        view = _pool(seed, n)
    elif layout == "reversed_n":
        view = _pool(seed, n)[::-1]
    elif layout == "sliced":
        big = testing.random_images(seed, 2 * n, (2 * h + 1, w + 3, c + 2))
        view = big[::2, 1::2, 2:2 + w, 1:1 + c]
    elif layout == "transposed":  # stored NCHW, viewed NHWC
        view = np.ascontiguousarray(_pool(seed, n).transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    elif layout == "flipped_hw":
        view = _pool(seed, n)[:, ::-1, ::-1, ::-1]
    elif layout == "fortran":
        view = np.asfortranarray(_pool(seed, n))
    elif layout == "broadcast_n":  # stride 0 along N: n copies of one image
        view = np.broadcast_to(_pool(seed, 1), (n, h, w, c))
    else:
        view = _pool(seed, n)
        view.setflags(write=False)
    assert view.shape == (n, h, w, c)
    return view, np.ascontiguousarray(view)


@PROPERTY_SETTINGS
@given(image_views())
def test_forward_any_strides_equals_oracle(views):
    view, contiguous = views
    spec, model = pair(True)
    got = model.forward(view)
    want = oracle.forward(spec, contiguous)
    np.testing.assert_array_equal(got["logits_raw"], want["logits_raw"])
    np.testing.assert_array_equal(got["score_raw"], want["score_raw"])
    np.testing.assert_array_equal(got["logits"], want["logits"])


@PROPERTY_SETTINGS
@given(views=image_views(), k=st.integers(-2, 11), batch_size=st.integers(-1, 12),
       strategy=st.sampled_from(list(fdal.runtime.STRATEGIES) + ["bogus", ""]),
       with_sampler=st.booleans(), seed=st.integers(-3, 2**64 + 3), as_chunks=st.booleans())
def test_rank_pool_equals_oracle_or_value_error(views, k, batch_size, strategy, with_sampler, seed, as_chunks):
    view, contiguous = views
    n = len(view)
    spec, model = pair(with_sampler)
    valid = (1 <= k <= n and batch_size >= 1 and strategy in fdal.runtime.STRATEGIES
             and (strategy != "fdal" or with_sampler)
             and not BY_NAME[strategy].needs_embedding)  # pair() models have no embedding
    pool = [view[i:i + 2] for i in range(0, n, 2)] if as_chunks else view
    if not valid:
        with pytest.raises(ValueError):
            fdal.rank_pool(model, pool, k, strategy=strategy, batch_size=batch_size, seed=seed)
        return
    got = fdal.rank_pool(model, pool, k, strategy=strategy, batch_size=batch_size, seed=seed)
    want = oracle.rank(spec, contiguous, k, strategy=strategy, seed=seed % 2**64)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


BAD_DTYPES = [np.int8, np.int16, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_,
              np.complex64]


@PROPERTY_SETTINGS
@given(dtype=st.sampled_from(BAD_DTYPES), n=st.integers(0, 4), as_chunks=st.booleans())
def test_non_uint8_dtypes_are_value_errors(dtype, n, as_chunks):
    _, model = pair(True)
    images = _pool(3, max(n, 1))[:n].astype(dtype)
    with pytest.raises(ValueError, match="uint8"):
        model.forward(images)
    pool = [images] if as_chunks else images
    with pytest.raises(ValueError):
        fdal.rank_pool(model, pool, 1)


@PROPERTY_SETTINGS
@given(shape=st.lists(st.integers(0, 7), min_size=0, max_size=6), as_chunks=st.booleans())
def test_any_shape_is_correct_or_value_error(shape, as_chunks):
    """Wrong ndim, H, W or channel count (including empty arrays) is a ValueError."""
    spec, model = pair(True)
    images = np.random.default_rng(len(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    ok = images.ndim == 4 and images.shape[1:] == SHAPE
    if ok:
        np.testing.assert_array_equal(model.forward(images)["logits_raw"],
                                      oracle.forward(spec, images)["logits_raw"])
    else:
        with pytest.raises(ValueError):
            model.forward(images)
    if not (ok and len(images) >= 1):
        with pytest.raises(ValueError):
            fdal.rank_pool(model, [images] if as_chunks else images, 1)
    else:
        got = fdal.rank_pool(model, [images] if as_chunks else images, 1, strategy="margin")
        np.testing.assert_array_equal(got, oracle.rank(spec, images, 1, strategy="margin"))


@PROPERTY_SETTINGS
@given(sizes=st.lists(st.integers(0, 4), min_size=0, max_size=5), k=st.integers(1, 6),
       kind=st.sampled_from(["list", "generator", "tuple"]), strategy=st.sampled_from(["fdal", "entropy", "random"]))
def test_iterables_of_batches_equal_one_array(sizes, k, kind, strategy):
    """Any split of the pool into batches (empty ones included) ranks like the whole pool."""
    spec, model = pair(True)
    whole = _pool(9, sum(sizes))
    bounds = np.cumsum([0] + sizes)
    parts = [whole[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    pool = {"list": lambda: parts, "tuple": lambda: tuple(parts), "generator": lambda: (p for p in parts)}[kind]()
    if k > len(whole):
        with pytest.raises(ValueError):
            fdal.rank_pool(model, pool, k, strategy=strategy, batch_size=3)
        return
    got = fdal.rank_pool(model, pool, k, strategy=strategy, batch_size=3)
    np.testing.assert_array_equal(got, oracle.rank(spec, whole, k, strategy=strategy))


@pytest.mark.parametrize("bad", [None, 3, "images", object(), [[1, 2], [3]]])
def test_non_arrays_are_value_errors(bad):
    _, model = pair(True)
    with pytest.raises((ValueError, TypeError)):
        model.forward(bad)
    with pytest.raises((ValueError, TypeError)):
        fdal.rank_pool(model, bad, 1)


@pytest.mark.parametrize("batch", [np.uint8(7), np.zeros((), np.uint8), 5, object()])
def test_regression_non_array_batch_in_iterable_is_value_error(batch):
    """Found by test_any_shape_is_correct_or_value_error: a 0-d batch inside an iterable pool raised
    TypeError (len() of unsized object) instead of a ValueError."""
    _, model = pair(True)
    with pytest.raises(ValueError, match="4 dimensions"):
        fdal.rank_pool(model, [_pool(1, 2), batch], 1)
