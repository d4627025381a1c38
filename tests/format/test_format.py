"""The .fdal writer and the validating reader (docs/format.md)."""
import struct

import numpy as np
import pytest

from fdal import format as F
from fdal.format import FormatError, crc32_fixup, read_model, record_field_offset, write_model
from fdal.format.layout import read_header
from fdal.testing import ARCHS, ModelBuilder, random_model


@pytest.fixture(scope="module")
def small():
    """conv (out_c 2) + fc head (out_c 2) + fc score on a 3x3x1 input: a file of a few hundred bytes."""
    b = ModelBuilder((3, 3, 1), seed=5)
    feat = b.conv2d(2, (3, 3), pad=(1, 1, 1, 1))
    b.fc(2, head="logits", input=feat)
    b.fc(1, head="score", input=feat)
    spec = b.build(n_calibration=32)
    return spec, write_model(spec)


def put(buf: bytes, offset: int, fmt: str, value, fix_crc: bool = True) -> bytes:
    out = bytearray(buf)
    struct.pack_into("<" + fmt, out, offset, value)
    return crc32_fixup(bytes(out)) if fix_crc else bytes(out)


def put_header(buf, name, value):
    f = F.HEADER_FIELDS[name]
    return put(buf, f.offset, f.fmt, value)


def put_record(buf, layer, name, value):
    return put(buf, record_field_offset(buf, layer, name), F.RECORD_FIELDS[name].fmt, value)


def get_record(buf, layer, name):
    return struct.unpack_from("<" + F.RECORD_FIELDS[name].fmt, buf, record_field_offset(buf, layer, name))[0]


def rejects(buf, *words):
    with pytest.raises(FormatError) as info:
        read_model(buf)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


@pytest.mark.parametrize("arch", ARCHS)
def test_round_trip_every_arch(arch, tmp_path):
    spec = random_model(11, arch, num_classes=7, n_calibration=48)
    data = write_model(spec, tmp_path / "m.fdal")
    assert (tmp_path / "m.fdal").read_bytes() == data
    back = read_model(tmp_path / "m.fdal")
    assert F.model_differences(spec, back) == []
    assert write_model(back) == data
    assert len(data) % 4 == 0 and F.HEADER_FIELDS["magic"].offset == 0 and data[:8] == F.MAGIC


def test_layout_alignment_and_crc(small):
    spec, data = small
    hdr = read_header(data)
    assert hdr["blob_offset"] % 64 == 0 and hdr["file_size"] == len(data)
    assert hdr["blob_offset"] + hdr["blob_bytes"] == len(data) - 4
    for i in range(len(spec.layers)):
        for name in F.ARRAY_FIELDS:
            off = get_record(data, i, name)
            assert off % 64 == 0 and (off == 0 or off >= hdr["blob_offset"])
    import zlib
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_without_sampler_round_trips():
    spec = random_model(2, "tiny", with_sampler=False, input_shape=(5, 4, 2), n_calibration=16)
    assert spec.score_layer == -1
    assert F.models_equal(read_model(write_model(spec)), spec)


@pytest.mark.parametrize("arch, embedding", [("vgg11_lite", "student"), ("vgg11_lite", "decoder"),
                                             ("alexnet_lite", "student"), ("tiny", "student")])
def test_embedding_round_trips_and_lives_in_header_bytes_52_53(arch, embedding):
    spec = random_model(4, arch, embedding=embedding, input_shape=(16, 16, 3), n_calibration=16,
                        decoder_channels=(16, 24))
    data = write_model(spec)
    back = read_model(data)
    assert back.version == (2, 0) and back.embedding_layer == spec.embedding_layer >= 0
    assert F.model_differences(spec, back) == [] and write_model(back) == data
    assert struct.unpack_from("<h", data, 52)[0] == spec.embedding_layer and data[54:64] == bytes(10)
    layer = back.layers[back.embedding_layer]
    assert layer.out_kind == "int8"
    if embedding == "decoder":
        assert [l.op for l in back.layers[-3:]] == ["conv2d", "conv2d", "avgpool"]
        assert layer.out_shape == (1, 1, 24) and back.embedding_layer == len(back.layers) - 1


