"""Reading one layer record: every rule of docs/format.md for a layer, its shapes, quantization
parameters and blob arrays, checked against the layer it reads (its producer)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import FormatError, check_range
from .float32 import as_f32, f32_bits, finite_positive
from .layout import (ALIGN, ARRAY_FIELDS, INT32_MAX, MAX_TENSOR_ELEMENTS, OP_NAMES, OUT_KIND_NAMES, RECORD_BYTES,
                     read_record)
from .shapes import layer_output_shape
from .spec import LayerSpec


class Producer(NamedTuple):
    """The tensor a layer reads (a layer's output or the model input): the layer must match it."""

    shape: tuple
    scale: float
    zero_point: int


def _check_shape_params(i: int, rec: dict, op: str) -> None:
    where = f"layer {i} ({op})"
    kernel_ops = ("conv2d", "maxpool", "avgpool")
    for name in ("kernel_h", "kernel_w"):
        if op in kernel_ops:
            check_range(rec[name], 1, 15, name, where)
        elif op == "upsample":
            check_range(rec[name], 1, 16, name, where)
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")
    for name in ("stride_h", "stride_w"):
        if op in kernel_ops:
            check_range(rec[name], 1, 15, name, where)
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")
    for name, kname in (("pad_top", "kernel_h"), ("pad_left", "kernel_w"),
                        ("pad_bottom", "kernel_h"), ("pad_right", "kernel_w")):
        if op in ("conv2d", "maxpool"):
            if rec[name] >= rec[kname]:
                raise FormatError(f"{where}: {name} = {rec[name]} must be less than {kname} = {rec[kname]}")
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")


def _check_quant_params(i: int, rec: dict, op: str, producer: Producer, is_head: bool) -> None:
    where = f"layer {i} ({op})"
    check_range(rec["in_zero_point"], -128, 127, "in_zero_point", where)
    if rec["in_zero_point"] != producer.zero_point:
        raise FormatError(f"{where}: in_zero_point = {rec['in_zero_point']} differs from its input's zero point "
                          f"{producer.zero_point}")
    if not finite_positive(rec["in_scale"]):
        raise FormatError(f"{where}: in_scale = {rec['in_scale']} must be finite and > 0")
    if f32_bits(rec["in_scale"]) != f32_bits(producer.scale):
        raise FormatError(f"{where}: in_scale = {rec['in_scale']!r} differs from its input's scale {producer.scale!r}")
    check_range(rec["out_zero_point"], -128, 127, "out_zero_point", where)
    if not finite_positive(rec["out_scale"]):
        raise FormatError(f"{where}: out_scale = {rec['out_scale']} must be finite and > 0")
    if rec["out_kind"] == 1:
        if rec["out_zero_point"] != 0:
            raise FormatError(f"{where}: out_zero_point = {rec['out_zero_point']} must be 0 for an int32 head")
    else:
        check_range(rec["act_min"], -128, 127, "act_min", where)
        check_range(rec["act_max"], rec["act_min"], 127, "act_max", where)
    if op in ("conv2d", "fc"):
        return
    if rec["out_zero_point"] != rec["in_zero_point"]:
        raise FormatError(f"{where}: out_zero_point = {rec['out_zero_point']} must equal in_zero_point "
                          f"{rec['in_zero_point']}")
    if f32_bits(rec["out_scale"]) != f32_bits(rec["in_scale"]):
        raise FormatError(f"{where}: out_scale = {rec['out_scale']!r} must equal in_scale {rec['in_scale']!r}")
    want_min = rec["out_zero_point"] if op == "relu" else -128
    if rec["act_min"] != want_min or rec["act_max"] != 127:
        raise FormatError(f"{where}: act_min, act_max = {rec['act_min']}, {rec['act_max']} must be {want_min}, 127")


def _read_array(buf: bytes, hdr: dict, i: int, op: str, name: str, offset: int, nbytes: int, dtype, spans: list):
    where = f"layer {i} ({op})"
    if offset % ALIGN:
        raise FormatError(f"{where}: {name} = {offset} is not a multiple of {ALIGN}")
    start, end = hdr["blob_offset"], hdr["blob_offset"] + hdr["blob_bytes"]
    if offset < start or offset + nbytes > end:
        raise FormatError(f"{where}: {name} = {offset} (+{nbytes} bytes) lies outside the blob [{start}, {end})")
    spans.append((offset, offset + nbytes, f"layer {i} {name}"))
    return np.frombuffer(buf, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=offset).copy()


def _read_layer_arrays(buf, hdr, i, rec, op, spans) -> dict:
    where = f"layer {i} ({op})"
    if op not in ("conv2d", "fc"):
        for name in ARRAY_FIELDS + ("weight_bytes",):
            if rec[name] != 0:
                raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")
        return {}
    out_c = rec["out_c"]
    k = rec["kernel_h"] * rec["kernel_w"] * rec["in_c"] if op == "conv2d" else rec["in_h"] * rec["in_w"] * rec["in_c"]
    if rec["weight_bytes"] != out_c * k:
        raise FormatError(f"{where}: weight_bytes = {rec['weight_bytes']} must be out_c * K = {out_c * k}")
    weights = _read_array(buf, hdr, i, op, "weight_offset", rec["weight_offset"], out_c * k, np.int8, spans)
    if weights.size and weights.min() == -128:
        raise FormatError(f"{where}: weights must be in [-127, 127] (found -128)")
    bias = _read_array(buf, hdr, i, op, "bias_offset", rec["bias_offset"], 4 * out_c, "<i4", spans)
    max_bias = int(np.abs(bias.astype(np.int64)).max())
    if k * 127 * 255 + max_bias > INT32_MAX:
        raise FormatError(f"{where}: fan-in K = {k} with max|bias| = {max_bias} can overflow the int32 accumulator "
                          f"(K*127*255 + max|bias| must be <= 2^31-1)")
    arrays = {"bias": bias.astype(np.int32)}
    if rec["out_kind"] == 0:
        mult = _read_array(buf, hdr, i, op, "multiplier_offset", rec["multiplier_offset"], 4 * out_c, "<i4", spans)
        if mult.min() < 2**30:
            raise FormatError(f"{where}: multiplier {int(mult.min())} outside [2^30, 2^31-1]")
        shift = _read_array(buf, hdr, i, op, "shift_offset", rec["shift_offset"], 4 * out_c, "<i4", spans)
        if shift.min() < 1 or shift.max() > 62:
            bad = int(shift[(shift < 1) | (shift > 62)][0])
            raise FormatError(f"{where}: shift {bad} outside [1, 62]")
        arrays["multiplier"] = mult.astype(np.int32)
        arrays["shift"] = shift.astype(np.int32)
    else:
        for name in ("multiplier_offset", "shift_offset"):
            if rec[name] != 0:
                raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for an int32 head")
    wscale = _read_array(buf, hdr, i, op, "weight_scale_offset", rec["weight_scale_offset"], 4 * out_c, "<f4", spans)
    if not np.all(np.isfinite(wscale)) or not np.all(wscale > 0):
        raise FormatError(f"{where}: weight_scale values must be finite and > 0")
    if rec["out_kind"] == 1:
        if not np.all(wscale.view(np.uint32) == wscale.view(np.uint32)[0]):
            raise FormatError(f"{where}: an int32 head needs one weight_scale for all output channels")
        unit = as_f32(np.float64(rec["in_scale"]) * np.float64(wscale[0]))
        if f32_bits(unit) != f32_bits(rec["out_scale"]):
            raise FormatError(f"{where}: out_scale = {rec['out_scale']!r} of an int32 head must be "
                              f"in_scale * weight_scale = {unit!r}")
    arrays["weights"] = weights.reshape((out_c, rec["kernel_h"], rec["kernel_w"], rec["in_c"]) if op == "conv2d"
                                        else (out_c, k))
    arrays["weight_scale"] = wscale.astype(np.float32)
    return arrays


def read_layer(buf, hdr, i, producers, heads, spans) -> LayerSpec:
    """Check record i and its arrays; record its output in `producers` and its array spans in `spans`."""
    rec = read_record(buf, hdr["layer_table_offset"] + RECORD_BYTES * i)
    if rec["op"] not in OP_NAMES:
        raise FormatError(f"layer {i}: unknown op code {rec['op']}")
    op = OP_NAMES[rec["op"]]
    where = f"layer {i} ({op})"
    if rec["reserved"] != bytes(56):
        raise FormatError(f"{where}: reserved bytes must be zero")
    if rec["out_kind"] not in OUT_KIND_NAMES:
        raise FormatError(f"{where}: out_kind = {rec['out_kind']} must be 0 or 1")
    is_head = i in heads
    if rec["out_kind"] == 1 and (op != "fc" or not is_head):
        raise FormatError(f"{where}: out_kind 1 (int32) is only allowed for the fc logits or score layer")
    if is_head and rec["out_kind"] != 1:
        raise FormatError(f"{where}: the {heads[i]} layer must have out_kind 1 (int32)")
    src = rec["input_layer"]
    if not -1 <= src < i:
        raise FormatError(f"{where}: input_layer = {src} must be -1 or an earlier layer")
    if src in heads:
        raise FormatError(f"{where}: input_layer = {src} is the {heads[src]} layer, which no layer may read")
    producer = producers[src]
    in_shape = (rec["in_h"], rec["in_w"], rec["in_c"])
    if in_shape != producer.shape:
        raise FormatError(f"{where}: in_h, in_w, in_c = {in_shape} differ from its input's shape {producer.shape}")
    _check_shape_params(i, rec, op)
    try:
        expected = layer_output_shape(op, in_shape, (rec["kernel_h"], rec["kernel_w"]),
                                      (rec["stride_h"], rec["stride_w"]),
                                      (rec["pad_top"], rec["pad_left"], rec["pad_bottom"], rec["pad_right"]),
                                      out_c=rec["out_c"])
    except ValueError as exc:
        raise FormatError(f"{where}: {exc}") from None
    out_shape = (rec["out_h"], rec["out_w"], rec["out_c"])
    if out_shape != expected:
        raise FormatError(f"{where}: out_h, out_w, out_c = {out_shape} but the op computes {expected}")
    check_range(rec["out_c"], 1, 4096, "out_c", where)
    elements = out_shape[0] * out_shape[1] * out_shape[2]
    if elements > MAX_TENSOR_ELEMENTS:
        raise FormatError(f"{where}: output tensor has {elements} elements, more than {MAX_TENSOR_ELEMENTS}")
    _check_quant_params(i, rec, op, producer, is_head)
    arrays = _read_layer_arrays(buf, hdr, i, rec, op, spans)
    producers[i] = Producer(out_shape, rec["out_scale"], rec["out_zero_point"])
    return LayerSpec(
        op=op, input=src, in_shape=in_shape, out_shape=out_shape,
        kernel=(rec["kernel_h"], rec["kernel_w"]), stride=(rec["stride_h"], rec["stride_w"]),
        pad=(rec["pad_top"], rec["pad_left"], rec["pad_bottom"], rec["pad_right"]),
        in_scale=rec["in_scale"], in_zero_point=rec["in_zero_point"],
        out_scale=rec["out_scale"], out_zero_point=rec["out_zero_point"],
        act_min=rec["act_min"], act_max=rec["act_max"], out_kind=OUT_KIND_NAMES[rec["out_kind"]],
        weights=arrays.get("weights"), bias=arrays.get("bias"), multiplier=arrays.get("multiplier"),
        shift=arrays.get("shift"), weight_scale=arrays.get("weight_scale"))
