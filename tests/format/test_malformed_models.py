"""The malformed-model catalogue: every file breaks one rule of docs/format.md; the C++ loader
(`fdal.load`) must reject it with fdal.FormatError and a message naming the rule, and the Python
reader (`fdal.format.read_model`) must agree on accept/reject. Also: truncation at every byte, a
flipped byte at every offset (rejected, or loaded and bit-exact with the oracle), and limit cases
whose products of dimensions pass 2**32.

csrc/fuzz/make_corpus.py imports `small_model_bytes` and `catalogue` from here for fuzz seeds.
"""
from __future__ import annotations

import functools
import struct
from typing import NamedTuple, Optional

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing
from fdal.format.layout import align

NAN = float("nan")
INF = float("inf")


class Case(NamedTuple):
    name: str
    data: bytes
    fragment: Optional[str]  # None: the file is valid and must load


@functools.lru_cache(maxsize=1)
def small_spec():
    """Eight layers using every op: conv, maxpool, relu, upsample, avgpool, flatten, two fc heads;
    the avgpool's output (3x3x3) is the embedding."""
    b = testing.ModelBuilder((6, 6, 2), seed=1)
    b.conv2d(3, (3, 3), pad=(1, 1, 1, 1))
    b.maxpool((2, 2))
    b.relu()
    b.upsample((2, 2))
    b.embedding(b.avgpool((2, 2)))
    feat = b.flatten()
    b.fc(3, head="logits", input=feat)
    b.fc(1, head="score", input=feat)
    return b.build(n_calibration=32)


@functools.lru_cache(maxsize=1)
def branch_model_bytes() -> bytes:
    """A 2.0 file whose embedding is a branch no layer reads (as an exported decoder)."""
    b = testing.ModelBuilder((6, 6, 2), seed=2)
    z = b.conv2d(3, (3, 3), pad=(1, 1, 1, 1))
    b.fc(3, head="logits", input=z)
    b.embedding(b.conv2d(4, (3, 3), input=z))
    return fmt.write_model(b.build(n_calibration=32))


@functools.lru_cache(maxsize=1)
def wide_model_bytes() -> bytes:
    """A 2.0 file without an embedding whose first layer has 32*32*5 = 5120 values (over 4096)."""
    b = testing.ModelBuilder((32, 32, 1), seed=3)
    b.conv2d(5, (1, 1))
    b.fc(3, head="logits")
    return fmt.write_model(b.build(n_calibration=8))


def as_version_1(buf: bytes) -> bytes:
    """The same file as format 1.0: version 1.0 and the embedding field (bytes 52..53) zeroed."""
    out = bytearray(header(buf, "version_major", 1))
    struct.pack_into("<H", out, 10, 0)
    out[52:54] = b"\0\0"
    return fmt.crc32_fixup(bytes(out))


def small_model_bytes() -> bytes:
    return fmt.write_model(small_spec())


# --- editing helpers: each returns new bytes with the CRC recomputed ------------------------------

def _put(buf: bytes, offset: int, fmt_code: str, value) -> bytes:
    out = bytearray(buf)
    struct.pack_into("<" + fmt_code, out, offset, value)
    return fmt.crc32_fixup(bytes(out))


def header(buf: bytes, name: str, value) -> bytes:
    f = fmt.HEADER_FIELDS[name]
    return _put(buf, f.offset, f.fmt, value)


def record(buf: bytes, layer: int, name: str, value) -> bytes:
    return _put(buf, fmt.record_field_offset(buf, layer, name), fmt.RECORD_FIELDS[name].fmt, value)


def record_value(buf: bytes, layer: int, name: str):
    return struct.unpack_from("<" + fmt.RECORD_FIELDS[name].fmt, buf, fmt.record_field_offset(buf, layer, name))[0]


def array_item(buf: bytes, layer: int, field: str, index: int, code: str, value) -> bytes:
    """Overwrite element `index` of a layer's array (code: struct format of one element)."""
    base = record_value(buf, layer, field)
    return _put(buf, base + index * struct.calcsize(code), code, value)


