"""The numpy oracle against naive loop implementations written from docs/quantization.md."""
from fractions import Fraction
import math

import numpy as np
import pytest

from fdal import oracle
from fdal.strategies import PER_IMAGE_STRATEGIES
from fdal.testing import ModelBuilder, random_images, random_model

SEEDS = list(range(6))


def naive_requant(acc: int, m: int, s: int, zp: int, lo: int, hi: int) -> int:
    return min(max(((acc * m + (1 << (s - 1))) >> s) + zp, lo), hi)


def naive_conv(x, w, bias, stride, pad, zp):
    """Python-int accumulators, one tap at a time; padded taps skipped (they read zp)."""
    n, h, wd, c = x.shape
    oc, kh, kw, _ = w.shape
    (sh, sw), (top, left, bottom, right) = stride, pad
    oh, ow = (h + top + bottom - kh) // sh + 1, (wd + left + right - kw) // sw + 1
    out = np.zeros((n, oh, ow, oc), dtype=object)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(oc):
                    acc = int(bias[o])
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = oy * sh - top + ky, ox * sw - left + kx
                            if 0 <= iy < h and 0 <= ix < wd:
                                for ci in range(c):
                                    acc += int(w[o, ky, kx, ci]) * (int(x[b, iy, ix, ci]) - zp)
                    out[b, oy, ox, o] = acc
    return out


def random_conv_case(rng):
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    pad = tuple(int(rng.integers(0, k)) for k in (kh, kw, kh, kw))
    h = int(rng.integers(max(1, kh - pad[0] - pad[2]), 8))
    wd = int(rng.integers(max(1, kw - pad[1] - pad[3]), 8))
    c, oc = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    x = rng.integers(-128, 128, (2, h, wd, c)).astype(np.int8)
    w = rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8)
    bias = rng.integers(-50000, 50000, oc).astype(np.int32)
    return x, w, bias, stride, pad, int(rng.integers(-128, 128))


@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_matches_naive_loops(seed):
    rng = np.random.default_rng(seed)
    for _ in range(4):
        x, w, bias, stride, pad, zp = random_conv_case(rng)
        oc = w.shape[0]
        mult = rng.integers(2**30, 2**31, oc).astype(np.int32)
        shift = rng.integers(20, 40, oc).astype(np.int32)
        out_zp = int(rng.integers(-128, 128))
        want_acc = naive_conv(x, w, bias, stride, pad, zp)
        acc = oracle.conv2d(x, w, bias, stride, pad, zp)
        assert acc.dtype == np.int32 and acc.tolist() == want_acc.tolist(), f"seed={seed}"
        got = oracle.conv2d(x, w, bias, stride, pad, zp, mult, shift, out_zp, out_zp, 127)
        want = np.vectorize(lambda a, o: naive_requant(a, int(mult[o]), int(shift[o]), out_zp, out_zp, 127))(
            want_acc, np.arange(oc))
        assert got.dtype == np.int8 and got.tolist() == want.tolist(), f"seed={seed} stride={stride} pad={pad}"


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_fully_connected_matches_naive(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (3, 2, 3, 4)).astype(np.int8)  # read as K = 24 values in memory order
    w = rng.integers(-127, 128, (5, 24)).astype(np.int8)
    bias = rng.integers(-1000, 1000, 5).astype(np.int32)
    zp = int(rng.integers(-128, 128))
    flat = x.reshape(3, 24)
    want = [[int(bias[o]) + sum(int(w[o, k]) * (int(flat[b, k]) - zp) for k in range(24)) for o in range(5)]
            for b in range(3)]
    got = oracle.fully_connected(x, w, bias, zp)
    assert got.shape == (3, 1, 1, 5) and got.dtype == np.int32
    assert got.reshape(3, 5).tolist() == want, f"seed={seed}"


def test_max_pool_ignores_padding():
    x = np.full((1, 3, 3, 2), -128, dtype=np.int8)
    x[0, 1, 1, 1] = 5
    got = oracle.max_pool(x, (3, 3), (2, 2), (1, 1, 1, 1))
    assert got.shape == (1, 2, 2, 2)
    assert np.all(got[..., 0] == -128) and np.all(got[..., 1] == 5)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_max_pool_matches_naive(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (2, 7, 6, 3)).astype(np.int8)
    (kh, kw), (sh, sw), (t, l, b, r) = (3, 2), (2, 3), (2, 1, 1, 0)
    got = oracle.max_pool(x, (kh, kw), (sh, sw), (t, l, b, r))
    oh, ow = (7 + t + b - kh) // sh + 1, (6 + l + r - kw) // sw + 1
    assert got.shape == (2, oh, ow, 3)
    for n in range(2):
        for oy in range(oh):
            for ox in range(ow):
                taps = [x[n, oy * sh - t + ky, ox * sw - l + kx] for ky in range(kh) for kx in range(kw)
                        if 0 <= oy * sh - t + ky < 7 and 0 <= ox * sw - l + kx < 6]
                assert got[n, oy, ox].tolist() == np.max(taps, axis=0).tolist(), f"seed={seed}"