def test_version_1_files_have_no_embedding_and_the_writer_keeps_them_1_0():
    spec = random_model(4, "vgg11_lite", input_shape=(16, 16, 3), n_calibration=16)
    import dataclasses
    old = write_model(dataclasses.replace(spec, version=(1, 0)))
    assert old[8:12] == struct.pack("<HH", 1, 0) and old[52:64] == bytes(12)
    assert read_model(old).embedding_layer == -1 and read_header(old)["embedding_layer"] == -1
    with pytest.raises(FormatError, match=r"format 1.0 has no embedding field: write version 2.0"):
        write_model(dataclasses.replace(spec, version=(1, 0), embedding_layer=5))
    # A decoder branch is read by no layer: only a 2.x file can say it is an output.
    dec = random_model(4, "vgg11_lite", embedding="decoder", input_shape=(16, 16, 3), n_calibration=16,
                       decoder_channels=(16, 24))
    with pytest.raises(FormatError, match=r"dead layer"):
        write_model(dataclasses.replace(dec, embedding_layer=-1))


def test_embedding_rules(small):
    spec, data = small
    rejects(put_header(data, "embedding_layer", 3), "embedding_layer = 3 must be in 0..2")
    rejects(put_header(data, "embedding_layer", -2), "embedding_layer = -2 must be in 0..2")
    rejects(put_header(data, "embedding_layer", 1), "layer 1 (fc): the embedding layer must be an int8 tensor")
    assert read_model(put_header(data, "embedding_layer", 0)).embedding_layer == 0
    b = ModelBuilder((32, 32, 1), seed=3)
    b.embedding(b.conv2d(5, (1, 1)))
    b.fc(3, head="logits")
    with pytest.raises(FormatError, match=r"layer 0 \(conv2d\): the embedding has 5120 values, over the limit 4096"):
        b.build(n_calibration=4)
    with pytest.raises(ValueError, match="embedding 7 is not an existing layer"):
        b.embedding(7)
    with pytest.raises(ValueError, match="embedding must be one of"):
        random_model(1, "tiny", embedding="teacher")
    with pytest.raises(ValueError, match="embedding='decoder' needs a vgg11_lite arch"):
        random_model(1, "tiny", embedding="decoder")


def test_bad_magic_and_future_version(small):
    _, data = small
    rejects(b"\x89FDAM" + data[5:], "magic")
    rejects(data.replace(b"\r\n", b"\n", 1) + b"\0", "magic")  # text-mode damage
    # major version is checked before the CRC, so an unfixed CRC is still reported as a future version
    rejects(put(data, 8, "H", 3, fix_crc=False), "future version")
    rejects(put(data, 8, "H", 0), "unsupported version")
    minor = put(data, 10, "H", 7)
    assert read_model(minor).version == (2, 7)


def test_truncated_at_every_offset_and_extended(small):
    _, data = small
    for n in range(len(data)):
        with pytest.raises(FormatError):
            read_model(data[:n])
    rejects(data + b"\0", "file_size")


def test_crc_damage(small):
    _, data = small
    rejects(data[:-1] + bytes([data[-1] ^ 1]), "crc")
    mid = len(data) // 2
    rejects(data[:mid] + bytes([data[mid] ^ 0x10]) + data[mid + 1:], "crc")


def test_flipped_byte_with_crc_fixed_is_rejected_or_round_trips(small):
    spec, data = small
    accepted = 0
    for off in range(len(data) - 4):
        for mask in (0x01, 0x80):
            buf = bytearray(data)
            buf[off] ^= mask
            buf = crc32_fixup(bytes(buf))
            try:
                got = read_model(buf)
            except FormatError:
                continue
            accepted += 1
            again = read_model(write_model(got))
            assert F.model_differences(got, again) == [], f"offset={off} mask={mask:#x}"
    assert 0 < accepted < len(data)  # weights, LUT and mean/std edits are legal; most others are not


