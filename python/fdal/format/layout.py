"""Where every field of a .fdal file lives (docs/format.md): sizes, limits, op codes, the header and
layer-record field tables, and the helpers that locate and unpack them."""
from __future__ import annotations

import struct
from typing import NamedTuple

MAGIC = b"\x89FDAL\r\n\x1a"
VERSION_MAJOR = 2  # what write_model writes; readers read every 1.y and 2.y (docs/format.md, "Versions")
VERSION_MINOR = 0
READABLE_MAJORS = (1, 2)
MAX_EMBEDDING_VALUES = 4096
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
    "embedding_layer": Field(52, "h"),  # format 2.x; in 1.x bytes 52..63 are all reserved
    "reserved": Field(54, "10s"),
}
V1_RESERVED = Field(52, "12s")  # the reserved bytes of a 1.x header
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


def align(n: int) -> int:
    """n rounded up to a multiple of ALIGN."""
    return (n + ALIGN - 1) // ALIGN * ALIGN


def record_field_offset(buf: bytes, layer: int, name: str) -> int:
    """Absolute byte offset of field `name` of layer record `layer` in file image `buf`."""
    table = struct.unpack_from("<I", buf, HEADER_FIELDS["layer_table_offset"].offset)[0]
    return table + RECORD_BYTES * layer + RECORD_FIELDS[name].offset


def read_header(buf: bytes) -> dict:
    """Every header field by name, unpacked (not checked). A 1.x header has no embedding_layer:
    it reads as -1 and `reserved` is the whole of bytes 52..63."""
    hdr = {name: struct.unpack_from("<" + f.fmt, buf, f.offset)[0] for name, f in HEADER_FIELDS.items()}
    if hdr["version_major"] == 1:
        hdr["embedding_layer"] = -1
        hdr["reserved"] = struct.unpack_from("<" + V1_RESERVED.fmt, buf, V1_RESERVED.offset)[0]
    return hdr


def read_record(buf: bytes, base: int) -> dict:
    """Every field of the layer record at `base` by name, unpacked (not checked)."""
    return {name: struct.unpack_from("<" + f.fmt, buf, base + f.offset)[0] for name, f in RECORD_FIELDS.items()}
