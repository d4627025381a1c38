"""The .fdal model file (docs/format.md): ModelSpec/LayerSpec, the writer, an independent reader.

`read_model` checks every rule of docs/format.md in the documented order: size, magic and version
first, then the CRC, then every field (header, input section, each layer record and its arrays,
then heads, dead layers and array overlaps). Failures raise FormatError naming field and layer.
`write_model` encodes a spec and re-reads the bytes with the same checks, so it never writes a file
that `read_model` would reject.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Union

import numpy as np


class FormatError(ValueError):
    """A .fdal file (or a ModelSpec about to be written) breaks a rule of docs/format.md."""


MAGIC = b"\x89FDAL\r\n\x1a"
VERSION_MAJOR = 1
VERSION_MINOR = 0
HEADER_BYTES = 64
RECORD_BYTES = 128
ALIGN = 64
CRC_BYTES = 4
MAX_LAYERS = 64
MAX_TENSOR_ELEMENTS = 4_194_304
INT32_MAX = 2**31 - 1

OPS = {"conv2d": 1, "maxpool": 2, "avgpool": 3, "relu": 4, "flatten": 5, "fc": 6, "upsample": 7}
OP_NAMES = {code: name for name, code in OPS.items()}
OUT_KINDS = {"int8": 0, "int32": 1}
OUT_KIND_NAMES = {code: name for name, code in OUT_KINDS.items()}


class Field(NamedTuple):
    offset: int
    fmt: str  # struct format without the byte-order prefix


# Byte offsets of the header fields from the start of the file (docs/format.md, "Header").
HEADER_FIELDS = {
    "magic": Field(0, "8s"),
    "version_major": Field(8, "H"),
    "version_minor": Field(10, "H"),
    "file_size": Field(12, "I"),
    "header_bytes": Field(16, "I"),
    "input_h": Field(20, "H"),
    "input_w": Field(22, "H"),
    "input_c": Field(24, "H"),
    "num_classes": Field(26, "H"),
    "num_layers": Field(28, "H"),
    "logits_layer": Field(30, "h"),
    "score_layer": Field(32, "h"),
    "flags": Field(34, "H"),
    "lut_offset": Field(36, "I"),
    "layer_table_offset": Field(40, "I"),
    "blob_offset": Field(44, "I"),
    "blob_bytes": Field(48, "I"),
    "reserved": Field(52, "12s"),
}
# The input section follows the header: scale, zero point, then f32[C] mean and f32[C] std.
INPUT_SCALE_OFFSET = 64
INPUT_ZERO_POINT_OFFSET = 68
INPUT_MEAN_OFFSET = 72

# Byte offsets inside one 128-byte layer record (at layer_table_offset + 128 * i).
RECORD_FIELDS = {
    "op": Field(0, "B"),
    "out_kind": Field(1, "B"),
    "input_layer": Field(2, "h"),
    "in_h": Field(4, "H"),
    "in_w": Field(6, "H"),
    "in_c": Field(8, "H"),
    "out_h": Field(10, "H"),
    "out_w": Field(12, "H"),
    "out_c": Field(14, "H"),
    "kernel_h": Field(16, "B"),
    "kernel_w": Field(17, "B"),
    "stride_h": Field(18, "B"),
    "stride_w": Field(19, "B"),
    "pad_top": Field(20, "B"),
    "pad_left": Field(21, "B"),
    "pad_bottom": Field(22, "B"),
    "pad_right": Field(23, "B"),
    "in_zero_point": Field(24, "i"),
    "out_zero_point": Field(28, "i"),
    "in_scale": Field(32, "f"),
    "out_scale": Field(36, "f"),
    "act_min": Field(40, "i"),
    "act_max": Field(44, "i"),
    "weight_offset": Field(48, "I"),
    "weight_bytes": Field(52, "I"),
    "bias_offset": Field(56, "I"),
    "multiplier_offset": Field(60, "I"),
    "shift_offset": Field(64, "I"),
    "weight_scale_offset": Field(68, "I"),
    "reserved": Field(72, "56s"),
}
ARRAY_FIELDS = ("weight_offset", "bias_offset", "multiplier_offset", "shift_offset", "weight_scale_offset")


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
    version: tuple = (VERSION_MAJOR, VERSION_MINOR)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _f32(x) -> float:
    return float(np.float32(x))


def _f32_bits(x) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _finite_positive(x: float) -> bool:
    return bool(np.isfinite(x)) and x > 0


def layer_output_shape(op: str, in_shape, kernel=(0, 0), stride=(0, 0), pad=(0, 0, 0, 0), out_c=None):
    """The (h, w, c) an op computes from its input shape and parameters (docs/format.md).

    out_c is the layer's own channel count for conv2d and fc (ignored otherwise).
    Raises ValueError when the window does not fit (negative numerator, zero stride).
    """
    h, w, c = (int(v) for v in in_shape)
    kh, kw = (int(v) for v in kernel)
    sh, sw = (int(v) for v in stride)
    top, left, bottom, right = (int(v) for v in pad)
    if op in ("conv2d", "maxpool", "avgpool"):
        num_h, num_w = h + top + bottom - kh, w + left + right - kw
        if num_h < 0 or num_w < 0:
            raise ValueError(f"{op}: kernel {kh}x{kw} larger than padded input {h + top + bottom}x{w + left + right}")
        if sh <= 0 or sw <= 0:
            raise ValueError(f"{op}: stride must be positive, got {sh}x{sw}")
        return (num_h // sh + 1, num_w // sw + 1, int(out_c) if op == "conv2d" else c)
    if op == "relu":
        return (h, w, c)
    if op == "flatten":
        return (1, 1, h * w * c)
    if op == "fc":
        return (1, 1, int(out_c))
    if op == "upsample":
        return (h * kh, w * kw, c)
    raise ValueError(f"unknown op {op!r}")


def crc32_fixup(buf: bytes) -> bytes:
    """Recompute the trailing CRC-32 of a (deliberately edited) file image."""
    buf = bytes(buf)
    if len(buf) < CRC_BYTES:
        raise ValueError("crc32_fixup: buffer shorter than the CRC")
    body = buf[:-CRC_BYTES]
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def record_field_offset(buf: bytes, layer: int, name: str) -> int:
    """Absolute byte offset of field `name` of layer record `layer` in file image `buf`."""
    table = struct.unpack_from("<I", buf, HEADER_FIELDS["layer_table_offset"].offset)[0]
    return table + RECORD_BYTES * layer + RECORD_FIELDS[name].offset


# ----------------------------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------------------------


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

    lut_offset = _align(INPUT_MEAN_OFFSET + 16 * c)  # leaves room for either reading of the layout
    table_offset = lut_offset + 256 * c
    blob_offset = _align(table_offset + RECORD_BYTES * len(spec.layers))
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
            cursor = _align(cursor + len(data))
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
    struct.pack_into("<f", buf, INPUT_SCALE_OFFSET, _f32(spec.input_scale))
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
            "in_scale": _f32(layer.in_scale), "out_scale": _f32(layer.out_scale),
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


# ----------------------------------------------------------------------------------------------
# Reader
# ----------------------------------------------------------------------------------------------


def _read_header(buf: bytes) -> dict:
    return {name: struct.unpack_from("<" + f.fmt, buf, f.offset)[0] for name, f in HEADER_FIELDS.items()}


def _read_record(buf: bytes, base: int) -> dict:
    return {name: struct.unpack_from("<" + f.fmt, buf, base + f.offset)[0] for name, f in RECORD_FIELDS.items()}


def _check_range(value, lo, hi, name: str, where: str = "header") -> None:
    if not lo <= value <= hi:
        raise FormatError(f"{where}: {name} = {value} must be in {lo}..{hi}")


def _check_size_magic_version(buf: bytes) -> dict:
    if len(buf) < HEADER_BYTES + CRC_BYTES:
        raise FormatError(f"file size: {len(buf)} bytes is too small for a .fdal file (truncated?)")
    hdr = _read_header(buf)
    if hdr["magic"] != MAGIC:
        raise FormatError(f"header: bad magic {hdr['magic']!r} (not a .fdal file, or text-mode damage)")
    if hdr["version_major"] != VERSION_MAJOR:
        raise FormatError(
            f"header: version_major = {hdr['version_major']}: future version (this reader reads {VERSION_MAJOR}.x)")
    if hdr["file_size"] != len(buf):
        raise FormatError(f"header: file_size = {hdr['file_size']} but the file has {len(buf)} bytes (truncated?)")
    return hdr


def _check_header(hdr: dict) -> None:
    if hdr["header_bytes"] != HEADER_BYTES:
        raise FormatError(f"header: header_bytes = {hdr['header_bytes']} must be {HEADER_BYTES}")
    _check_range(hdr["input_h"], 1, 1024, "input_h")
    _check_range(hdr["input_w"], 1, 1024, "input_w")
    _check_range(hdr["input_c"], 1, 16, "input_c")
    _check_range(hdr["num_classes"], 2, 4096, "num_classes")
    _check_range(hdr["num_layers"], 1, MAX_LAYERS, "num_layers")
    n = hdr["num_layers"]
    _check_range(hdr["logits_layer"], 0, n - 1, "logits_layer")
    if hdr["score_layer"] != -1:
        _check_range(hdr["score_layer"], 0, n - 1, "score_layer")
        if hdr["score_layer"] == hdr["logits_layer"]:
            raise FormatError("header: score_layer must differ from logits_layer")
    if hdr["flags"] != 0:
        raise FormatError(f"header: flags = {hdr['flags']} must be 0")
    if hdr["reserved"] != bytes(12):
        raise FormatError("header: reserved bytes must be zero")
    elements = hdr["input_h"] * hdr["input_w"] * hdr["input_c"]
    if elements > MAX_TENSOR_ELEMENTS:
        raise FormatError(f"header: input tensor has {elements} elements, more than {MAX_TENSOR_ELEMENTS}")
    c = hdr["input_c"]
    input_end = INPUT_MEAN_OFFSET + 8 * c
    if hdr["lut_offset"] < input_end:
        raise FormatError(f"header: lut_offset = {hdr['lut_offset']} overlaps the input section (ends at {input_end})")
    if hdr["layer_table_offset"] < hdr["lut_offset"] + 256 * c:
        raise FormatError(f"header: layer_table_offset = {hdr['layer_table_offset']} overlaps the input lookup table")
    if hdr["blob_offset"] % ALIGN:
        raise FormatError(f"header: blob_offset = {hdr['blob_offset']} is not a multiple of {ALIGN}")
    if hdr["blob_offset"] < hdr["layer_table_offset"] + RECORD_BYTES * n:
        raise FormatError(f"header: blob_offset = {hdr['blob_offset']} overlaps the layer table")
    if hdr["blob_offset"] + hdr["blob_bytes"] != hdr["file_size"] - CRC_BYTES:
        raise FormatError(
            f"header: blob_offset + blob_bytes = {hdr['blob_offset'] + hdr['blob_bytes']} must end where the CRC "
            f"starts ({hdr['file_size'] - CRC_BYTES})")


class _Producer(NamedTuple):
    shape: tuple
    scale: float
    zero_point: int


def _check_shape_params(i: int, rec: dict, op: str) -> None:
    where = f"layer {i} ({op})"
    kernel_ops = ("conv2d", "maxpool", "avgpool")
    for name in ("kernel_h", "kernel_w"):
        if op in kernel_ops:
            _check_range(rec[name], 1, 15, name, where)
        elif op == "upsample":
            _check_range(rec[name], 1, 16, name, where)
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")
    for name in ("stride_h", "stride_w"):
        if op in kernel_ops:
            _check_range(rec[name], 1, 15, name, where)
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")
    for name, kname in (("pad_top", "kernel_h"), ("pad_left", "kernel_w"),
                        ("pad_bottom", "kernel_h"), ("pad_right", "kernel_w")):
        if op in ("conv2d", "maxpool"):
            if rec[name] >= rec[kname]:
                raise FormatError(f"{where}: {name} = {rec[name]} must be less than {kname} = {rec[kname]}")
        elif rec[name] != 0:
            raise FormatError(f"{where}: {name} = {rec[name]} must be 0 for this op")


def _check_quant_params(i: int, rec: dict, op: str, producer: _Producer, is_head: bool) -> None:
    where = f"layer {i} ({op})"
    _check_range(rec["in_zero_point"], -128, 127, "in_zero_point", where)
    if rec["in_zero_point"] != producer.zero_point:
        raise FormatError(f"{where}: in_zero_point = {rec['in_zero_point']} differs from its input's zero point "
                          f"{producer.zero_point}")
    if not _finite_positive(rec["in_scale"]):
        raise FormatError(f"{where}: in_scale = {rec['in_scale']} must be finite and > 0")
    if _f32_bits(rec["in_scale"]) != _f32_bits(producer.scale):
        raise FormatError(f"{where}: in_scale = {rec['in_scale']!r} differs from its input's scale {producer.scale!r}")
    _check_range(rec["out_zero_point"], -128, 127, "out_zero_point", where)
    if not _finite_positive(rec["out_scale"]):
        raise FormatError(f"{where}: out_scale = {rec['out_scale']} must be finite and > 0")
    if rec["out_kind"] == 1:
        if rec["out_zero_point"] != 0:
            raise FormatError(f"{where}: out_zero_point = {rec['out_zero_point']} must be 0 for an int32 head")
    else:
        _check_range(rec["act_min"], -128, 127, "act_min", where)
        _check_range(rec["act_max"], rec["act_min"], 127, "act_max", where)
    if op in ("conv2d", "fc"):
        return
    if rec["out_zero_point"] != rec["in_zero_point"]:
        raise FormatError(f"{where}: out_zero_point = {rec['out_zero_point']} must equal in_zero_point "
                          f"{rec['in_zero_point']}")
    if _f32_bits(rec["out_scale"]) != _f32_bits(rec["in_scale"]):
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
        unit = _f32(np.float64(rec["in_scale"]) * np.float64(wscale[0]))
        if _f32_bits(unit) != _f32_bits(rec["out_scale"]):
            raise FormatError(f"{where}: out_scale = {rec['out_scale']!r} of an int32 head must be "
                              f"in_scale * weight_scale = {unit!r}")
    arrays["weights"] = weights.reshape((out_c, rec["kernel_h"], rec["kernel_w"], rec["in_c"]) if op == "conv2d"
                                        else (out_c, k))
    arrays["weight_scale"] = wscale.astype(np.float32)
    return arrays


def _read_layer(buf, hdr, i, producers, heads, spans) -> LayerSpec:
    rec = _read_record(buf, hdr["layer_table_offset"] + RECORD_BYTES * i)
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
    _check_range(rec["out_c"], 1, 4096, "out_c", where)
    elements = out_shape[0] * out_shape[1] * out_shape[2]
    if elements > MAX_TENSOR_ELEMENTS:
        raise FormatError(f"{where}: output tensor has {elements} elements, more than {MAX_TENSOR_ELEMENTS}")
    _check_quant_params(i, rec, op, producer, is_head)
    arrays = _read_layer_arrays(buf, hdr, i, rec, op, spans)
    producers[i] = _Producer(out_shape, rec["out_scale"], rec["out_zero_point"])
    return LayerSpec(
        op=op, input=src, in_shape=in_shape, out_shape=out_shape,
        kernel=(rec["kernel_h"], rec["kernel_w"]), stride=(rec["stride_h"], rec["stride_w"]),
        pad=(rec["pad_top"], rec["pad_left"], rec["pad_bottom"], rec["pad_right"]),
        in_scale=rec["in_scale"], in_zero_point=rec["in_zero_point"],
        out_scale=rec["out_scale"], out_zero_point=rec["out_zero_point"],
        act_min=rec["act_min"], act_max=rec["act_max"], out_kind=OUT_KIND_NAMES[rec["out_kind"]],
        weights=arrays.get("weights"), bias=arrays.get("bias"), multiplier=arrays.get("multiplier"),
        shift=arrays.get("shift"), weight_scale=arrays.get("weight_scale"))


def _check_padding_zero(buf: bytes, hdr: dict, spans: list) -> None:
    """Bytes between sections and between blob arrays are zero padding (docs/format.md)."""
    c, n = hdr["input_c"], hdr["num_layers"]
    used = [(0, INPUT_MEAN_OFFSET + 8 * c), (hdr["lut_offset"], hdr["lut_offset"] + 256 * c),
            (hdr["layer_table_offset"], hdr["layer_table_offset"] + RECORD_BYTES * n)]
    used += [(s, e) for s, e, _ in spans]
    covered = np.zeros(len(buf) - CRC_BYTES, dtype=bool)
    for s, e in used:
        covered[s:e] = True
    stray = np.flatnonzero(~covered & (np.frombuffer(buf, np.uint8, count=covered.size) != 0))
    if stray.size:
        raise FormatError(f"padding: byte at offset {int(stray[0])} is not zero")


def read_model(path_or_bytes) -> ModelSpec:
    """Parse and validate a .fdal file (a path or a bytes-like image). Raises FormatError."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        buf = bytes(path_or_bytes)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as fh:
            buf = fh.read()
    else:
        raise TypeError(f"read_model expects a path or bytes, got {type(path_or_bytes).__name__}")
    hdr = _check_size_magic_version(buf)
    stored_crc = struct.unpack_from("<I", buf, len(buf) - CRC_BYTES)[0]
    actual_crc = zlib.crc32(buf[:-CRC_BYTES]) & 0xFFFFFFFF
    if stored_crc != actual_crc:
        raise FormatError(f"crc: stored CRC-32 {stored_crc:#010x} != computed {actual_crc:#010x} (file damaged)")
    _check_header(hdr)

    c = hdr["input_c"]
    input_scale = struct.unpack_from("<f", buf, INPUT_SCALE_OFFSET)[0]
    input_zp = struct.unpack_from("<i", buf, INPUT_ZERO_POINT_OFFSET)[0]
    if not _finite_positive(input_scale):
        raise FormatError(f"input: input_scale = {input_scale} must be finite and > 0")
    _check_range(input_zp, -128, 127, "input_zero_point", "input")
    mean = np.frombuffer(buf, "<f4", count=c, offset=INPUT_MEAN_OFFSET).astype(np.float32)
    std = np.frombuffer(buf, "<f4", count=c, offset=INPUT_MEAN_OFFSET + 4 * c).astype(np.float32)
    if not np.all(np.isfinite(mean)):
        raise FormatError("input: mean values must be finite")
    if not np.all(np.isfinite(std)) or not np.all(std > 0):
        raise FormatError("input: std values must be finite and > 0")
    lut = np.frombuffer(buf, np.int8, count=256 * c, offset=hdr["lut_offset"]).reshape(c, 256).copy()

    heads = {hdr["logits_layer"]: "logits"}
    if hdr["score_layer"] != -1:
        heads[hdr["score_layer"]] = "score"
    producers = {-1: _Producer((hdr["input_h"], hdr["input_w"], c), input_scale, input_zp)}
    spans = []
    layers = [_read_layer(buf, hdr, i, producers, heads, spans) for i in range(hdr["num_layers"])]

    logits = layers[hdr["logits_layer"]]
    if logits.out_shape[2] != hdr["num_classes"]:
        raise FormatError(f"layer {hdr['logits_layer']} (fc): logits out_c = {logits.out_shape[2]} must equal "
                          f"num_classes = {hdr['num_classes']}")
    if hdr["score_layer"] != -1 and layers[hdr["score_layer"]].out_shape[2] != 1:
        raise FormatError(f"layer {hdr['score_layer']} (fc): the score layer must have out_c = 1")
    read = {layer.input for layer in layers}
    for i, layer in enumerate(layers):
        if i not in heads and i not in read:
            raise FormatError(f"layer {i} ({layer.op}): dead layer (its output is read by no layer and is no head)")
    spans.sort()
    for (s0, e0, n0), (s1, e1, n1) in zip(spans, spans[1:]):
        if s1 < e0:
            raise FormatError(f"blob: {n1} at {s1} overlaps {n0} [{s0}, {e0})")
    _check_padding_zero(buf, hdr, spans)
    return ModelSpec(
        input_shape=(hdr["input_h"], hdr["input_w"], c), num_classes=hdr["num_classes"],
        input_scale=input_scale, input_zero_point=input_zp, mean=mean, std=std, lut=lut, layers=layers,
        logits_layer=hdr["logits_layer"], score_layer=hdr["score_layer"],
        version=(hdr["version_major"], hdr["version_minor"]))


# ----------------------------------------------------------------------------------------------
# Comparison (for round-trip tests)
# ----------------------------------------------------------------------------------------------


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
        return _f32_bits(a) == _f32_bits(b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(int(x) == int(y) for x, y in zip(a, b))
    return a == b


def model_differences(a: ModelSpec, b: ModelSpec) -> list:
    """Names of the fields where two specs differ (floats compared as float32 bits). Empty if equal."""
    diffs = []
    for name in ("input_shape", "num_classes", "input_scale", "input_zero_point", "mean", "std", "lut",
                 "logits_layer", "score_layer", "version"):
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
