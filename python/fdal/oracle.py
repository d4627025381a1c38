"""The numpy oracle: fdal's integer arithmetic and ranking keys, exactly as docs/quantization.md.

Every kernel of the C++ runtime must match these functions bit for bit. Tensors are batch-first
NHWC int8; heads are int32 accumulators. Convolutions use float64 matrix products, which are exact
here: every partial sum is an integer below K*127*255 <= 2^31 < 2^53.
"""
from __future__ import annotations

from fractions import Fraction
from math import factorial

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .format import LayerSpec, ModelSpec
from .quant import requantize
from .strategies import STRATEGIES, check_strategy  # noqa: F401 (oracle.STRATEGIES: the names it ranks by)

LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238  # 0x3FE62E42FEE00000: k * LN2_HI is exact for |k| < 2^11
LN2_LO = 1.9082149292705877e-10  # 0x3DEA39EF35793C76
SQRT_HALF = 0.7071067811865476  # float64 nearest sqrt(1/2)
EXP_COEFFS = tuple(float(Fraction(1, factorial(j))) for j in range(14))  # 1/j!, j = 0..13
LOG_COEFFS = tuple(float(Fraction(1, 2 * j + 1)) for j in range(12))  # 1/(2j+1), j = 0..11
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_ROWS_PER_CHUNK = 1 << 20  # im2col rows * K per matrix product, to bound memory


# ----------------------------------------------------------------------------------------------
# Deterministic exp / log (float64, IEEE +,-,*,/ and exact power-of-two scaling only)
# ----------------------------------------------------------------------------------------------


def det_exp(t):
    """exp(t) for t <= 709 by range reduction and a 13th-degree Taylor polynomial (Horner)."""
    t = np.asarray(t, dtype=np.float64)
    if np.any(np.isnan(t)) or np.any(t > 709.0):
        raise ValueError("det_exp: argument must not be NaN or > 709")
    underflow = t < -745.0
    t = np.where(underflow, 0.0, t)  # computed on a harmless value, replaced by 0 below
    k = np.floor(t * LOG2E + 0.5)
    r = (t - k * LN2_HI) - k * LN2_LO
    p = np.full_like(r, EXP_COEFFS[13])
    for coeff in EXP_COEFFS[12::-1]:
        p = coeff + r * p
    result = np.ldexp(p, k.astype(np.int64))
    return np.where(underflow, 0.0, result)


def det_log(s):
    """log(s) for finite s > 0 (used with s >= 1): frexp reduction and an atanh series (Horner)."""
    s = np.asarray(s, dtype=np.float64)
    if not np.all(np.isfinite(s)) or not np.all(s > 0):
        raise ValueError("det_log: argument must be finite and > 0")
    m, e = np.frexp(s)
    small = m < SQRT_HALF
    m = np.where(small, m * 2.0, m)
    e = np.where(small, e - 1, e).astype(np.float64)
    u = (m - 1.0) / (m + 1.0)
    u2 = u * u
    p = np.full_like(u, LOG_COEFFS[11])
    for coeff in LOG_COEFFS[10::-1]:
        p = coeff + u2 * p
    l = 2.0 * u * p
    return e * LN2_HI + (e * LN2_LO + l)


def sigmoid(x):
    """float64 sigmoid through det_exp, the branch by sign so det_exp only sees arguments <= 0."""
    x = np.asarray(x, dtype=np.float64)
    e = det_exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ----------------------------------------------------------------------------------------------
# Per-op integer kernels
# ----------------------------------------------------------------------------------------------


def apply_lut(lut, images):
    """uint8 (N, H, W, C) raw pixels -> int8 input tensor via lut[c, pixel]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}")
    lut = np.asarray(lut, dtype=np.int8)
    if lut.shape != (images.shape[3], 256):
        raise ValueError(f"lut shape {lut.shape} does not match {images.shape[3]} channels")
    return lut[np.arange(images.shape[3]), images]


def _finish(acc, multiplier, shift, out_zero_point, act_min, act_max):
    """int32 accumulators as they are (heads) or requantized to int8."""
    if multiplier is None:
        return acc.astype(np.int32)
    return requantize(acc, multiplier, shift, out_zero_point, act_min, act_max)


def conv2d_acc(x, weights, bias, stride, pad, in_zero_point):
    """int64 accumulators (N, oh, ow, out_c) of a convolution; padded taps read in_zero_point."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    out_c, kh, kw, wc = weights.shape
    if wc != c:
        raise ValueError(f"conv2d: weights have {wc} input channels, input has {c}")
    (sh, sw), (top, left, bottom, right) = stride, pad
    oh = (h + top + bottom - kh) // sh + 1
    ow = (w + left + right - kw) // sw + 1
    wmat = weights.reshape(out_c, kh * kw * c).astype(np.float64).T  # (K, out_c)
    out = np.empty((n, oh, ow, out_c), dtype=np.int64)
    step = max(1, _ROWS_PER_CHUNK // max(1, oh * ow * kh * kw * c))
    for s in range(0, n, step):
        xs = x[s:s + step].astype(np.float64) - in_zero_point  # padding with 0 == padding with zp
        xs = np.pad(xs, ((0, 0), (top, bottom), (left, right), (0, 0)))
        win = sliding_window_view(xs, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :oh, :ow]  # (b, oh, ow, c, kh, kw)
        cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * c)  # K in (kh, kw, c) order, like OHWI
        out[s:s + step] = (cols @ wmat).astype(np.int64).reshape(-1, oh, ow, out_c)
    return out + np.asarray(bias, dtype=np.int64)


