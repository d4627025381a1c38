"""ModelBuilder: seeded random int8 models, layer by layer, calibrated through the oracle.

Weights are random int8 with per-channel float scales; every int8 layer's output scale and zero
point are calibrated from the integer accumulators of a few hundred seeded images run through the
oracle, so activations neither saturate nor collapse to zero.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import oracle
from ..format import LayerSpec, ModelSpec, layer_output_shape, validate
from ..quant import choose_activation_qparams, make_input_lut, quantize_multiplier
from .images import random_images

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
_BIAS_LIMIT = 2**31 - 1


@dataclass
class _Pending:
    """A layer added but not built yet."""

    layer: LayerSpec  # its op, input and shapes; build() fills in the quantization and the arrays
    relu: bool = False
    head: Optional[str] = None


class ModelBuilder:
    """Add layers (each returns its index; input=None reads the last layer), then build()."""

    def __init__(self, input_shape=(32, 32, 3), seed: int = 0, mean=None, std=None):
        self.input_shape = tuple(int(v) for v in input_shape)
        c = self.input_shape[2]
        default_mean, default_std = (CIFAR_MEAN, CIFAR_STD) if c == 3 else ((0.5,) * c, (0.25,) * c)
        self.mean = np.asarray(default_mean if mean is None else mean, dtype=np.float32)
        self.std = np.asarray(default_std if std is None else std, dtype=np.float32)
        self.seed = seed
        self._pending: list = []
        self._embedding = -1

    def output_shape(self, index=None) -> tuple:
        """(h, w, c) of layer `index`'s output: -1 is the model input, None the last layer added
        (the model input while there is none)."""
        src = len(self._pending) - 1 if index is None else int(index)
        if not -1 <= src < len(self._pending):
            raise ValueError(f"input {src} is not an existing layer")  # worded for _add, its main caller
        return self.input_shape if src == -1 else self._pending[src].layer.out_shape

    def _add(self, op, input, out_c=None, kernel=(0, 0), stride=(0, 0), pad=(0, 0, 0, 0), relu=False, head=None):
        src = len(self._pending) - 1 if input is None else int(input)
        in_shape = self.output_shape(src)
        out_shape = layer_output_shape(op, in_shape, kernel, stride, pad, out_c)
        layer = LayerSpec(op, src, in_shape, out_shape, tuple(kernel), tuple(stride), tuple(pad))
        self._pending.append(_Pending(layer, relu, head))
        return len(self._pending) - 1

    def conv2d(self, out_c, kernel=(3, 3), stride=(1, 1), pad=(0, 0, 0, 0), relu=True, input=None) -> int:
        return self._add("conv2d", input, out_c, kernel, stride, pad, relu)

    def maxpool(self, kernel, stride=None, pad=(0, 0, 0, 0), input=None) -> int:
        return self._add("maxpool", input, None, kernel, kernel if stride is None else stride, pad)

    def avgpool(self, kernel, stride=None, input=None) -> int:
        return self._add("avgpool", input, None, kernel, kernel if stride is None else stride)

    def relu(self, input=None) -> int:
        return self._add("relu", input)

    def flatten(self, input=None) -> int:
        return self._add("flatten", input)

    def upsample(self, factor, input=None) -> int:
        return self._add("upsample", input, None, tuple(factor))

    def fc(self, out_c, relu=True, head=None, input=None) -> int:
        """head: None (int8 layer), "logits" or "score" (int32 accumulators, one weight scale)."""
        if head not in (None, "logits", "score"):
            raise ValueError(f"head must be None, 'logits' or 'score', got {head!r}")
        return self._add("fc", input, out_c, relu=relu and head is None, head=head)

    def embedding(self, index=None) -> int:
        """Designate layer `index` (None: the last layer added) as the model's embedding output."""
        src = len(self._pending) - 1 if index is None else int(index)
        if not 0 <= src < len(self._pending):
            raise ValueError(f"embedding {src} is not an existing layer")
        self._embedding = src
        return src

    def build(self, calibration_images=None, n_calibration: int = 256) -> ModelSpec:
        """Draw weights and calibrate every int8 layer on seeded (or given) images."""
        heads = {p.head: i for i, p in enumerate(self._pending) if p.head}
        if "logits" not in heads:
            raise ValueError("the model needs an fc layer with head='logits'")
        rng = np.random.default_rng(self.seed)
        images = (random_images(self.seed + 1, n_calibration, self.input_shape)
                  if calibration_images is None else np.asarray(calibration_images))
        c = self.input_shape[2]
        lo = float(np.min((0.0 - self.mean.astype(np.float64)) / self.std))
        hi = float(np.max((1.0 - self.mean.astype(np.float64)) / self.std))
        in_scale, in_zp = choose_activation_qparams(lo, hi)
        lut = make_input_lut(self.mean, self.std, in_scale, in_zp, c)
        acts = {-1: oracle.apply_lut(lut, images)}
        qparams = {-1: (in_scale, in_zp)}
        layers = []
        for i, p in enumerate(self._pending):
            src = p.layer.input
            layer = _build_layer(p, qparams[src], acts[src], rng)
            layers.append(layer)
            acts[i] = oracle.run_layer(layer, acts[src])
            qparams[i] = (layer.out_scale, layer.out_zero_point)
        spec = ModelSpec(self.input_shape, layers[heads["logits"]].out_shape[2], in_scale, in_zp,
                         self.mean.copy(), self.std.copy(), lut, layers, heads["logits"], heads.get("score", -1),
                         embedding_layer=self._embedding)
        validate(spec)
        return spec


