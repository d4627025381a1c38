"""write_model: lays out and serializes a ModelSpec, then re-reads the bytes with read_model's checks,
so it never writes a file that the reader (or the C++ loader) would reject."""
from __future__ import annotations

import os
import struct
from typing import Union

import numpy as np

from .crc import crc32_fixup
from .errors import FormatError
from .float32 import as_f32
from .layout import (ARRAY_FIELDS, CRC_BYTES, HEADER_BYTES, HEADER_FIELDS, INPUT_MEAN_OFFSET, INPUT_SCALE_OFFSET,
                     INPUT_ZERO_POINT_OFFSET, MAGIC, MAX_LAYERS, OPS, OUT_KINDS, RECORD_BYTES, RECORD_FIELDS, align)
from .reader import read_model
from .spec import LayerSpec, ModelSpec


def _checked_array(arr, name: str, dtype, shape, lo=None, hi=None) -> np.ndarray:
    if arr is None:
        raise FormatError(f"{name} is missing")
    a = np.asarray(arr)
    if a.shape != tuple(shape):
        raise FormatError(f"{name} has shape {a.shape}, expected {tuple(shape)}")
    if np.dtype(dtype).kind in "iu":
        if a.dtype.kind not in "iu":
            raise FormatError(f"{name} must be an integer array, got {a.dtype}")
        info = np.iinfo(dtype)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise FormatError(f"{name} has values outside {np.dtype(dtype).name}")
    return a.astype(dtype)


def _layer_arrays(i: int, layer: LayerSpec) -> dict:
    """The layer's blob arrays in file order, type- and shape-checked, as little-endian bytes."""
    where = f"layer {i} ({layer.op})"
    if layer.op not in ("conv2d", "fc"):
        for name in ("weights", "bias", "multiplier", "shift", "weight_scale"):
            if getattr(layer, name) is not None:
                raise FormatError(f"{where}: {name} must be None for this op")
        return {}
    out_c = int(layer.out_shape[2])
    h, w, c = (int(v) for v in layer.in_shape)
    wshape = (out_c, int(layer.kernel[0]), int(layer.kernel[1]), c) if layer.op == "conv2d" else (out_c, h * w * c)
    arrays = {
        "weight_offset": _checked_array(layer.weights, f"{where}: weights", np.int8, wshape),
        "bias_offset": _checked_array(layer.bias, f"{where}: bias", np.int32, (out_c,)).astype("<i4"),
    }
    if layer.out_kind == "int8":
        arrays["multiplier_offset"] = _checked_array(layer.multiplier, f"{where}: multiplier", np.int32, (out_c,)).astype("<i4")
        arrays["shift_offset"] = _checked_array(layer.shift, f"{where}: shift", np.int32, (out_c,)).astype("<i4")
    else:
        for name in ("multiplier", "shift"):
            if getattr(layer, name) is not None:
                raise FormatError(f"{where}: {name} must be None for an int32 head")
    arrays["weight_scale_offset"] = _checked_array(layer.weight_scale, f"{where}: weight_scale", np.float32, (out_c,)).astype("<f4")
    return {k: v.tobytes() for k, v in arrays.items()}


def _pack(buf: bytearray, base: int, fields: dict, name: str, value) -> None:
    f = fields[name]
    try:
        struct.pack_into("<" + f.fmt, buf, base + f.offset, value)
    except struct.error as exc:
        raise FormatError(f"{name} = {value!r} does not fit its {f.fmt!r} field: {exc}") from None