def test_avg_pool_rounds_ties_away_from_zero():
    pairs = [(1, 2), (-1, -2), (-1, 0), (0, 1), (2, 3), (-3, -2), (127, 127), (-128, -127)]
    x = np.array(pairs, dtype=np.int8).reshape(1, 1, len(pairs) * 2, 1)
    got = oracle.avg_pool(x, (1, 2), (1, 2)).reshape(-1).tolist()
    assert got == [2, -2, -1, 1, 3, -3, 127, -128]


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_avg_pool_matches_exact_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (2, 9, 8, 3)).astype(np.int8)
    got = oracle.avg_pool(x, (3, 2), (2, 3))
    for idx in np.ndindex(got.shape):
        n, oy, ox, c = idx
        win = x[n, oy * 2:oy * 2 + 3, ox * 3:ox * 3 + 2, c].astype(int)
        f = Fraction(int(win.sum()), win.size)
        want = math.floor(abs(f) + Fraction(1, 2)) * (1 if f >= 0 else -1)
        assert int(got[idx]) == want, f"seed={seed} {idx}"


def test_relu_upsample_lut():
    x = np.array([[-5, 3], [10, -128]], dtype=np.int8).reshape(1, 2, 2, 1)
    assert oracle.relu(x, -3).reshape(-1).tolist() == [-3, 3, 10, -3]
    up = oracle.upsample_nearest(x, (2, 3))
    assert up.shape == (1, 4, 6, 1) and up[0, 3, 5, 0] == -128 and up[0, 1, 2, 0] == -5
    lut = np.arange(512).reshape(2, 256).astype(np.uint8).view(np.int8)
    img = np.array([[[[0, 255], [7, 1]]]], dtype=np.uint8)
    assert oracle.apply_lut(lut, img).tolist() == [[[[lut[0, 0], lut[1, 255]], [lut[0, 7], lut[1, 1]]]]]
    with pytest.raises(ValueError):
        oracle.apply_lut(lut, img.astype(np.int16))


def test_det_exp_and_det_log_against_libm():
    t = np.concatenate([np.linspace(-700, 700, 20001), -(10.0 ** np.linspace(-12, 2.5, 500)), [0.0, 1e-300]])
    got = oracle.det_exp(t)
    want = np.array([math.exp(v) for v in t])
    assert np.all(np.abs(got - want) <= 1e-15 * want)
    assert oracle.det_exp(0.0) == 1.0 and oracle.det_exp(-746.0) == 0.0 and oracle.det_exp(-np.inf) == 0.0
    with pytest.raises(ValueError):
        oracle.det_exp(710.0)
    with pytest.raises(ValueError):
        oracle.det_exp(np.nan)
    s = np.concatenate([1.0 + 10.0 ** np.linspace(-15, 0, 300), 10.0 ** np.linspace(0.01, 300, 5000),
                        [np.sqrt(0.5) * 2.0**k for k in range(1, 40)]])
    got = oracle.det_log(s)
    want = np.array([math.log(v) for v in s])
    assert np.all(np.abs(got - want) <= 1e-15 * np.abs(want))
    assert oracle.det_log(1.0) == 0.0
    with pytest.raises(ValueError):
        oracle.det_log(0.0)


def test_mix64_is_splitmix64():
    def splitmix_next(state):
        state = (state + 0x9E3779B97F4A7C15) % 2**64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        return state, z ^ (z >> 31)

    state, outputs = 12345, []
    for _ in range(5):
        state, z = splitmix_next(state)
        outputs.append(z)
    assert oracle.random_keys(5, 0, seed=12345).tolist() == outputs
    assert int(oracle.random_keys(1, 0, seed=0)[0]) == 0xE220A8397B1DCDAF  # SplitMix64(0)'s first output
    assert oracle.random_keys(3, 2, seed=12345).tolist() == outputs[2:5]


@pytest.fixture(scope="module")
def tiny():
    spec = random_model(3, "tiny", num_classes=5, input_shape=(6, 5, 3), n_calibration=64)
    return spec, random_images(7, 60, (6, 5, 3))


def test_run_layers_chains_per_op_functions(tiny):
    spec, images = tiny
    outs = oracle.run_layers(spec, images)
    conv = spec.layers[0]
    x0 = oracle.apply_lut(spec.lut, images)
    acc = naive_conv(x0[:4], conv.weights, conv.bias, conv.stride, conv.pad, conv.in_zero_point)
    want = np.vectorize(lambda a, o: naive_requant(a, int(conv.multiplier[o]), int(conv.shift[o]),
                                                   conv.out_zero_point, conv.act_min, conv.act_max))(
        acc, np.arange(acc.shape[-1]))
    assert outs[0][:4].tolist() == want.tolist()
    assert outs[1].shape == (60, 1, 1, 5) and outs[1].dtype == np.int32 and outs[2].shape == (60, 1, 1, 1)


