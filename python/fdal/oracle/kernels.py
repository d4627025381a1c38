"""The per-op integer kernels: the numpy ground truth of csrc/kernels/reference/, one function per op.

Tensors are batch-first NHWC int8; heads are int32 accumulators. Convolutions use float64 matrix
products, which are exact here: every partial sum is an integer below K*127*255 <= 2^31 < 2^53.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..quant import requantize

_ROWS_PER_CHUNK = 1 << 20  # im2col rows * K per matrix product, to bound memory


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
