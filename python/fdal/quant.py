"""Quantization helpers shared by the writer, the exporter and the oracle (docs/quantization.md).

Everything here is float64/int64 numpy so results are the same on every machine.
"""
from __future__ import annotations

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def round_half_away(x):
    """Round to the nearest integer, ties away from zero (C's round(), not np.round).

    Computed as trunc(x) plus a correction from the exact fractional part, so values
    just below one half (0.49999999999999994) are not rounded up by an inexact x + 0.5.
    Returns float64 (an array for array input, a numpy scalar for scalar input).
    """
    x = np.asarray(x, dtype=np.float64)
    whole = np.trunc(x)
    frac = x - whole  # exact for every finite float64
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(frac), 0.0)


def _as_f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def quantize_multiplier(real):
    """Q31 multiplier and right shift with real ~= multiplier * 2**-shift (docs/quantization.md).

    Vectorized over any shape. Returns (multiplier int32, shift int32) arrays of real's shape.
    Raises ValueError if any value is not finite and > 0 or its shift falls outside [1, 62].
    """
    real = np.asarray(real, dtype=np.float64)
    if not np.all(np.isfinite(real)) or not np.all(real > 0):
        raise ValueError(f"quantize_multiplier: every real multiplier must be finite and > 0, got {real}")
    m, e = np.frexp(real)
    q = round_half_away(m * 2.0**31)  # m * 2^31 is exact; q in [2^30, 2^31]
    carry = q == 2.0**31
    q = np.where(carry, 2.0**30, q)
    e = np.where(carry, e + 1, e)
    shift = 31 - e.astype(np.int64)
    if np.any(shift < 1) or np.any(shift > 62):
        bad = real[(shift < 1) | (shift > 62)]
        raise ValueError(f"quantize_multiplier: shift outside [1, 62] for real multiplier(s) {bad}")
    return q.astype(np.int32), shift.astype(np.int32)


def choose_activation_qparams(min_value: float, max_value: float):
    """Asymmetric int8 (scale, zero_point) covering [min, max] extended to contain 0.

    Real 0 is exactly representable (it is zero_point). scale is returned as a Python float
    that is exactly a float32 (the file stores f32). A degenerate range [0, 0] gets scale 1.
    """
    lo = float(min(min_value, 0.0))
    hi = float(max(max_value, 0.0))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"choose_activation_qparams: range must be finite, got [{min_value}, {max_value}]")
    if hi == lo:
        return 1.0, 0
    scale = float(np.float32((hi - lo) / 255.0))
    if not scale > 0:
        raise ValueError(f"choose_activation_qparams: range [{lo}, {hi}] is too small for a float32 scale")
    zero_point = int(round_half_away(-128.0 - lo / scale))
    return scale, int(np.clip(zero_point, -128, 127))


def _weight_scales_from_absmax(absmax: np.ndarray) -> np.ndarray:
    # An all-zero channel gets the largest other scale (any positive value would do).
    scales = absmax / 127.0
    positive = scales[scales > 0]
    fill = positive.max() if positive.size else 1.0
    return _as_f32(np.where(scales > 0, scales, fill))


def quantize_weights_per_channel(w_float, axis: int = 0):
    """Symmetric int8 weights in [-127, 127] with one float32 scale per index along `axis`.

    Returns (int8 weights of w's shape, float32 scales of shape (w.shape[axis],)).
    """
    w = np.asarray(w_float, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("quantize_weights_per_channel: weights must be finite")
    moved = np.moveaxis(w, axis, 0)
    absmax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scales = _weight_scales_from_absmax(absmax)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(round_half_away(w / scales.astype(np.float64).reshape(shape)), -127, 127)
    return q.astype(np.int8), scales


def quantize_weights_per_tensor(w_float):
    """Symmetric int8 weights in [-127, 127] with one float32 scale (returned as a Python float)."""
    w = np.asarray(w_float, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("quantize_weights_per_tensor: weights must be finite")
    scale = _weight_scales_from_absmax(np.array([np.abs(w).max() if w.size else 0.0]))[0]
    q = np.clip(round_half_away(w / np.float64(scale)), -127, 127)
    return q.astype(np.int8), float(scale)


def quantize_bias(b, in_scale, w_scales):
    """int32 bias: clamp(round_half_away(b / (in_scale * w_scale[c])), int32 range)."""
    b = np.asarray(b, dtype=np.float64)
    unit = np.float64(np.float32(in_scale)) * np.asarray(w_scales, dtype=np.float32).astype(np.float64)
    if not np.all(unit > 0) or not np.all(np.isfinite(unit)):
        raise ValueError("quantize_bias: in_scale * weight_scale must be finite and > 0")
    q = round_half_away(b / unit)
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32)


def make_input_lut(mean, std, input_scale, input_zero_point, channels: int):
    """(channels, 256) int8 table turning raw pixels into the first layer's int8 input.

    lut[c, p] = clamp(round_half_away((p/255 - mean[c]) / std[c] / input_scale) + zp, -128, 127)
    in float64, with mean, std and input_scale taken at their float32 values (as stored).
    """
    mean = _as_f32(mean).astype(np.float64).reshape(-1)
    std = _as_f32(std).astype(np.float64).reshape(-1)
    if mean.shape != (channels,) or std.shape != (channels,):
        raise ValueError(f"make_input_lut: mean and std need {channels} values, got {mean.size} and {std.size}")
    if not np.all(std > 0) or not np.all(np.isfinite(std)) or not np.all(np.isfinite(mean)):
        raise ValueError("make_input_lut: mean must be finite and std finite and > 0")
    scale = np.float64(np.float32(input_scale))
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"make_input_lut: input_scale must be finite and > 0, got {input_scale}")
    pixels = np.arange(256, dtype=np.float64) / 255.0
    normalized = (pixels[None, :] - mean[:, None]) / std[:, None] / scale
    q = round_half_away(normalized) + int(input_zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def requantize(acc, multiplier, shift, out_zp, act_min, act_max):
    """Single-rounding requantization of int32 accumulators to int8 (docs/quantization.md).

    acc: integer array whose last axis is the channel; multiplier, shift: per channel (or scalar).
    t = (acc * multiplier + 2^(shift-1)) >> shift; out = clamp(t + out_zp, act_min, act_max).
    """
    acc = np.asarray(acc).astype(np.int64)
    multiplier = np.asarray(multiplier).astype(np.int64)
    shift = np.asarray(shift).astype(np.int64)
    rounding = np.left_shift(np.int64(1), shift - 1)
    t = np.right_shift(acc * multiplier + rounding, shift)  # arithmetic shift: floor
    return np.clip(t + int(out_zp), int(act_min), int(act_max)).astype(np.int8)
