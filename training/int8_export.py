"""Export a trained student + sampler to an int8 .fdal file (docs/export.md).

    import fdal.training as ft
    spec = ft.export(student, sampler, calibration_images, "student.fdal")   # uint8 NHWC images

Steps: lower the PyTorch modules to float ops in HWC layout (export_graph.py: BatchNorm folded,
ReLU fused, AdaptiveAvgPool replication folded into the first Linear, Linear columns permuted);
calibrate every int8 tensor's range on the calibration images with forward hooks (min/max,
percentile or MSE-optimal clipping); quantize per docs/quantization.md; write with
fdal.format.write_model (which re-reads and validates the bytes).
"""
from __future__ import annotations


import numpy as np
import torch

from fdal import format as fmt
from fdal import quant

from .data.model_input import nhwc_pixels_to_unit_float
from .export_graph import FloatOp, lower_model

METHODS = ("minmax", "percentile", "mse")
EMBEDDINGS = ("student", "decoder", None)  # what the file's embedding output is (docs/export.md)
_SAMPLE_CAP = 1 << 20        # values kept per tensor for percentile / MSE calibration
_MSE_SAMPLE = 1 << 17        # of which the MSE search (41 candidate ranges) uses this many
_BATCH = 256


def export(student, sampler, calibration_images, path=None, *, method="minmax", percentile=99.99,
           seed=0, embedding="student", decoder=None) -> fmt.ModelSpec:
    """Quantize `student` (+ `sampler`, or None) to int8 and write `path` (skipped when None).

    calibration_images: uint8 (N, H, W, C) raw pixels; method: "minmax", "percentile" (clip each
    activation to its [100-p, p] percentiles) or "mse" (clip minimizing the quantization MSE).
    embedding: the file's per-image embedding output: "student" (default; z, the tensor the sampler
    reads, free), "decoder" (the output of `decoder`, e.g. models.Decoder reading z, exported as an
    extra branch: ~4x the student's multiply-accumulates) or None (no embedding).
    Returns the ModelSpec written. Raises ValueError naming the module that cannot be represented.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
    if (embedding == "decoder") != (decoder is not None):
        raise ValueError("embedding='decoder' needs decoder=<the trained decoder module>" if decoder is None else
                         f"decoder= is exported only with embedding='decoder' (got embedding={embedding!r})")
    if not 50.0 < float(percentile) <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], got {percentile}")
    images = _check_images(calibration_images)
    mean, std = _normalization(student, images.shape[3])
    n, h, w, c = images.shape
    lowered = lower_model(student, sampler, (h, w, c), decoder)
    ranges = calibrate(student, sampler, lowered.ops, images, method, float(percentile), seed, decoder=decoder)
    embedding_op = {"student": lowered.z_op, "decoder": lowered.decoder_op, None: -1}[embedding]
    if embedding == "student" and embedding_op < 0:
        raise ValueError("embedding='student': z is the model input itself, not a tensor of the student")
    if embedding_op >= 0 and np.prod(lowered.ops[embedding_op].out_shape) > fmt.MAX_EMBEDDING_VALUES:
        raise ValueError(f"embedding={embedding!r}: {lowered.ops[embedding_op].name} gives "
                         f"{int(np.prod(lowered.ops[embedding_op].out_shape))} values per image, more than the "
                         f"format's {fmt.MAX_EMBEDDING_VALUES}; export with embedding=None")
    spec = quantize(lowered.ops, ranges, (h, w, c), mean, std, lowered.logits_op, lowered.score_op, embedding_op)
    fmt.write_model(spec, path)
    return spec


def _check_images(images) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"calibration_images must be uint8 raw pixels (N, H, W, C), got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"calibration_images must be a non-empty (N, H, W, C) array, got shape {images.shape}")
    return images


def _normalization(student, channels: int):
    mean, std = getattr(student, "mean", None), getattr(student, "std", None)
    if not (torch.is_tensor(mean) and torch.is_tensor(std)):
        raise ValueError("student has no `mean`/`std` buffers (fdal.training.models.NormalizedInput): the file's "
                         "input lookup table is built from them")
    mean = mean.detach().cpu().float().numpy().reshape(-1)
    std = std.detach().cpu().float().numpy().reshape(-1)
    if mean.size != channels:
        raise ValueError(f"student normalizes {mean.size} channels but calibration_images have {channels}")
    return mean, std


class _Stats:
    """Exact min/max plus a bounded random sample of one tensor's values."""

    def __init__(self, rng):
        self.lo, self.hi, self.rng, self.parts, self.kept = np.inf, -np.inf, rng, [], 0

    def add(self, t: torch.Tensor, per_batch: int):
        v = t.detach().reshape(-1).float().cpu().numpy()
        self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))
        if v.size > per_batch:
            v = v[self.rng.choice(v.size, per_batch, replace=False)]
        self.parts.append(v.astype(np.float64))

    def sample(self) -> np.ndarray:
        return np.concatenate(self.parts)