def test_misaligned_out_of_range_and_overlapping_arrays(small):
    _, data = small
    w = get_record(data, 0, "weight_offset")
    rejects(put_record(data, 0, "weight_offset", w + 1), "layer 0", "weight_offset", "multiple of 64")
    rejects(put_record(data, 0, "weight_offset", (len(data) // 64 + 1) * 64), "layer 0", "weight_offset", "blob")
    rejects(put_record(data, 0, "weight_offset", 0), "layer 0", "weight_offset", "blob")
    # the logits head's bias aliases the conv's bias (same length, valid values): only the overlap is wrong
    alias = put_record(data, 1, "bias_offset", get_record(data, 0, "bias_offset"))
    rejects(alias, "overlaps")
    rejects(put_record(data, 1, "shift_offset", get_record(data, 0, "shift_offset")), "layer 1", "shift_offset")
    rejects(put_record(data, 0, "weight_bytes", get_record(data, 0, "weight_bytes") + 1), "layer 0", "weight_bytes")
    rejects(put_header(data, "blob_offset", read_header(data)["blob_offset"] + 4), "blob_offset")
    rejects(put_header(data, "lut_offset", 64), "lut_offset")
    rejects(put_header(data, "layer_table_offset", read_header(data)["lut_offset"]), "layer_table_offset")


def test_shape_chain_breaks(small):
    _, data = small
    rejects(put_record(data, 1, "in_c", 3), "layer 1", "in_h, in_w, in_c")
    rejects(put_record(data, 0, "out_h", 2), "layer 0", "out_h")
    rejects(put_record(data, 0, "in_h", 4), "layer 0", "in_h")
    rejects(put_record(data, 0, "input_layer", 0), "layer 0", "input_layer")
    rejects(put_record(data, 1, "input_layer", 2), "layer 1", "input_layer")
    rejects(put_record(data, 2, "input_layer", 1), "layer 2", "logits")  # a head read by another layer
    rejects(put_record(data, 0, "pad_top", 3), "layer 0", "pad_top")
    rejects(put_record(data, 0, "kernel_h", 0), "layer 0", "kernel_h")
    rejects(put_record(data, 0, "stride_w", 16), "layer 0", "stride_w")


@pytest.mark.parametrize("bad", [0.0, -0.5, float("nan"), float("inf")])
def test_bad_scales(small, bad):
    _, data = small
    rejects(put(data, F.INPUT_SCALE_OFFSET, "f", bad), "input_scale")
    rejects(put_record(data, 0, "out_scale", bad), "layer 0", "out_scale")
    rejects(put(data, get_record(data, 0, "weight_scale_offset"), "f", bad), "layer 0", "weight_scale")
    c = read_header(data)["input_c"]
    rejects(put(data, F.INPUT_MEAN_OFFSET + 4 * c, "f", bad), "std")


def test_scale_and_zero_point_chain(small):
    _, data = small
    in_scale = get_record(data, 1, "in_scale")
    nudged = float(np.nextafter(np.float32(in_scale), np.float32(1)))
    rejects(put_record(data, 1, "in_scale", nudged), "layer 1", "in_scale")
    rejects(put_record(data, 1, "in_zero_point", 3), "layer 1", "in_zero_point")
    rejects(put_record(data, 0, "out_zero_point", 128), "layer 0", "out_zero_point")
    rejects(put_record(data, 1, "out_zero_point", 1), "layer 1", "out_zero_point")
    rejects(put_record(data, 1, "out_scale", 1.0), "layer 1", "out_scale")  # head unit != in_scale*weight_scale
    rejects(put_record(data, 0, "act_max", -129), "layer 0", "act_max")
    rejects(put(data, F.INPUT_ZERO_POINT_OFFSET, "i", -129), "input_zero_point")


def test_multiplier_shift_weights_bias(small):
    _, data = small
    shift_at, mult_at = get_record(data, 0, "shift_offset"), get_record(data, 0, "multiplier_offset")
    rejects(put(data, shift_at, "i", 63), "layer 0", "shift")
    rejects(put(data, shift_at + 4, "i", 0), "layer 0", "shift")
    rejects(put(data, mult_at, "i", 2**30 - 1), "layer 0", "multiplier")
    rejects(put(data, get_record(data, 0, "weight_offset"), "b", -128), "layer 0", "weights")
    rejects(put(data, get_record(data, 1, "bias_offset"), "i", 2**31 - 1), "layer 1", "overflow")
    rejects(put_record(data, 1, "multiplier_offset", mult_at), "layer 1", "multiplier_offset")


def test_ops_kinds_heads_and_reserved(small):
    _, data = small
    rejects(put_record(data, 0, "op", 9), "layer 0", "unknown op")
    rejects(put_record(data, 0, "op", 0), "layer 0", "unknown op")
    rejects(put_record(data, 0, "out_kind", 1), "layer 0", "out_kind")
    rejects(put_record(data, 1, "out_kind", 0), "layer 1", "out_kind")
    rejects(put_record(data, 0, "out_kind", 2), "layer 0", "out_kind")
    rejects(put(data, record_field_offset(data, 2, "reserved") + 55, "B", 1), "layer 2", "reserved")
    rejects(put_header(data, "reserved", b"\0" * 9 + b"\1"), "reserved")
    rejects(put_header(data, "flags", 1), "flags")
    rejects(put_header(data, "num_classes", 3), "num_classes")
    rejects(put_header(data, "num_classes", 1), "num_classes")
    rejects(put_header(data, "score_layer", 1), "score_layer")
    rejects(put_header(data, "logits_layer", 3), "logits_layer")
    rejects(put_header(data, "score_layer", -1), "layer 2", "out_kind")  # an int32 layer that is no head
    rejects(put_header(data, "header_bytes", 65), "header_bytes")
    rejects(put_header(data, "input_c", 17), "input_c")
    rejects(put_header(data, "num_layers", 0), "num_layers")


def test_dead_layer_and_padding():
    b = ModelBuilder((4, 4, 1), seed=1)
    b.conv2d(2, (3, 3))
    b.fc(2, head="logits")
    good = b.build(n_calibration=8)
    dead = F.LayerSpec("relu", 0, (2, 2, 2), (2, 2, 2), in_scale=good.layers[0].out_scale,
                       in_zero_point=good.layers[0].out_zero_point, out_scale=good.layers[0].out_scale,
                       out_zero_point=good.layers[0].out_zero_point, act_min=good.layers[0].out_zero_point)
    good.layers.append(dead)
    with pytest.raises(FormatError, match="layer 2 .*dead"):
        write_model(good)
    good.layers.pop()
    data = write_model(good)
    lut_end = read_header(data)["lut_offset"] - 1  # a padding byte before the lookup table
    rejects(put(data, lut_end, "B", 7), "padding")


def test_writer_refuses_invalid_specs():
    b = ModelBuilder((3, 3, 1), seed=5)
    b.conv2d(2, (3, 3), pad=(1, 1, 1, 1))
    b.fc(2, head="logits")
    spec = b.build(n_calibration=8)
    good = write_model(spec)
    layer = spec.layers[0]
    saved = layer.shift
    layer.shift = np.full_like(saved, 63)
    with pytest.raises(FormatError, match="layer 0.*shift"):
        write_model(spec)
    layer.shift = saved[:1]
    with pytest.raises(FormatError, match="layer 0.*shift"):
        write_model(spec)
    layer.shift = saved
    layer.op = "conv3d"
    with pytest.raises(FormatError, match="layer 0.*unknown op"):
        write_model(spec)
    layer.op = "conv2d"
    spec.layers[1].multiplier = np.full(2, 2**30, np.int32)
    with pytest.raises(FormatError, match="layer 1.*multiplier"):
        write_model(spec)
    spec.layers[1].multiplier = None
    assert write_model(spec) == good


def test_layer_output_shape_rules():
    assert F.layer_output_shape("conv2d", (9, 7, 2), (5, 3), (2, 2), (2, 1, 1, 0), out_c=5) == (4, 3, 5)
    assert F.layer_output_shape("maxpool", (16, 16, 24), (3, 3), (2, 2), (1, 1, 1, 1)) == (8, 8, 24)
    assert F.layer_output_shape("avgpool", (8, 8, 3), (2, 2), (2, 2)) == (4, 4, 3)
    assert F.layer_output_shape("flatten", (2, 2, 64)) == (1, 1, 256)
    assert F.layer_output_shape("upsample", (2, 2, 64), (2, 2)) == (4, 4, 64)
    assert F.layer_output_shape("fc", (1, 1, 256), out_c=10) == (1, 1, 10)
    with pytest.raises(ValueError):
        F.layer_output_shape("conv2d", (2, 2, 1), (5, 5), (1, 1), (0, 0, 0, 0), out_c=1)
    with pytest.raises(ValueError):
        F.layer_output_shape("softmax", (2, 2, 1))


def test_read_model_type_errors():
    with pytest.raises(TypeError):
        read_model(12)
    assert issubclass(FormatError, ValueError)
