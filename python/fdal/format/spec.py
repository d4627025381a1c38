"""ModelSpec and LayerSpec: a .fdal model in memory, what write_model takes and read_model returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .layout import VERSION_MAJOR, VERSION_MINOR


@dataclass(eq=False)
class LayerSpec:
    """One layer. Shapes are (h, w, c); arrays are None for ops that have none."""

    op: str
    input: int
    in_shape: tuple
    out_shape: tuple
    kernel: tuple = (0, 0)
    stride: tuple = (0, 0)
    pad: tuple = (0, 0, 0, 0)  # (top, left, bottom, right)
    in_scale: float = 1.0
    in_zero_point: int = 0
    out_scale: float = 1.0
    out_zero_point: int = 0
    act_min: int = -128
    act_max: int = 127
    out_kind: str = "int8"
    weights: Optional[np.ndarray] = None  # int8, OHWI (conv) or (out_c, K) (fc)
    bias: Optional[np.ndarray] = None  # int32 (out_c,)
    multiplier: Optional[np.ndarray] = None  # int32 (out_c,), out_kind int8 only
    shift: Optional[np.ndarray] = None  # int32 (out_c,), out_kind int8 only
    weight_scale: Optional[np.ndarray] = None  # float32 (out_c,)


@dataclass(eq=False)
class ModelSpec:
    input_shape: tuple  # (h, w, c)
    num_classes: int
    input_scale: float
    input_zero_point: int
    mean: np.ndarray  # float32 (c,)
    std: np.ndarray  # float32 (c,)
    lut: np.ndarray  # int8 (c, 256)
    layers: list = field(default_factory=list)
    logits_layer: int = 0
    score_layer: int = -1
    embedding_layer: int = -1  # the int8 layer whose output is the per-image embedding; -1: none (format 2.x)
    version: tuple = (VERSION_MAJOR, VERSION_MINOR)