def calibrate(student, sampler, ops: list, images: np.ndarray, method: str, percentile: float,
              seed: int = 0, decoder=None) -> dict:
    """{op index: (lo, hi)} real range of every int8 conv/fc output, from forward hooks on the
    modules producing them, run over the calibration images in float (the decoder, when given,
    reads z as the sampler does)."""
    rng = np.random.default_rng(seed)
    wanted = {op.tap: i for i, op in enumerate(ops) if op.op in ("conv2d", "fc") and op.head is None}
    stats = {i: _Stats(rng) for i in wanted.values()}
    batches = max(1, -(-len(images) // _BATCH))
    per_batch = max(1, _SAMPLE_CAP // batches)
    handles = []
    for prefix, root in (("student", student), ("sampler", sampler), ("decoder", decoder)):
        if root is None:
            continue
        for name, mod in root.named_modules():
            full = f"{prefix}.{name}" if name else prefix
            if full in wanted:
                # Stats are taken inside the hook, before an in-place ReLU can change the tensor.
                handles.append(mod.register_forward_hook(
                    lambda m, a, out, i=wanted[full]: stats[i].add(out, per_batch)))
    try:
        with torch.no_grad():
            for s in range(0, len(images), _BATCH):
                z, _ = student(nhwc_pixels_to_unit_float(images[s:s + _BATCH]))
                if sampler is not None:
                    (sampler.logit if hasattr(sampler, "logit") else sampler)(z)
                if decoder is not None:
                    decoder(z)
    finally:
        for h in handles:
            h.remove()
    return {i: _choose_range(st, ops[i].relu, method, percentile) for i, st in stats.items()}


def _choose_range(st: _Stats, relu: bool, method: str, percentile: float):
    lo, hi = (0.0 if relu else min(st.lo, 0.0)), max(st.hi, 0.0)
    if method == "minmax" or hi == lo:
        return lo, hi
    x = st.sample()
    if method == "percentile":
        plo, phi = np.percentile(x, [100.0 - percentile, percentile])
        return (0.0 if relu else min(float(plo), 0.0)), max(float(phi), 0.0)
    # MSE: shrink the min/max range by a common factor; keep the factor with the least squared error.
    x = x[np.random.default_rng(0).choice(x.size, _MSE_SAMPLE, replace=False)] if x.size > _MSE_SAMPLE else x
    best, best_err = (lo, hi), np.inf
    for f in np.linspace(0.2, 1.0, 41):
        scale, zp = quant.choose_activation_qparams(lo * f, hi * f)
        q = np.clip(quant.round_half_away(x / scale) + zp, -128, 127)
        err = float(np.mean(((q - zp) * scale - x) ** 2))
        if err < best_err:
            best, best_err = (lo * f, hi * f), err
    return best


def input_qparams(mean: np.ndarray, std: np.ndarray):
    """Scale and zero point covering exactly the normalized range of pixels 0..255 (float32 stats)."""
    m, s = mean.astype(np.float32).astype(np.float64), std.astype(np.float32).astype(np.float64)
    return quant.choose_activation_qparams(float(np.min((0.0 - m) / s)), float(np.max((1.0 - m) / s)))


def quantize(ops: list, ranges: dict, input_hwc: tuple, mean, std, logits_op: int, score_op: int,
             embedding_op: int = -1) -> fmt.ModelSpec:
    """The int8 ModelSpec of lowered float ops with calibrated ranges (docs/quantization.md)."""
    in_scale, in_zp = input_qparams(mean, std)
    lut = quant.make_input_lut(mean, std, in_scale, in_zp, input_hwc[2])
    qp = {-1: (in_scale, in_zp)}
    layers = []
    for i, op in enumerate(ops):
        s_in, zp_in = qp[op.input]
        common = dict(op=op.op, input=op.input, in_shape=tuple(op.in_shape), out_shape=tuple(op.out_shape),
                      kernel=tuple(op.kernel), stride=tuple(op.stride), pad=tuple(op.pad),
                      in_scale=s_in, in_zero_point=zp_in)
        if op.op not in ("conv2d", "fc"):
            layers.append(fmt.LayerSpec(**common, out_scale=s_in, out_zero_point=zp_in,
                                        act_min=zp_in if op.op == "relu" else -128, act_max=127))
        elif op.head is not None:
            layers.append(_head_layer(op, common, s_in))
        else:
            layers.append(_int8_layer(op, common, s_in, ranges[i]))
        qp[i] = (layers[-1].out_scale, layers[-1].out_zero_point)
    num_classes = ops[logits_op].out_shape[2]
    return fmt.ModelSpec(tuple(input_hwc), num_classes, in_scale, in_zp, np.asarray(mean, np.float32),
                         np.asarray(std, np.float32), lut, layers, logits_op, score_op, embedding_layer=embedding_op)


def _check_bias(op: FloatOp, bias: np.ndarray, k: int):
    limit = 2**31 - 1 - k * 127 * 255
    if np.abs(bias.astype(np.int64)).max(initial=0) > limit:
        raise ValueError(f"{op.name}: the quantized bias (max |{int(np.abs(bias.astype(np.int64)).max())}|) is too "
                         f"large for fan-in {k} (int32 accumulator could overflow); the bias dwarfs the weights")


def _fan_in(op: FloatOp) -> int:
    return int(np.prod(op.weight.shape[1:]))


def _int8_layer(op: FloatOp, common: dict, s_in: float, rng) -> fmt.LayerSpec:
    w_q, w_scale = quant.quantize_weights_per_channel(op.weight, axis=0)
    bias = quant.quantize_bias(op.bias, s_in, w_scale)
    _check_bias(op, bias, _fan_in(op))
    out_scale, out_zp = quant.choose_activation_qparams(*rng)
    real_m = np.float64(np.float32(s_in)) * w_scale.astype(np.float64) / np.float64(out_scale)
    try:
        mult, shift = quant.quantize_multiplier(real_m)
    except ValueError as exc:
        raise ValueError(f"{op.name}: requantization multiplier out of range ({exc})") from None
    return fmt.LayerSpec(**common, out_scale=out_scale, out_zero_point=out_zp,
                         act_min=out_zp if op.relu else -128, act_max=127, out_kind="int8",
                         weights=w_q, bias=bias, multiplier=mult, shift=shift, weight_scale=w_scale)


def _head_layer(op: FloatOp, common: dict, s_in: float) -> fmt.LayerSpec:
    # One weight scale for all outputs: the int32 accumulators are then comparable across classes.
    w_q, w_scale = quant.quantize_weights_per_tensor(op.weight)
    scales = np.full(op.weight.shape[0], w_scale, dtype=np.float32)
    bias = quant.quantize_bias(op.bias, s_in, scales)
    _check_bias(op, bias, _fan_in(op))
    unit = float(np.float32(np.float64(np.float32(s_in)) * np.float64(np.float32(w_scale))))
    return fmt.LayerSpec(**common, out_scale=unit, out_zero_point=0, act_min=-128, act_max=127, out_kind="int32",
                         weights=w_q, bias=bias, weight_scale=scales)
