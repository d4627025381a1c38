"""read_model: the independent Python reader. It checks every rule of docs/format.md in the documented
order: size, magic and version first, then the CRC, then every field (header, input section, each
layer record and its arrays, then heads, dead layers and array overlaps). Failures raise
FormatError naming field and layer."""
from __future__ import annotations

import os
import struct

import numpy as np

from .crc import body_crc
from .errors import FormatError, check_range
from .float32 import finite_positive
from .layer_reader import Producer, read_layer
from .layout import (ALIGN, CRC_BYTES, HEADER_BYTES, INPUT_MEAN_OFFSET, INPUT_SCALE_OFFSET, INPUT_ZERO_POINT_OFFSET,
                     MAGIC, MAX_EMBEDDING_VALUES, MAX_LAYERS, MAX_TENSOR_ELEMENTS, READABLE_MAJORS, RECORD_BYTES,
                     read_header)
from .spec import ModelSpec


def _check_size_magic_version(buf: bytes) -> dict:
    if len(buf) < HEADER_BYTES + CRC_BYTES:
        raise FormatError(f"file size: {len(buf)} bytes is too small for a .fdal file (truncated?)")
    hdr = read_header(buf)
    if hdr["magic"] != MAGIC:
        raise FormatError(f"header: bad magic {hdr['magic']!r} (not a .fdal file, or text-mode damage)")
    if hdr["version_major"] not in READABLE_MAJORS:
        readable = ", ".join(f"{v}.x" for v in READABLE_MAJORS)
        raise FormatError(f"header: version_major = {hdr['version_major']}: "
                          f"{'future' if hdr['version_major'] > READABLE_MAJORS[-1] else 'unsupported'} version "
                          f"(this reader reads {readable})")
    if hdr["file_size"] != len(buf):
        raise FormatError(f"header: file_size = {hdr['file_size']} but the file has {len(buf)} bytes (truncated?)")
    return hdr


def _check_header(hdr: dict) -> None:
    if hdr["header_bytes"] != HEADER_BYTES:
        raise FormatError(f"header: header_bytes = {hdr['header_bytes']} must be {HEADER_BYTES}")
    check_range(hdr["input_h"], 1, 1024, "input_h")
    check_range(hdr["input_w"], 1, 1024, "input_w")
    check_range(hdr["input_c"], 1, 16, "input_c")
    check_range(hdr["num_classes"], 2, 4096, "num_classes")
    check_range(hdr["num_layers"], 1, MAX_LAYERS, "num_layers")
    n = hdr["num_layers"]
    check_range(hdr["logits_layer"], 0, n - 1, "logits_layer")
    if hdr["score_layer"] != -1:
        check_range(hdr["score_layer"], 0, n - 1, "score_layer")
        if hdr["score_layer"] == hdr["logits_layer"]:
            raise FormatError("header: score_layer must differ from logits_layer")
    if hdr["embedding_layer"] != -1:
        check_range(hdr["embedding_layer"], 0, n - 1, "embedding_layer")
    if hdr["flags"] != 0:
        raise FormatError(f"header: flags = {hdr['flags']} must be 0")
    if any(hdr["reserved"]):
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


def _check_embedding(i: int, layer) -> None:
    """The embedding is an int8 tensor (not an int32 head) of at most MAX_EMBEDDING_VALUES values."""
    if layer.out_kind != "int8":
        raise FormatError(f"layer {i} ({layer.op}): the embedding layer must be an int8 tensor (out_kind 0), "
                          f"not an int32 head")
    values = int(np.prod(layer.out_shape))
    if values > MAX_EMBEDDING_VALUES:
        raise FormatError(f"layer {i} ({layer.op}): the embedding has {values} values, over the limit "
                          f"{MAX_EMBEDDING_VALUES}")


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
    actual_crc = body_crc(buf)
    if stored_crc != actual_crc:
        raise FormatError(f"crc: stored CRC-32 {stored_crc:#010x} != computed {actual_crc:#010x} (file damaged)")
    _check_header(hdr)

    c = hdr["input_c"]
    input_scale = struct.unpack_from("<f", buf, INPUT_SCALE_OFFSET)[0]
    input_zp = struct.unpack_from("<i", buf, INPUT_ZERO_POINT_OFFSET)[0]
    if not finite_positive(input_scale):
        raise FormatError(f"input: input_scale = {input_scale} must be finite and > 0")
    check_range(input_zp, -128, 127, "input_zero_point", "input")
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
    producers = {-1: Producer((hdr["input_h"], hdr["input_w"], c), input_scale, input_zp)}
    spans = []
    layers = [read_layer(buf, hdr, i, producers, heads, spans) for i in range(hdr["num_layers"])]

    logits = layers[hdr["logits_layer"]]
    if logits.out_shape[2] != hdr["num_classes"]:
        raise FormatError(f"layer {hdr['logits_layer']} (fc): logits out_c = {logits.out_shape[2]} must equal "
                          f"num_classes = {hdr['num_classes']}")
    if hdr["score_layer"] != -1 and layers[hdr["score_layer"]].out_shape[2] != 1:
        raise FormatError(f"layer {hdr['score_layer']} (fc): the score layer must have out_c = 1")
    embedding = hdr["embedding_layer"]
    if embedding != -1:
        _check_embedding(embedding, layers[embedding])
    read = {layer.input for layer in layers}
    for i, layer in enumerate(layers):
        if i not in heads and i not in read and i != embedding:
            raise FormatError(f"layer {i} ({layer.op}): dead layer (its output is read by no layer and is no head "
                              f"nor the embedding)")
    spans.sort()
    for (s0, e0, n0), (s1, e1, n1) in zip(spans, spans[1:]):
        if s1 < e0:
            raise FormatError(f"blob: {n1} at {s1} overlaps {n0} [{s0}, {e0})")
    _check_padding_zero(buf, hdr, spans)
    return ModelSpec(
        input_shape=(hdr["input_h"], hdr["input_w"], c), num_classes=hdr["num_classes"],
        input_scale=input_scale, input_zero_point=input_zp, mean=mean, std=std, lut=lut, layers=layers,
        logits_layer=hdr["logits_layer"], score_layer=hdr["score_layer"], embedding_layer=embedding,
        version=(hdr["version_major"], hdr["version_minor"]))
