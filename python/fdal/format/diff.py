"""Field-by-field comparison of two ModelSpecs (floats as float32 bits), for round-trip tests."""
from __future__ import annotations

import numpy as np

from .float32 import f32_bits
from .spec import LayerSpec, ModelSpec


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return False
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return a.shape == b.shape and np.array_equal(a.astype(np.float32).view(np.uint32),
                                                         b.astype(np.float32).view(np.uint32))
        return a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, float) or isinstance(b, float):
        return f32_bits(a) == f32_bits(b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(int(x) == int(y) for x, y in zip(a, b))
    return a == b


def model_differences(a: ModelSpec, b: ModelSpec) -> list:
    """Names of the fields where two specs differ (floats compared as float32 bits). Empty if equal."""
    diffs = []
    for name in ("input_shape", "num_classes", "input_scale", "input_zero_point", "mean", "std", "lut",
                 "logits_layer", "score_layer", "embedding_layer", "version"):
        if not _same(getattr(a, name), getattr(b, name)):
            diffs.append(name)
    if len(a.layers) != len(b.layers):
        return diffs + [f"num_layers {len(a.layers)} != {len(b.layers)}"]
    for i, (la, lb) in enumerate(zip(a.layers, b.layers)):
        for name in LayerSpec.__dataclass_fields__:
            if not _same(getattr(la, name), getattr(lb, name)):
                diffs.append(f"layer {i}: {name}")
    return diffs


def models_equal(a: ModelSpec, b: ModelSpec) -> bool:
    return not model_differences(a, b)