def test_forward_outputs(tiny):
    spec, images = tiny
    out = oracle.forward(spec, images, batch_size=7)
    raw = out["logits_raw"]
    assert raw.shape == (60, 5) and raw.dtype == np.int32 and out["score_raw"].shape == (60,)
    unit = np.float32(spec.layers[spec.logits_layer].out_scale)
    assert np.array_equal(out["logits"], raw.astype(np.float32) * unit) and out["logits"].dtype == np.float32
    score = out["score"]
    assert score.dtype == np.float32 and np.all((score > 0) & (score < 1))
    order = np.argsort(out["score_raw"], kind="stable")
    assert np.all(np.diff(score[order].astype(np.float64)) >= 0)  # sigmoid is monotone in the raw value
    x = out["score_raw"].astype(np.float64) * np.float64(np.float32(spec.layers[spec.score_layer].out_scale))
    assert np.allclose(score, 1 / (1 + np.exp(-x)), rtol=1e-6, atol=0)
    same = oracle.forward(spec, images, batch_size=256)
    assert np.array_equal(same["logits_raw"], raw) and np.array_equal(same["score"], score)


def test_entropy_keys_match_float_entropy(tiny):
    spec, images = tiny
    out = oracle.forward(spec, images)
    got = oracle.keys(out, "entropy")
    x = out["logits_raw"].astype(np.float64) * np.float64(out["logits_unit"])
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    entropy = -(p * np.log(p)).sum(axis=1)
    assert np.allclose(got, -entropy, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("strategy", PER_IMAGE_STRATEGIES)  # pool-level: tests/runtime/test_rank_pool_level.py
def test_rank_invariants(tiny, strategy):
    spec, images = tiny
    pool = np.concatenate([images, images[:10]])  # duplicates: equal keys, ties to the lower index
    k = 25
    idx = oracle.rank(spec, pool, k, strategy, seed=9, batch_size=16)
    assert idx.dtype == np.int64 and idx.shape == (k,) and len(set(idx.tolist())) == k
    all_keys = np.concatenate([oracle.keys(oracle.forward(spec, pool[s:s + 32]), strategy, s, seed=9)
                               for s in range(0, len(pool), 32)])
    chosen = all_keys[idx]
    assert np.all(chosen[:-1] <= chosen[1:])  # ascending
    rest = np.setdiff1d(np.arange(len(pool)), idx)
    assert np.all(all_keys[rest] >= chosen[-1])  # nothing outside is smaller
    for a, b in zip(idx[:-1], idx[1:]):  # stable: ties keep pool order
        if all_keys[a] == all_keys[b]:
            assert a < b
    assert np.array_equal(oracle.rank(spec, pool, k, strategy, seed=9, batch_size=256), idx)
    assert np.array_equal(oracle.rank(spec, pool, len(pool), strategy, seed=9)[:k], idx)


def test_rank_random_depends_on_seed_and_not_on_images(tiny):
    spec, images = tiny
    a = oracle.rank(spec, images, 60, "random", seed=1)
    assert sorted(a.tolist()) == list(range(60))
    assert not np.array_equal(a, oracle.rank(spec, images, 60, "random", seed=2))
    assert np.array_equal(a, oracle.rank(spec, images[::-1].copy(), 60, "random", seed=1))


def test_rank_rejects_bad_requests(tiny):
    spec, images = tiny
    with pytest.raises(ValueError):
        oracle.rank(spec, images, 61)
    with pytest.raises(ValueError):
        oracle.rank(spec, images, 3, "bald")
    with pytest.raises(ValueError):
        oracle.rank(spec, images.astype(np.float32), 3)
    with pytest.raises(ValueError):
        oracle.rank(spec, images[:, :5], 3)
    no_sampler = random_model(3, "tiny", with_sampler=False, input_shape=(6, 5, 3), n_calibration=16)
    with pytest.raises(ValueError, match="sampler"):
        oracle.rank(no_sampler, images, 3, "fdal")


def test_builder_single_op_model_runs_like_per_op_function():
    b = ModelBuilder((9, 7, 2), seed=4)
    b.conv2d(5, kernel=(5, 3), stride=(2, 2), pad=(2, 1, 1, 0), relu=False)
    b.fc(3, head="logits")
    spec = b.build(n_calibration=32)
    images = random_images(1, 5, (9, 7, 2))
    conv = spec.layers[0]
    assert conv.out_shape == (4, 3, 5)
    x0 = oracle.apply_lut(spec.lut, images)
    want_acc = naive_conv(x0, conv.weights, conv.bias, conv.stride, conv.pad, conv.in_zero_point)
    got = oracle.run_layers(spec, images)[0]
    want = np.vectorize(lambda a, o: naive_requant(a, int(conv.multiplier[o]), int(conv.shift[o]),
                                                   conv.out_zero_point, -128, 127))(want_acc, np.arange(5))
    assert got.tolist() == want.tolist()