def raw_model(input_shape, records, header_over=None) -> bytes:
    """A file from explicit records and an empty blob: for limit cases that the loader must
    reject before it looks at any array (building them as real models would take gigabytes)."""
    h, w, c = input_shape
    lut_offset = align(fmt.INPUT_MEAN_OFFSET + 16 * c)
    table = lut_offset + 256 * c
    blob = align(table + fmt.RECORD_BYTES * len(records))
    buf = bytearray(blob + fmt.CRC_BYTES)
    fields = dict(magic=fmt.MAGIC, version_major=1, version_minor=0, file_size=len(buf), header_bytes=64,
                  input_h=h, input_w=w, input_c=c, num_classes=2, num_layers=len(records), logits_layer=len(records) - 1,
                  score_layer=-1, flags=0, lut_offset=lut_offset, layer_table_offset=table, blob_offset=blob,
                  blob_bytes=0, reserved=b"")
    fields.update(header_over or {})
    for name, value in fields.items():
        struct.pack_into("<" + fmt.HEADER_FIELDS[name].fmt, buf, fmt.HEADER_FIELDS[name].offset, value)
    struct.pack_into("<ff", buf, 64, 0.02, 0.0)  # input_scale, input_zero_point (as int 0)
    struct.pack_into(f"<{c}f", buf, 72 + 4 * c, *([0.25] * c))  # std
    for i, rec in enumerate(records):
        base = table + fmt.RECORD_BYTES * i
        full = dict(in_scale=0.02, out_scale=0.02, act_min=-128, act_max=127)
        full.update(rec)
        for name, value in full.items():
            struct.pack_into("<" + fmt.RECORD_FIELDS[name].fmt, buf, base + fmt.RECORD_FIELDS[name].offset, value)
    return fmt.crc32_fixup(bytes(buf))


def _limit_cases():
    big = (1024, 1024, 4)  # 4,194,304 elements: exactly the tensor limit
    conv = dict(op=1, input_layer=-1, in_h=1024, in_w=1024, in_c=4, out_h=1024, out_w=1024,
                kernel_h=1, kernel_w=1, stride_h=1, stride_w=1)
    fc = dict(op=6, out_kind=1, input_layer=-1, in_h=1024, in_w=1024, in_c=4, out_h=1, out_w=1)
    up = dict(op=7, input_layer=-1, in_h=256, in_w=256, in_c=4, out_h=4096, out_w=4096, out_c=4,
              kernel_h=16, kernel_w=16)
    return [
        # 1024*1024*4096 = 2**32: wraps to 0 if multiplied in 32 bits.
        Case("conv_output_2pow32_elements", raw_model(big, [dict(conv, out_c=4096), fc]), "over the limit 4194304"),
        # out_c * K = 1024 * 4194304 = 2**32: weight_bytes 0 matches it in 32-bit arithmetic.
        Case("fc_weight_bytes_wraps_32_bits", raw_model(big, [dict(fc, out_c=1024, weight_bytes=0)],
                                                       {"num_classes": 1024}), "weight_bytes 0 is not out_c*K = 4294967296"),
        Case("input_over_element_limit", raw_model((1024, 1024, 16), [dict(fc, in_c=16, out_c=2)]),
             "the input has 16777216 elements, over the limit"),
        Case("upsample_output_over_limit", raw_model((256, 256, 4), [up, dict(fc, in_h=4096, in_w=4096, input_layer=0)]),
             "67108864 elements, over the limit"),
    ]