def conv2d(x, weights, bias, stride, pad, in_zero_point, multiplier=None, shift=None,
           out_zero_point=0, act_min=-128, act_max=127):
    """CONV2D: int8 output (N, oh, ow, out_c), or int32 accumulators when multiplier is None."""
    acc = conv2d_acc(x, weights, bias, stride, pad, in_zero_point)
    return _finish(acc, multiplier, shift, out_zero_point, act_min, act_max)


def fully_connected(x, weights, bias, in_zero_point, multiplier=None, shift=None,
                    out_zero_point=0, act_min=-128, act_max=127):
    """FULLY_CONNECTED over the K values of each image in memory order -> (N, 1, 1, out_c)."""
    x = np.asarray(x)
    n = x.shape[0]
    flat = x.reshape(n, -1).astype(np.float64) - in_zero_point
    if flat.shape[1] != weights.shape[1]:
        raise ValueError(f"fully_connected: input has {flat.shape[1]} values, weights expect {weights.shape[1]}")
    acc = (flat @ weights.astype(np.float64).T).astype(np.int64) + np.asarray(bias, dtype=np.int64)
    return _finish(acc, multiplier, shift, out_zero_point, act_min, act_max).reshape(n, 1, 1, -1)


def max_pool(x, kernel, stride, pad=(0, 0, 0, 0)):
    """MAXPOOL over real taps only (padding never wins)."""
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, stride, pad
    n, h, w, c = x.shape
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    xp = np.pad(x.astype(np.int16), ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=-129)
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :oh, :ow]
    return win.max(axis=(-2, -1)).astype(np.int8)


def avg_pool(x, kernel, stride):
    """AVGPOOL: window sum rounded half away from zero over the tap count (C integer division)."""
    (kh, kw), (sh, sw) = kernel, stride
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    win = sliding_window_view(x.astype(np.int64), (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :oh, :ow]
    s = win.sum(axis=(-2, -1))
    cnt = kh * kw
    # On non-negative operands numpy's // is C's truncating division.
    out = np.where(s >= 0, (s + cnt // 2) // cnt, -((-s + cnt // 2) // cnt))
    return out.astype(np.int8)


def relu(x, zero_point):
    return np.maximum(x, np.int8(zero_point)).astype(np.int8)


def upsample_nearest(x, factor):
    fh, fw = factor
    return np.repeat(np.repeat(x, fh, axis=1), fw, axis=2)


def run_layer(layer: LayerSpec, x):
    """One layer on a batch-first tensor."""
    n = x.shape[0]
    if layer.op == "conv2d":
        return conv2d(x, layer.weights, layer.bias, layer.stride, layer.pad, layer.in_zero_point,
                      layer.multiplier, layer.shift, layer.out_zero_point, layer.act_min, layer.act_max)
    if layer.op == "fc":
        return fully_connected(x, layer.weights, layer.bias, layer.in_zero_point, layer.multiplier, layer.shift,
                               layer.out_zero_point, layer.act_min, layer.act_max)
    if layer.op == "maxpool":
        return max_pool(x, layer.kernel, layer.stride, layer.pad)
    if layer.op == "avgpool":
        return avg_pool(x, layer.kernel, layer.stride)
    if layer.op == "relu":
        return relu(x, layer.out_zero_point)
    if layer.op == "flatten":
        return x.reshape(n, 1, 1, -1)
    if layer.op == "upsample":
        return upsample_nearest(x, layer.kernel)
    raise ValueError(f"unknown op {layer.op!r}")


def _check_images(spec: ModelSpec, images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != tuple(spec.input_shape):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, spec.input_shape))}), got {images.shape}")
    return images


def run_layers(spec: ModelSpec, images) -> list:
    """Outputs of every layer, batch-first: int8 (N, h, w, c), int32 (N, 1, 1, c) for heads."""
    x0 = apply_lut(spec.lut, _check_images(spec, images))
    outputs = []
    for layer in spec.layers:
        outputs.append(run_layer(layer, x0 if layer.input == -1 else outputs[layer.input]))
    return outputs