def _build_layer(p: _Pending, in_q, x, rng) -> LayerSpec:
    """A LayerSpec for a pending layer, calibrated on the calibration activations x."""
    in_scale, in_zp = in_q
    layer = p.layer

    def built(**quantization) -> LayerSpec:
        return dataclasses.replace(layer, in_scale=in_scale, in_zero_point=in_zp, **quantization)

    if layer.op not in ("conv2d", "fc"):
        return built(out_scale=in_scale, out_zero_point=in_zp,
                     act_min=in_zp if layer.op == "relu" else -128, act_max=127)
    out_c = layer.out_shape[2]
    h, w, c = layer.in_shape
    k = layer.kernel[0] * layer.kernel[1] * c if layer.op == "conv2d" else h * w * c
    wshape = (out_c, layer.kernel[0], layer.kernel[1], c) if layer.op == "conv2d" else (out_c, k)
    # Bell-shaped int8 weights filling most of [-127, 127]; He-like real scale per channel.
    weights = np.clip(np.round(rng.normal(0, 45, wshape)), -127, 127).astype(np.int8)
    he = np.sqrt(2.0 / k) / 45.0
    if p.head:
        wscale = np.full(out_c, np.float32(he * rng.uniform(0.5, 1.5)), dtype=np.float32)
    else:
        wscale = (he * rng.uniform(0.5, 1.5, out_c)).astype(np.float32)
    zeros = np.zeros(out_c, dtype=np.int32)
    if layer.op == "conv2d":
        acc = oracle.conv2d_acc(x, weights, zeros, layer.stride, layer.pad, in_zp).reshape(-1, out_c)
    else:
        acc = oracle.fully_connected(x, weights, zeros, in_zp).reshape(-1, out_c).astype(np.int64)
    limit = _BIAS_LIMIT - k * 127 * 255
    centre = -acc.mean(axis=0) if p.head and acc.size else 0.0  # heads: outputs centred near 0
    spread = acc.std(axis=0) if acc.size else 0.0
    bias = np.clip(np.round(centre + rng.normal(0, 0.5, out_c) * (spread + 1.0)), -limit, limit).astype(np.int32)
    if p.head:
        # Heads get one scale that puts the real outputs at a float model's magnitude (std ~2).
        spread = float(np.std(acc + bias.astype(np.int64))) if acc.size else 0.0
        wscale[:] = np.float32(2.0 / (np.float64(np.float32(in_scale)) * max(spread, 1.0)))
        unit = float(np.float32(np.float64(np.float32(in_scale)) * np.float64(wscale[0])))
        return built(out_scale=unit, out_zero_point=0, act_min=-128, act_max=127, out_kind="int32",
                     weights=weights, bias=bias, weight_scale=wscale)
    real = (acc + bias) * (np.float64(np.float32(in_scale)) * wscale.astype(np.float64))
    lo, hi = np.percentile(real, [0.1, 99.9]) if real.size else (0.0, 0.0)
    out_scale, out_zp = choose_activation_qparams(0.0 if p.relu else lo, hi)
    multiplier, shift = quantize_multiplier(np.float64(np.float32(in_scale)) * wscale.astype(np.float64)
                                            / np.float64(out_scale))
    return built(out_scale=out_scale, out_zero_point=out_zp, act_min=out_zp if p.relu else -128, act_max=127,
                 out_kind="int8", weights=weights, bias=bias, multiplier=multiplier, shift=shift, weight_scale=wscale)


def build_with_identity_head(b: ModelBuilder, n_calibration: int) -> ModelSpec:
    """Add a logits head reading the last layer (the model input when there is none) and build;
    the head's weights become the identity (zero bias), so logits_raw is exactly that layer's int8
    output minus its zero point."""
    b.fc(int(np.prod(b.output_shape())), head="logits")
    spec = b.build(n_calibration=n_calibration)
    head = spec.layers[spec.logits_layer]
    k = int(np.prod(head.in_shape))
    head.weights = np.eye(k, dtype=np.int8)
    head.bias = np.zeros(k, dtype=np.int32)
    validate(spec)
    return spec
