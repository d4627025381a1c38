"""fdal.quant against exact rational references (fractions.Fraction)."""
from fractions import Fraction
import math

import numpy as np
import pytest

from fdal.quant import (
    choose_activation_qparams, make_input_lut, quantize_bias, quantize_multiplier,
    quantize_weights_per_channel, quantize_weights_per_tensor, requantize, round_half_away,
)

SEEDS = [0, 1, 2, 3]


def exact_round_half_away(x: float) -> int:
    f = Fraction(x)
    r = math.floor(abs(f) + Fraction(1, 2))
    return r if f >= 0 else -r


def test_round_half_away_ties_and_near_ties():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994,
                  2.0**52 + 1, -(2.0**52) - 1, 0.0, 3.4999999999999996])
    want = [1, 2, 3, -1, -2, -3, 0, 0, 2**52 + 1, -(2**52) - 1, 0, 3]
    assert round_half_away(x).tolist() == want


@pytest.mark.parametrize("seed", SEEDS)
def test_round_half_away_matches_exact_reference(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 100, 2000), rng.integers(-1000, 1000, 500) + 0.5,
                        rng.normal(0, 1e12, 200)])
    got = round_half_away(x)
    want = [exact_round_half_away(v) for v in x]
    assert got.tolist() == want, f"seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_quantize_multiplier_reconstructs_within_2_pow_minus_31(seed):
    rng = np.random.default_rng(seed)
    real = 2.0 ** rng.uniform(-30, 29, 3000)
    mult, shift = quantize_multiplier(real)
    assert mult.dtype == np.int32 and shift.dtype == np.int32
    assert np.all(mult >= 2**30) and np.all(shift >= 1) and np.all(shift <= 62), f"seed={seed}"
    for r, m, s in zip(real, mult, shift):
        approx = Fraction(int(m), 2 ** int(s))
        assert abs(approx - Fraction(r)) <= Fraction(r) * Fraction(1, 2**31), f"seed={seed} real={r!r}"
        # and it is the nearest Q31 value (ties away), per the frexp derivation
        mant, e = math.frexp(r)
        q = exact_round_half_away(mant * 2.0**31)
        if q == 2**31:
            q, e = 2**30, e + 1
        assert (int(m), int(s)) == (q, 31 - e), f"seed={seed} real={r!r}"


def test_quantize_multiplier_carry_case():
    real = 1.0 - 2.0**-40  # m * 2^31 rounds up to exactly 2^31
    mult, shift = quantize_multiplier(real)
    assert (int(mult), int(shift)) == (2**30, 30)
    mult, shift = quantize_multiplier(np.array([0.5, 0.75]))
    assert mult.tolist() == [2**30, 3 * 2**29] and shift.tolist() == [31, 31]


@pytest.mark.parametrize("bad", [0.0, -0.25, np.nan, np.inf, 2.0**-70, 2.0**40])
def test_quantize_multiplier_rejects(bad):
    with pytest.raises(ValueError):
        quantize_multiplier(np.array([0.5, bad]))


def exact_requantize(acc, m, s, zp, lo, hi):
    t = (acc * m + (1 << (s - 1))) >> s  # Python ints: arithmetic shift, floor
    return min(max(t + zp, lo), hi)