def forward(spec: ModelSpec, images, batch_size: int = 256) -> dict:
    """Raw int32 heads and their float outputs (docs/quantization.md, "Heads and outputs")."""
    images = _check_images(spec, images)
    logits_raw, score_raw = [], []
    for s in range(0, max(len(images), 1), batch_size):
        outs = run_layers(spec, images[s:s + batch_size])
        logits_raw.append(outs[spec.logits_layer].reshape(-1, spec.num_classes))
        if spec.score_layer >= 0:
            score_raw.append(outs[spec.score_layer].reshape(-1))
    logits_raw = np.concatenate(logits_raw).astype(np.int32)
    logits_unit = np.float32(spec.layers[spec.logits_layer].out_scale)
    result = {
        "logits_raw": logits_raw,
        "logits": logits_raw.astype(np.float32) * logits_unit,
        "logits_unit": logits_unit,
        "score_raw": None, "score": None, "score_unit": None,
    }
    if spec.score_layer >= 0:
        score_raw = np.concatenate(score_raw).astype(np.int32)
        score_unit = np.float32(spec.layers[spec.score_layer].out_scale)
        x = score_raw.astype(np.float64) * np.float64(score_unit)
        result.update(score_raw=score_raw, score=sigmoid(x).astype(np.float32), score_unit=score_unit)
    return result


# ----------------------------------------------------------------------------------------------
# Ranking keys
# ----------------------------------------------------------------------------------------------


def mix64(z):
    """SplitMix64's finalizer on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64).copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def random_keys(n: int, start_index: int = 0, seed: int = 0):
    """mix64(seed + GOLDEN_GAMMA * (i + 1)) for pool indices i = start_index .. start_index + n - 1."""
    i1 = np.arange(start_index + 1, start_index + n + 1, dtype=np.uint64)
    z = np.uint64(seed % 2**64) + np.uint64(GOLDEN_GAMMA) * i1  # array arithmetic wraps silently
    return mix64(z)


def entropy_keys(logits_raw, unit):
    """-H of the softmax of float64(acc) * unit, sums in class order (docs/quantization.md)."""
    x = np.asarray(logits_raw).astype(np.float64) * np.float64(np.float32(unit))
    d = x - x.max(axis=1, keepdims=True)
    e = det_exp(d)
    total = e[:, 0].copy()
    weighted = e[:, 0] * d[:, 0]
    for c in range(1, x.shape[1]):
        total = total + e[:, c]
        weighted = weighted + e[:, c] * d[:, c]
    return -(det_log(total) - weighted / total)


def keys(out: dict, strategy: str, start_index: int = 0, seed: int = 0, unit=None):
    """Ranking keys of a forward() result; smaller keys are ranked first.

    `unit` (the logits layer's out_scale) defaults to out["logits_unit"]; only entropy needs it.
    """
    check_strategy(strategy, has_sampler=out.get("score_raw") is not None)
    if strategy == "fdal":
        return np.asarray(out["score_raw"]).astype(np.int64)
    if strategy == "margin":
        top = np.sort(np.asarray(out["logits_raw"]).astype(np.int64), axis=1)
        return top[:, -1] - top[:, -2]
    if strategy == "entropy":
        unit = out.get("logits_unit") if unit is None else unit
        if unit is None:
            raise ValueError("strategy 'entropy' needs the logits unit (pass unit= or out['logits_unit'])")
        return entropy_keys(out["logits_raw"], unit)
    if strategy == "random":
        return random_keys(len(out["logits_raw"]), start_index, seed)
    # Reached only by a name added to fdal.strategies without its key here.
    raise NotImplementedError(f"the oracle has no ranking key for strategy {strategy!r}")


def rank(spec: ModelSpec, pool, k: int, strategy: str = "fdal", seed: int = 0, batch_size: int = 256):
    """Indices (int64, (k,)) of the k images with the smallest keys, ascending, ties to lower index."""
    check_strategy(strategy, has_sampler=spec.score_layer >= 0)
    pool = _check_images(spec, pool)
    if not 0 <= k <= len(pool):
        raise ValueError(f"k = {k} must be in 0..{len(pool)} (the pool size)")
    chunks = []
    for s in range(0, len(pool), batch_size):
        out = forward(spec, pool[s:s + batch_size], batch_size)
        chunks.append(keys(out, strategy, start_index=s, seed=seed))
    all_keys = np.concatenate(chunks) if chunks else np.zeros(0)
    return np.argsort(all_keys, kind="stable")[:k].astype(np.int64)