def catalogue(small: bytes):
    """Every case: (name, file bytes, expected message fragment)."""
    B = small
    n = len(fmt.read_model(B).layers)
    cases = [
        Case("valid", B, None),
        Case("minor_version_7_is_read", header(B, "version_minor", 7), None),
        Case("bad_magic", b"\x89FDAX" + B[5:], "bad magic"),
        Case("text_mode_damage", B[:5] + b"\n" + B[7:], "bad magic"),
        Case("empty", b"", "truncated"),
        Case("future_version", header(B, "version_major", 3), "future version 3.0"),
        Case("version_zero", header(B, "version_major", 0), "unsupported version 0"),
        Case("crc_mismatch_body", B[:-100] + bytes([B[-100] ^ 1]) + B[-99:], "CRC mismatch"),
        Case("crc_mismatch_crc", B[:-1] + bytes([B[-1] ^ 0x80]), "CRC mismatch"),
        Case("padded_file", B + b"\0" * 4, "does not match the actual size"),
        Case("file_size_field", header(B, "file_size", len(B) - 4), "does not match the actual size"),
        Case("header_bytes", header(B, "header_bytes", 128), "header_bytes 128 is not 64"),
        Case("input_h_zero", header(B, "input_h", 0), "input_h 0 is outside 1..1024"),
        Case("input_h_negative", header(B, "input_h", 0xFFFF), "input_h 65535 is outside 1..1024"),
        Case("input_w_too_big", header(B, "input_w", 1025), "input_w 1025 is outside 1..1024"),
        Case("input_c_zero", header(B, "input_c", 0), "input_c 0 is outside 1..16"),
        Case("input_c_17_channels", header(B, "input_c", 17), "input_c 17 is outside 1..16"),
        Case("num_classes_one", header(B, "num_classes", 1), "num_classes 1 is outside 2..4096"),
        Case("num_classes_too_many", header(B, "num_classes", 4097), "num_classes 4097 is outside 2..4096"),
        Case("num_classes_not_logits_out_c", header(B, "num_classes", 4), "does not equal num_classes 4"),
        Case("num_layers_zero", header(B, "num_layers", 0), "num_layers 0 is outside 1..64"),
        Case("num_layers_65", header(B, "num_layers", 65), "num_layers 65 is outside 1..64"),
        Case("logits_layer_past_end", header(B, "logits_layer", n), f"logits_layer {n} is outside 0..{n - 1}"),
        Case("logits_layer_negative", header(B, "logits_layer", -1), "logits_layer -1 is outside"),
        Case("score_layer_minus_two", header(B, "score_layer", -2), "score_layer -2 is outside -1.."),
        Case("score_is_logits", header(B, "score_layer", n - 2), "is also the logits_layer"),
        Case("score_layer_dropped", header(B, "score_layer", -1), "out_kind 1 (int32) is allowed only"),
        Case("flags", header(B, "flags", 1), "flags 1 is not 0"),
        Case("header_reserved", _put(B, 60, "B", 1), "reserved bytes 54..63 are not zero"),
        # The embedding (format 2.x) and files of format 1.x.
        Case("version_1_file_is_read", as_version_1(B), None),
        Case("version_1_embedding_bytes_are_reserved", _put(as_version_1(B), 52, "B", 4),
             "reserved bytes 52..63 of a 1.x file are not zero"),
        Case("embedding_layer_past_end", header(B, "embedding_layer", n), f"embedding_layer {n} is outside -1..{n - 1}"),
        Case("embedding_layer_minus_two", header(B, "embedding_layer", -2), "embedding_layer -2 is outside -1.."),
        Case("embedding_is_the_logits_head", header(B, "embedding_layer", 6),
             "layer 6 (fc): the embedding layer must be an int8 tensor (out_kind 0), not an int32 head"),
        Case("embedding_over_4096_values", header(wide_model_bytes(), "embedding_layer", 0),
             "layer 0 (conv2d): the embedding has 5120 values, over the limit 4096"),
        Case("embedding_branch_is_read", branch_model_bytes(), None),
        Case("embedding_branch_without_embedding", header(branch_model_bytes(), "embedding_layer", -1),
             "layer 2 (conv2d): its output is read by no layer and is no head nor the embedding (dead layer)"),
        Case("embedding_branch_in_version_1", as_version_1(branch_model_bytes()), "(dead layer)"),
        Case("lut_overlaps_input", header(B, "lut_offset", 64), "lut_offset 64 overlaps the input section"),
        Case("lut_past_end", header(B, "lut_offset", 0xFFFFFF00), "overlaps the input lookup table"),
        Case("table_past_end", header(B, "layer_table_offset", 0xFFFFFF00), "overlaps the layer table"),
        Case("blob_misaligned", header(B, "blob_offset", struct.unpack_from("<I", B, 44)[0] + 1),
             "is not a multiple of 64"),
        Case("blob_past_crc", header(B, "blob_bytes", struct.unpack_from("<I", B, 48)[0] + 64),
             "must end where the CRC starts"),
        Case("blob_bytes_u32_max", header(B, "blob_bytes", 0xFFFFFFFF), "must end where the CRC starts"),
        Case("section_padding", _put(B, 100, "B", 1), "padding between sections is not zero"),
        Case("input_scale_nan", _put(B, 64, "f", NAN), "input_scale nan is not finite and > 0"),
        Case("input_scale_inf", _put(B, 64, "f", INF), "input_scale inf is not finite and > 0"),
        Case("input_scale_zero", _put(B, 64, "f", 0.0), "input_scale 0 is not finite and > 0"),
        Case("input_scale_negative", _put(B, 64, "f", -0.5), "input_scale -0.5 is not finite and > 0"),
        Case("input_zero_point", _put(B, 68, "i", 128), "input_zero_point 128 is outside -128..127"),
        Case("mean_nan", _put(B, 72, "f", NAN), "mean[0] is not finite"),
        Case("std_zero", _put(B, 72 + 4 * 2 + 4, "f", 0.0), "std[1] 0 is not finite and > 0"),
        # Layer records.
        Case("op_zero", record(B, 0, "op", 0), "layer 0: op 0 is not a known op"),
        Case("op_future", record(B, 3, "op", 8), "layer 3: op 8 is not a known op"),
        Case("op_255", record(B, 5, "op", 255), "layer 5: op 255 is not a known op"),
        Case("out_kind_2", record(B, 0, "out_kind", 2), "out_kind 2 is not 0 or 1"),
        Case("int32_conv", record(B, 0, "out_kind", 1), "out_kind 1 (int32) is allowed only"),
        Case("logits_out_kind_int8", record(B, 6, "out_kind", 0), "is the logits layer but out_kind is 0"),
        Case("input_layer_forward", record(B, 2, "input_layer", 7), "input_layer 7 is not -1 or an earlier layer"),
        Case("input_layer_self", record(B, 2, "input_layer", 2), "input_layer 2 is not -1 or an earlier layer"),
        Case("input_layer_minus_2", record(B, 2, "input_layer", -2), "input_layer -2 is not -1"),
        Case("reads_a_head", record(B, 7, "input_layer", 6), "is an int32 head, which no layer may read"),
        Case("chain_in_h", record(B, 1, "in_h", 5), "does not match its producer's output (6, 6, 3)"),
        Case("chain_in_c", record(B, 2, "in_c", 4), "does not match its producer's output (3, 3, 3)"),
        Case("chain_input_layer", record(B, 2, "input_layer", -1), "does not match its producer's output (6, 6, 2)"),
        Case("out_h_wrong", record(B, 1, "out_h", 4), "is not the computed (3, 3, 3)"),
        Case("flatten_out_c_wrong", record(B, 5, "out_c", 26), "is not the computed (1, 1, 27)"),
        Case("conv_out_c_zero", record(B, 0, "out_c", 0), "out_c 0 is outside 1..4096"),
        Case("conv_out_c_4097", record(B, 0, "out_c", 4097), "out_c 4097 is outside 1..4096"),
        Case("kernel_zero", record(B, 0, "kernel_h", 0), "kernel_h 0 is outside 1..15"),
        Case("kernel_16", record(B, 0, "kernel_w", 16), "kernel_w 16 is outside 1..15"),
        Case("kernel_over_padded_input", record(B, 0, "kernel_h", 9), "kernel_h 9 is larger than the padded input"),
        Case("stride_zero", record(B, 1, "stride_h", 0), "stride_h 0 is outside 1..15"),
        Case("pad_not_below_kernel", record(B, 0, "pad_top", 3), "pad_top 3 is outside 0..2"),
        Case("avgpool_padding", record(B, 4, "pad_left", 1), "pad_left 1 must be 0 (avgpool has no padding)"),
        Case("upsample_factor_17", record(B, 3, "kernel_h", 17), "kernel_h 17 is outside 1..16"),
        Case("upsample_factor_zero", record(B, 3, "kernel_w", 0), "kernel_w 0 is outside 1..16"),
        Case("relu_stride", record(B, 2, "stride_h", 1), "stride_h 1 must be 0 for this op"),
        Case("fc_kernel", record(B, 6, "kernel_h", 1), "kernel_h 1 must be 0 for this op"),
        # Quantization chain.
        Case("in_zero_point_chain", record(B, 1, "in_zero_point", 5), "in_zero_point 5 does not match its producer's"),
        Case("in_scale_chain", record(B, 1, "in_scale", 1.0), "bit for bit"),
        Case("out_zero_point_range", record(B, 0, "out_zero_point", 200), "out_zero_point 200 is outside -128..127"),
        Case("out_scale_nan", record(B, 0, "out_scale", NAN), "out_scale nan is not finite and > 0"),
        Case("out_scale_inf", record(B, 0, "out_scale", INF), "out_scale inf is not finite and > 0"),
        Case("out_scale_zero", record(B, 0, "out_scale", 0.0), "out_scale 0 is not finite and > 0"),
        Case("out_scale_negative", record(B, 0, "out_scale", -1.0), "out_scale -1 is not finite and > 0"),
        Case("act_min_range", record(B, 0, "act_min", -129), "act_min -129 is outside -128..127"),
        Case("act_max_below_min", record(B, 0, "act_max", -129), "act_max -129 is outside"),
        Case("maxpool_rescales", record(B, 1, "out_scale", 0.5), "must equal in_scale"),
        Case("relu_act_max", record(B, 2, "act_max", 100), "/100 must be"),
        Case("head_zero_point", record(B, 6, "out_zero_point", 1), "out_zero_point 1 must be 0 for an int32 head"),
        Case("head_unit_wrong", record(B, 6, "out_scale", 1.0), "of an int32 head must be in_scale * weight_scale"),
        # Arrays: offsets, sizes, alignment, overlap.
        Case("weight_offset_zero", record(B, 0, "weight_offset", 0), "weight_offset is 0 but the layer needs"),
        Case("weight_misaligned", record(B, 0, "weight_offset", record_value(B, 0, "weight_offset") + 1),
             "is not 64-byte aligned"),
        Case("weight_past_end", record(B, 0, "weight_offset", 0xFFFFFFC0), "is outside the blob"),
        Case("bias_at_blob_end", record(B, 6, "bias_offset", len(B) - fmt.CRC_BYTES),
             "is outside the blob"),
        Case("weight_before_blob", record(B, 0, "weight_offset", 64), "is outside the blob"),
        Case("weight_bytes_wrong", record(B, 0, "weight_bytes", record_value(B, 0, "weight_bytes") + 1),
             "is not out_c*K"),
        Case("weight_bytes_huge", record(B, 6, "weight_bytes", 0xFFFFFFFF), "is not out_c*K"),
        Case("overlapping_arrays", record(B, 7, "bias_offset", record_value(B, 6, "bias_offset")),
             "overlaps"),
        Case("pool_has_weights", record(B, 1, "weight_offset", 64), "must be 0 (this op has no weights)"),
        Case("head_has_multiplier", record(B, 6, "multiplier_offset", record_value(B, 0, "multiplier_offset")),
             "must be 0 for an int32 head"),
        Case("record_reserved", _put(B, fmt.record_field_offset(B, 4, "reserved") + 10, "B", 1),
             "reserved bytes 72..127 are not zero"),
        Case("blob_padding", _put(B, record_value(B, 0, "weight_offset") + 60, "B", 1), "padding"),
        # Array values.
        Case("weight_scale_nan", array_item(B, 0, "weight_scale_offset", 1, "f", NAN), "weight_scale[1] nan is not finite"),
        Case("weight_scale_inf", array_item(B, 0, "weight_scale_offset", 1, "f", INF), "weight_scale[1] inf is not finite"),
        Case("weight_scale_zero", array_item(B, 0, "weight_scale_offset", 2, "f", 0.0), "weight_scale[2] 0 is not finite"),
        Case("weight_scale_negative", array_item(B, 0, "weight_scale_offset", 0, "f", -1.0), "weight_scale[0] -1 is not"),
        Case("head_two_scales", array_item(B, 6, "weight_scale_offset", 1, "f", 0.123), "differs from weight_scale[0]"),
        Case("multiplier_below_2pow30", array_item(B, 0, "multiplier_offset", 0, "i", 2**30 - 1),
             "multiplier[0] 1073741823 is outside [2^30, 2^31-1]"),
        Case("multiplier_negative", array_item(B, 0, "multiplier_offset", 2, "i", -(2**31)), "multiplier[2] -2147483648 is outside"),
        Case("shift_zero", array_item(B, 0, "shift_offset", 0, "i", 0), "shift[0] 0 is outside 1..62"),
        Case("shift_63", array_item(B, 0, "shift_offset", 1, "i", 63), "shift[1] 63 is outside 1..62"),
        Case("shift_negative", array_item(B, 0, "shift_offset", 2, "i", -5), "shift[2] -5 is outside 1..62"),
        Case("weight_minus_128", array_item(B, 0, "weight_offset", 7, "b", -128), "weight 7 is -128"),
        Case("bias_overflows_accumulator", array_item(B, 6, "bias_offset", 0, "i", 2**31 - 1), "accumulator could overflow"),
    ]
    return cases + _limit_cases()


