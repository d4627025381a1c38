"""Running a model: one layer, every layer of a batch, and the whole forward pass with its heads.

The counterpart of csrc/runtime/executor.cpp: layers in file order, each reading the model input
(input == -1) or an earlier layer's output.
"""
from __future__ import annotations

import numpy as np

from ..format import LayerSpec, ModelSpec
from .det_math import sigmoid
from .kernels import apply_lut, avg_pool, conv2d, fully_connected, max_pool, relu, upsample_nearest


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


def check_images(spec: ModelSpec, images) -> np.ndarray:
    """images as an array; ValueError unless uint8 (N, *spec.input_shape)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != tuple(spec.input_shape):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, spec.input_shape))}), got {images.shape}")
    return images


def run_layers(spec: ModelSpec, images) -> list:
    """Outputs of every layer, batch-first: int8 (N, h, w, c), int32 (N, 1, 1, c) for heads."""
    x0 = apply_lut(spec.lut, check_images(spec, images))
    outputs = []
    for layer in spec.layers:
        outputs.append(run_layer(layer, x0 if layer.input == -1 else outputs[layer.input]))
    return outputs


def forward(spec: ModelSpec, images, batch_size: int = 256) -> dict:
    """Raw int32 heads and their float outputs (docs/quantization.md, "Heads and outputs"), and the
    embedding: embedding_q int8 (N, D) in NHWC memory order and embedding = float32(q - zp) * scale
    (None, as the score entries, when the model has none)."""
    images = check_images(spec, images)
    logits_raw, score_raw, embedding_q = [], [], []
    for s in range(0, max(len(images), 1), batch_size):
        outs = run_layers(spec, images[s:s + batch_size])
        logits_raw.append(outs[spec.logits_layer].reshape(-1, spec.num_classes))
        if spec.score_layer >= 0:
            score_raw.append(outs[spec.score_layer].reshape(-1))
        if spec.embedding_layer >= 0:
            out = outs[spec.embedding_layer]
            embedding_q.append(out.reshape(len(out), int(np.prod(out.shape[1:]))))
    logits_raw = np.concatenate(logits_raw).astype(np.int32)
    logits_unit = np.float32(spec.layers[spec.logits_layer].out_scale)
    result = {
        "logits_raw": logits_raw,
        "logits": logits_raw.astype(np.float32) * logits_unit,
        "logits_unit": logits_unit,
        "score_raw": None, "score": None, "score_unit": None,
        "embedding_q": None, "embedding": None,
    }
    if spec.score_layer >= 0:
        score_raw = np.concatenate(score_raw).astype(np.int32)
        score_unit = np.float32(spec.layers[spec.score_layer].out_scale)
        x = score_raw.astype(np.float64) * np.float64(score_unit)
        result.update(score_raw=score_raw, score=sigmoid(x).astype(np.float32), score_unit=score_unit)
    if spec.embedding_layer >= 0:
        layer = spec.layers[spec.embedding_layer]
        q = np.concatenate(embedding_q).astype(np.int8)
        real = (q.astype(np.int32) - np.int32(layer.out_zero_point)).astype(np.float32) * np.float32(layer.out_scale)
        result.update(embedding_q=q, embedding=real)
    return result