def _encode(spec: ModelSpec) -> bytes:
    """Lay out and serialize a spec (checks only what is needed to encode it)."""
    if len(spec.input_shape) != 3:
        raise FormatError(f"input_shape must be (h, w, c), got {spec.input_shape}")
    c = int(spec.input_shape[2])
    if not 1 <= c <= 16:
        raise FormatError(f"input_c = {c} must be 1..16")
    if not 1 <= len(spec.layers) <= MAX_LAYERS:
        raise FormatError(f"num_layers = {len(spec.layers)} must be 1..{MAX_LAYERS}")
    mean = _checked_array(spec.mean, "mean", np.float32, (c,)) if spec.mean is not None else None
    std = _checked_array(spec.std, "std", np.float32, (c,)) if spec.std is not None else None
    lut = _checked_array(spec.lut, "lut", np.int8, (c, 256))
    if mean is None or std is None:
        raise FormatError("mean and std are required")
    if len(spec.version) != 2:
        raise FormatError(f"version must be (major, minor), got {spec.version}")
    if int(spec.version[0]) == 1 and int(spec.embedding_layer) != -1:
        raise FormatError(f"format {spec.version[0]}.{spec.version[1]} has no embedding field: write version 2.0 "
                          f"to keep embedding_layer = {spec.embedding_layer}")

    lut_offset = align(INPUT_MEAN_OFFSET + 16 * c)  # leaves room for either reading of the layout
    table_offset = lut_offset + 256 * c
    blob_offset = align(table_offset + RECORD_BYTES * len(spec.layers))
    cursor = blob_offset
    placed = []  # (layer index, offset field, absolute offset, bytes)
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, LayerSpec):
            raise FormatError(f"layer {i} is not a LayerSpec")
        if layer.op not in OPS:
            raise FormatError(f"layer {i}: unknown op {layer.op!r}; expected one of {tuple(OPS)}")
        if layer.out_kind not in OUT_KINDS:
            raise FormatError(f"layer {i} ({layer.op}): out_kind {layer.out_kind!r} must be 'int8' or 'int32'")
        for fname, data in _layer_arrays(i, layer).items():
            placed.append((i, fname, cursor, data))
            cursor = align(cursor + len(data))
    blob_bytes = cursor - blob_offset
    size = blob_offset + blob_bytes + CRC_BYTES
    buf = bytearray(size)

    h = HEADER_FIELDS
    for name, value in (
        ("magic", MAGIC), ("version_major", int(spec.version[0])), ("version_minor", int(spec.version[1])),
        ("file_size", size), ("header_bytes", HEADER_BYTES),
        ("input_h", int(spec.input_shape[0])), ("input_w", int(spec.input_shape[1])), ("input_c", c),
        ("num_classes", int(spec.num_classes)), ("num_layers", len(spec.layers)),
        ("logits_layer", int(spec.logits_layer)), ("score_layer", int(spec.score_layer)), ("flags", 0),
        ("lut_offset", lut_offset), ("layer_table_offset", table_offset),
        ("blob_offset", blob_offset), ("blob_bytes", blob_bytes),
    ):
        _pack(buf, 0, h, name, value)
    if int(spec.version[0]) != 1:  # a 1.x header keeps bytes 52..63 reserved (zero)
        _pack(buf, 0, h, "embedding_layer", int(spec.embedding_layer))
    struct.pack_into("<f", buf, INPUT_SCALE_OFFSET, as_f32(spec.input_scale))
    try:
        struct.pack_into("<i", buf, INPUT_ZERO_POINT_OFFSET, int(spec.input_zero_point))
    except struct.error:
        raise FormatError(f"input_zero_point = {spec.input_zero_point} does not fit i32") from None
    buf[INPUT_MEAN_OFFSET:INPUT_MEAN_OFFSET + 4 * c] = mean.astype("<f4").tobytes()
    buf[INPUT_MEAN_OFFSET + 4 * c:INPUT_MEAN_OFFSET + 8 * c] = std.astype("<f4").tobytes()
    buf[lut_offset:lut_offset + 256 * c] = lut.tobytes()

    offsets = {}
    for i, fname, off, data in placed:
        buf[off:off + len(data)] = data
        offsets[(i, fname)] = (off, len(data))
    r = RECORD_FIELDS
    for i, layer in enumerate(spec.layers):
        base = table_offset + RECORD_BYTES * i
        if len(layer.in_shape) != 3 or len(layer.out_shape) != 3 or len(layer.kernel) != 2 \
                or len(layer.stride) != 2 or len(layer.pad) != 4:
            raise FormatError(f"layer {i} ({layer.op}): in_shape/out_shape need 3 values, kernel/stride 2, pad 4")
        values = {
            "op": OPS[layer.op], "out_kind": OUT_KINDS[layer.out_kind], "input_layer": int(layer.input),
            "in_h": layer.in_shape[0], "in_w": layer.in_shape[1], "in_c": layer.in_shape[2],
            "out_h": layer.out_shape[0], "out_w": layer.out_shape[1], "out_c": layer.out_shape[2],
            "kernel_h": layer.kernel[0], "kernel_w": layer.kernel[1],
            "stride_h": layer.stride[0], "stride_w": layer.stride[1],
            "pad_top": layer.pad[0], "pad_left": layer.pad[1], "pad_bottom": layer.pad[2], "pad_right": layer.pad[3],
            "in_zero_point": layer.in_zero_point, "out_zero_point": layer.out_zero_point,
            "in_scale": as_f32(layer.in_scale), "out_scale": as_f32(layer.out_scale),
            "act_min": layer.act_min, "act_max": layer.act_max,
        }
        for name, value in values.items():
            try:
                _pack(buf, base, r, name, value if name in ("in_scale", "out_scale") else int(value))
            except FormatError as exc:
                raise FormatError(f"layer {i} ({layer.op}): {exc}") from None
        if (i, "weight_offset") in offsets:
            struct.pack_into("<I", buf, base + r["weight_bytes"].offset, offsets[(i, "weight_offset")][1])
        for fname in ARRAY_FIELDS:
            if (i, fname) in offsets:
                struct.pack_into("<I", buf, base + r[fname].offset, offsets[(i, fname)][0])
    return crc32_fixup(bytes(buf))


def validate(spec: ModelSpec) -> None:
    """Raise FormatError unless `spec` can be written as a valid file (same rules as read_model)."""
    read_model(_encode(spec))


def write_model(spec: ModelSpec, path: Union[str, os.PathLike, None] = None) -> bytes:
    """Serialize `spec` (validated first) and optionally write it to `path`. Returns the bytes."""
    data = _encode(spec)
    read_model(data)  # the reader's checks are the validator: never write an invalid file
    if path is not None:
        with open(path, "wb") as fh:
            fh.write(data)
    return data