@pytest.fixture(scope="module")
def small() -> bytes:
    return small_model_bytes()


def _cases():
    return catalogue(small_model_bytes())


def _python_rejects(data: bytes) -> bool:
    try:
        fmt.read_model(data)
    except fmt.FormatError:
        return True
    return False


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_catalogue(case):
    if case.fragment is None:
        model = fdal.load(case.data)
        assert model.num_classes == 3
        assert not _python_rejects(case.data)
        return
    with pytest.raises(fdal.FormatError) as err:
        fdal.load(case.data)
    assert case.fragment in str(err.value), f"{case.name}: got {err.value!r}"
    assert _python_rejects(case.data), f"{case.name}: fdal.format.read_model accepted a file fdal.load rejects"


def test_catalogue_names_are_unique(small):
    names = [c.name for c in catalogue(small)]
    assert len(names) == len(set(names))


def test_truncated_at_every_offset(small):
    for n in range(len(small)):
        with pytest.raises(fdal.FormatError) as err:
            fdal.load(small[:n])
        msg = str(err.value)
        expected = "truncated" if n < 68 else "does not match the actual size"
        assert expected in msg, f"truncated to {n} bytes: {msg!r}"


def test_flipped_byte_anywhere_rejected_or_identical_to_oracle(small):
    """Every byte xor 0xFF, CRC recomputed: the C++ loader and the Python reader agree, and a
    file that loads computes exactly what the oracle computes on the Python reader's spec."""
    images = testing.random_images(5, 4, (6, 6, 2))
    accepted = 0
    for offset in range(len(small) - fmt.CRC_BYTES):
        data = bytearray(small)
        data[offset] ^= 0xFF
        data = fmt.crc32_fixup(bytes(data))
        try:
            spec = fmt.read_model(data)
        except fmt.FormatError:
            spec = None
        try:
            model = fdal.load(data)
        except fdal.FormatError:
            assert spec is None, f"offset {offset}: Python reader accepts, fdal.load rejects"
            continue
        assert spec is not None, f"offset {offset}: fdal.load accepts, Python reader rejects"
        accepted += 1
        got = model.forward(images)
        want = oracle.forward(spec, images)
        np.testing.assert_array_equal(got["logits_raw"], want["logits_raw"], err_msg=f"offset {offset}")
        np.testing.assert_array_equal(got["score_raw"], want["score_raw"], err_msg=f"offset {offset}")
        if spec.embedding_layer >= 0:
            np.testing.assert_array_equal(got["embedding_q"], want["embedding_q"], err_msg=f"offset {offset}")
        else:
            assert "embedding_q" not in got, f"offset {offset}"
    assert accepted > 0  # weight bytes and minor version are free to change

