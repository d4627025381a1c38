"""Models whose requantization meets exact rounding ties, and the edges of docs/quantization.md.

A calibrated multiplier has ~31 significant bits, so `acc * multiplier` almost never lands exactly
half-way between two outputs and a rounding-direction bug (e.g. negative ties away from zero)
goes unseen. Here every int8 layer's multiplier is a power of two, 2^30, with the shift chosen so
that multiplier * 2^-shift is the calibrated scale rounded to a power of two: outputs keep their
calibrated range; weights and biases are rounded to multiples of 2^(shift-31), so that about half
the accumulators are exact ties. No ReLU is fused
(a ReLU clamps the negative ties away), zero points sit at both ends of the int8 range in two
layers, and one layer's bias puts half its accumulators next to the int32 bounds.

`tie_counts` says how many ties a model meets on given images (through the oracle), so tests can
check that their cases have the power they claim.
"""
from __future__ import annotations

import numpy as np

from .. import oracle
from ..format import ModelSpec, validate
from .builder import ModelBuilder

POWER_OF_TWO_MULTIPLIER = 2**30


def _power_of_two_requantization(layer, zero_point=None) -> None:
    """multiplier 2^30 and shift s': the calibrated scale m * 2^-s rounded to a power of two, so
    outputs keep their range; then weights and bias rounded to multiples of 2^j, j = s' - 31
    (at most 6, so that some weights stay nonzero), so that every accumulator is a multiple of 2^j
    and about half of them are exact ties (acc / 2^(s'-30) = integer + 1/2)."""
    m = layer.multiplier.astype(np.float64)
    s = layer.shift.astype(np.int64)
    # m * 2^-s = 2^(30 - s'), with s' = s - round(log2(m / 2^30)) (m in [2^30, 2^31): s' in {s-1, s})
    shift = np.clip(s - np.round(np.log2(m / POWER_OF_TWO_MULTIPLIER)).astype(np.int64), 31, 62)
    j = np.minimum(shift - 31, 6)
    grain = np.left_shift(np.int64(1), j)
    w = layer.weights.astype(np.int64)
    g = grain.reshape((-1,) + (1,) * (w.ndim - 1))
    layer.weights = (np.clip(np.round(w / g), -(127 // g), 127 // g) * g).astype(np.int8)
    layer.bias = (np.round(layer.bias.astype(np.int64) / grain) * grain).astype(np.int32)
    layer.multiplier = np.full_like(layer.multiplier, POWER_OF_TWO_MULTIPLIER)
    layer.shift = shift.astype(np.int32)  # shift >= 31: a tie is exactly t + 1/2
    if zero_point is not None:
        layer.out_zero_point = int(zero_point)
        layer.act_min, layer.act_max = -128, 127


def tie_model(seed: int, input_shape=(6, 6, 5)) -> ModelSpec:
    """conv (17-70 channels, full SIMD blocks plus leftovers) -> conv (the embedding) -> conv -> fc
    -> logits and score heads, every int8
    layer with power-of-two requantization and no fused ReLU; zero points -128 and 127 in two
    layers; half the last conv's channels with accumulators next to +-2^31 (their bias)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder(input_shape, seed=seed)
    b.conv2d(int(rng.integers(17, 71)), (3, 3), pad=(1, 1, 1, 1), relu=False)
    b.conv2d(int(rng.integers(17, 71)), (1, 1), relu=False)
    b.embedding()  # compared directly in forward's output, not only through the heads
    b.conv2d(int(rng.integers(17, 40)), (2, 2), stride=(2, 2), relu=False)
    b.flatten()
    feature = b.fc(int(rng.integers(17, 70)), relu=False)
    b.fc(10, head="logits", input=feature)
    b.fc(1, head="score", input=feature)
    spec = b.build(n_calibration=32)
    int8_layers = [layer for layer in spec.layers if layer.op in ("conv2d", "fc") and layer.out_kind == "int8"]
    zero_points = [None, 127, None, -128]  # 127: negative ties visible, positive t saturates; -128: the reverse
    for layer, zp in zip(int8_layers, zero_points):
        _power_of_two_requantization(layer, zp)
    _near_int32_bounds(int8_layers[2])
    _propagate_zero_points(spec)
    validate(spec)
    return spec


def _propagate_zero_points(spec: ModelSpec) -> None:
    """Each layer reads its producer's zero point; layers without requantization pass it on."""
    for layer in spec.layers:
        zp = spec.input_zero_point if layer.input == -1 else spec.layers[layer.input].out_zero_point
        layer.in_zero_point = zp
        if layer.op not in ("conv2d", "fc"):
            layer.out_zero_point = zp
            if layer.op == "relu":
                layer.act_min = zp


def _near_int32_bounds(layer) -> None:
    """Even channels: bias +-(2^31 - 1 - fan-in bound), so accumulators sit next to the int32
    bounds, with multiplier 2^31 - 1 and shift 55 (64-bit products near 2^62; shifts above 54
    take the kernels' unfolded zero point form) or shift 32 on every fourth (t far beyond int8:
    saturation both ways). Odd channels keep their ties."""
    fan_in = int(np.prod(layer.weights.shape[1:]))
    limit = 2**31 - 1 - fan_in * 127 * 255
    bias = layer.bias.astype(np.int64)
    bias[0::4] = limit
    bias[2::4] = -limit
    layer.bias = bias.astype(np.int32)
    layer.multiplier[0::2] = 2**31 - 1
    layer.shift[0::2] = 55
    layer.shift[0::4] = 32


def requantize_with_negative_ties_away_from_zero(acc, multiplier, shift, out_zp, act_min, act_max):
    """The planted bug of issue 21: round-half-up except that negative exact ties go away from
    zero. Tests use it to show that the tie cases tell it from the real rule."""
    acc = np.asarray(acc).astype(np.int64)
    multiplier = np.asarray(multiplier).astype(np.int64)
    shift = np.asarray(shift).astype(np.int64)
    product = acc * multiplier
    rounding = np.left_shift(np.int64(1), shift - 1)
    t = np.right_shift(product + rounding, shift)
    tie = (product & (np.left_shift(np.int64(1), shift) - 1)) == rounding
    t = np.where(tie & (product < 0), t - 1, t)
    return np.clip(t + int(out_zp), int(act_min), int(act_max)).astype(np.int8)


def tie_counts(spec: ModelSpec, images) -> dict:
    """Per int8 layer index: (exact ties, negative ties the output range keeps visible) on these
    images, from the oracle's own accumulators."""
    counts = {}
    acts = {-1: oracle.apply_lut(spec.lut, np.asarray(images))}
    for i, layer in enumerate(spec.layers):
        x = acts[layer.input]
        acts[i] = oracle.run_layer(layer, x)
        if layer.op not in ("conv2d", "fc") or layer.out_kind != "int8":
            continue
        if layer.op == "conv2d":
            acc = oracle.conv2d_acc(x, layer.weights, layer.bias, layer.stride, layer.pad, layer.in_zero_point)
        else:
            acc = oracle.fully_connected(x, layer.weights, layer.bias, layer.in_zero_point).astype(np.int64)
        acc = acc.reshape(-1, acc.shape[-1]).astype(np.int64)
        m = layer.multiplier.astype(np.int64)
        s = layer.shift.astype(np.int64)
        product = acc * m
        half = np.left_shift(np.int64(1), s - 1)
        tie = (product & (np.left_shift(np.int64(1), s) - 1)) == half
        t = np.right_shift(product + half, s) + layer.out_zero_point
        # the bug's t - 1 is visible unless both clamp to act_min (or t already clamps at the top)
        visible = tie & (product < 0) & (t - 1 >= layer.act_min) & (t - 1 < layer.act_max)
        counts[i] = (int(tie.sum()), int(visible.sum()))
    return counts