def test_requantize_rounds_half_up_including_negative_ties():
    half = (2**30, 31)  # multiplier * 2^-shift == 0.5
    acc = np.array([-5, -3, -1, 1, 3, 5, -4, 4])  # acc/2 = -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -2, 2
    got = requantize(acc, *half, out_zp=0, act_min=-128, act_max=127)
    assert got.dtype == np.int8
    assert got.tolist() == [-2, -1, 0, 1, 2, 3, -2, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_requantize_matches_exact_reference(seed):
    rng = np.random.default_rng(seed)
    n, c = 400, 7
    acc = rng.integers(-(2**31) + 1, 2**31, (n, c))
    acc[: n // 2] //= 1 << 16  # plenty of small accumulators too
    mult = rng.integers(2**30, 2**31, c)
    shift = rng.integers(1, 63, c)
    zp, lo, hi = int(rng.integers(-128, 128)), -128, 127
    lo = int(rng.integers(-128, zp + 1))
    got = requantize(acc, mult, shift, zp, lo, hi)
    want = [[exact_requantize(int(acc[i, j]), int(mult[j]), int(shift[j]), zp, lo, hi) for j in range(c)]
            for i in range(n)]
    assert got.tolist() == want, f"seed={seed}"


def test_requantize_clamps_on_int64_when_m_above_one():
    got = requantize(np.array([2**31 - 1, -(2**31) + 1]), 2**31 - 1, 1, 5, -128, 127)
    assert got.tolist() == [127, -128]


@pytest.mark.parametrize("lo,hi", [(-1.0, 3.0), (0.0, 6.0), (-7.5, -0.5), (0.3, 0.9), (-1e-3, 1e-3)])
def test_choose_activation_qparams_covers_range_and_zero_exactly(lo, hi):
    scale, zp = choose_activation_qparams(lo, hi)
    assert scale == float(np.float32(scale)) and scale > 0
    assert -128 <= zp <= 127 and isinstance(zp, int)
    lo0, hi0 = min(lo, 0.0), max(hi, 0.0)
    # the representable range covers [lo0, hi0] up to half a step of rounding
    assert scale * (-128 - zp) <= lo0 + scale * 0.5 + 1e-12
    assert scale * (127 - zp) >= hi0 - scale * 0.5 - 1e-12
    if lo >= 0:
        assert zp == -128  # ReLU outputs use the whole int8 range
    if hi <= 0:
        assert zp == 127


def test_choose_activation_qparams_degenerate_and_bad():
    assert choose_activation_qparams(0.0, 0.0) == (1.0, 0)
    with pytest.raises(ValueError):
        choose_activation_qparams(-np.inf, 1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_weights_per_channel(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.1, (6, 3, 2, 5))
    w[4] = 0.0  # an all-zero channel still gets a positive scale
    q, scales = quantize_weights_per_channel(w, axis=0)
    assert q.dtype == np.int8 and scales.dtype == np.float32 and scales.shape == (6,)
    assert q.min() >= -127 and np.all(scales > 0)
    for c in range(6):
        if c != 4:
            assert np.abs(q[c]).max() == 127, f"seed={seed}"
        err = np.abs(q[c] * np.float64(scales[c]) - w[c]).max()
        assert err <= scales[c] * 0.5 * (1 + 1e-6), f"seed={seed}"
    assert not q[4].any()
    q1, s1 = quantize_weights_per_channel(np.moveaxis(w, 0, 2), axis=2)
    assert np.array_equal(np.moveaxis(q1, 2, 0), q) and np.array_equal(s1, scales)


def test_weights_per_tensor():
    w = np.array([[0.5, -1.0], [0.25, 0.0]])
    q, scale = quantize_weights_per_tensor(w)
    assert scale == float(np.float32(1.0 / 127))
    assert q.tolist() == [[64, -127], [32, 0]]


def test_quantize_bias_rounds_and_clamps():
    b = quantize_bias([1.5, -1.5, 0.49, 1e30, -1e30], in_scale=0.5, w_scales=[2.0, 2.0, 1.0, 1.0, 1.0])
    assert b.dtype == np.int32
    assert b.tolist() == [2, -2, 1, 2**31 - 1, -(2**31)]


def test_input_lut_equals_float_normalization():
    mean, std = np.array([0.4914, 0.4822, 0.4465], np.float32), np.array([0.247, 0.2435, 0.2616], np.float32)
    scale, zp = 0.0309, -4
    lut = make_input_lut(mean, std, scale, zp, 3)
    assert lut.shape == (3, 256) and lut.dtype == np.int8
    s = np.float64(np.float32(scale))
    for c in range(3):
        for p in range(256):
            v = (Fraction(p, 255) - Fraction(float(mean[c]))) / Fraction(float(std[c])) / Fraction(s)
            want = min(max(exact_round_half_away(float(v)) + zp, -128), 127)
            assert int(lut[c, p]) == want, (c, p)
    assert np.all(np.diff(lut.astype(int), axis=1) >= 0)  # monotone in the pixel value


def test_input_lut_rejects_bad_parameters():
    with pytest.raises(ValueError):
        make_input_lut([0.5], [0.0], 0.1, 0, 1)
    with pytest.raises(ValueError):
        make_input_lut([0.5, 0.5], [0.2, 0.2], 0.1, 0, 3)
    with pytest.raises(ValueError):
        make_input_lut([0.5], [0.2], float("nan"), 0, 1)
