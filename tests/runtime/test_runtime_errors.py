"""Every error of the runtime API: argument errors (ValueError naming the problem) and load errors
(fdal.FormatError, a ValueError), including byte-level corruption the native loader must reject."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import fdal
from fdal import format as fmt


# ---------------------------------------------------------------------------- rank_pool / forward

@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 32, 32, 3), np.float32), "uint8"),
    (np.zeros((32, 32, 3), np.uint8), "4 dimensions"),
    (np.zeros((4, 32, 31, 3), np.uint8), "expects"),
    (np.zeros((4, 32, 32, 4), np.uint8), "4 channels"),
])
def test_bad_images(vgg, bad, message):
    with pytest.raises(ValueError, match=message):
        fdal.rank_pool(vgg.model, bad, 1)
    with pytest.raises(ValueError, match=message):
        vgg.model.forward(bad)
    with pytest.raises(ValueError, match=message):
        fdal.rank_pool(vgg.model, [np.zeros((2, 32, 32, 3), np.uint8), bad], 1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0), "k must be positive"),
    (dict(k=-3), "k must be positive"),
    (dict(k=9), "larger than the pool size 8"),
    (dict(k=True), "k must be an integer"),
    (dict(k=2.0), "k must be an integer"),
    (dict(k="2"), "k must be an integer"),
    (dict(k=2, strategy="uncertainty"), "fdal, margin, entropy, random"),
    (dict(k=2, strategy=None), "unknown strategy"),
    (dict(k=2, batch_size=0), "batch_size must be positive"),
    (dict(k=2, batch_size=-1), "batch_size must be positive"),
    (dict(k=2, batch_size=1.5), "batch_size must be an integer"),
    (dict(k=2, seed=0.5), "seed must be an integer"),
])
def test_bad_arguments(vgg, kwargs, message):
    images = np.zeros((8, 32, 32, 3), np.uint8)
    k = kwargs.pop("k")
    with pytest.raises(ValueError, match=message):
        fdal.rank_pool(vgg.model, images, k, **kwargs)


def test_empty_pool_and_k_over_streamed_total(vgg):
    with pytest.raises(ValueError, match="pool is empty"):
        fdal.rank_pool(vgg.model, np.zeros((0, 32, 32, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="pool is empty"):
        fdal.rank_pool(vgg.model, iter([]), 1)
    batches = [np.zeros((3, 32, 32, 3), np.uint8)] * 2
    with pytest.raises(ValueError, match="larger than the pool size 6"):
        fdal.rank_pool(vgg.model, iter(batches), 7)
    with pytest.raises(ValueError, match="iterable"):
        fdal.rank_pool(vgg.model, 42, 1)
    with pytest.raises(ValueError, match="fdal.Model"):
        fdal.rank_pool(vgg.spec, np.zeros((2, 32, 32, 3), np.uint8), 1)


def test_fdal_strategy_needs_a_sampler(tiny_no_sampler):
    images = np.zeros((4,) + tuple(tiny_no_sampler.spec.input_shape), np.uint8)
    with pytest.raises(ValueError, match="sampler"):
        fdal.rank_pool(tiny_no_sampler.model, images, 2, strategy="fdal")
    assert "score" not in tiny_no_sampler.model.forward(images)


# ---------------------------------------------------------------------------- load

def test_load_from_path_equals_bytes(vgg, tmp_path):
    path = tmp_path / "m.fdal"
    path.write_bytes(vgg.data)
    images = np.full((2, 32, 32, 3), 77, np.uint8)
    for source in (path, str(path)):
        np.testing.assert_array_equal(fdal.load(source).forward(images)["logits_raw"],
                                      vgg.model.forward(images)["logits_raw"])


def test_missing_file(tmp_path):
    path = tmp_path / "nope.fdal"
    with pytest.raises(fdal.FormatError, match="nope.fdal"):
        fdal.load(path)
    with pytest.raises(ValueError):
        fdal.load(str(path))
    with pytest.raises(fdal.FormatError, match="cannot read"):
        fdal.load(tmp_path)  # a directory
    with pytest.raises(TypeError):
        fdal.load(123)


def refix(buf: bytearray) -> bytes:
    return fmt.crc32_fixup(bytes(buf))


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-1], "file_size"),
    (lambda b: b[:40], "truncated"),
    (lambda b: b[:5], "bad magic|truncated"),
    (lambda b: b"", "bad magic|truncated"),
    (lambda b: b + b"\0" * 64, "file_size"),
    (lambda b: b"GIF89a" + b[6:], "bad magic"),
    (lambda b: b.replace(b"\r\n", b"\n", 1), "bad magic"),
    (lambda b: b[:8] + struct.pack("<H", 3) + b[10:], "future version 3"),
    (lambda b: refix(b[:8] + struct.pack("<H", 4) + b[10:]), "future version 4"),
    (lambda b: b[:200] + bytes([b[200] ^ 1]) + b[201:], "CRC"),
    (lambda b: b[:-1] + bytes([b[-1] ^ 0x80]), "CRC"),
])
def test_corrupt_files(vgg, mutate, message):
    with pytest.raises(fdal.FormatError, match=message) as info:
        fdal.load(mutate(vgg.data))
    assert isinstance(info.value, ValueError)


def test_minor_version_is_read(vgg):
    data = bytearray(vgg.data)
    data[10:12] = struct.pack("<H", 7)
    assert fdal.load(refix(data)).info["format_version"] == (2, 7)


def set_field(data: bytes, layer: int, name: str, fmt_char: str, value) -> bytes:
    buf = bytearray(data)
    struct.pack_into("<" + fmt_char, buf, fmt.record_field_offset(bytes(buf), layer, name), value)
    return refix(buf)


def test_field_errors_name_field_and_layer(vgg):
    conv = 0
    offset = vgg.data[fmt.record_field_offset(vgg.data, conv, "weight_offset"):][:4]
    weight_offset = struct.unpack("<I", offset)[0]
    cases = [
        (set_field(vgg.data, conv, "weight_offset", "I", weight_offset + 4), r"layer 0 \(conv2d\): weight_offset \d+ is not 64-byte aligned"),
        (set_field(vgg.data, conv, "weight_offset", "I", 2**32 - 64), r"layer 0 \(conv2d\): weight_offset .*outside the blob"),
        (set_field(vgg.data, 1, "kernel_h", "B", 0), r"layer 1 \(maxpool\): kernel_h 0"),
        (set_field(vgg.data, 1, "op", "B", 9), r"layer 1: op 9"),
        (set_field(vgg.data, 2, "in_c", "H", 17), r"layer 2 \(conv2d\): input shape"),
        (set_field(vgg.data, 2, "in_zero_point", "i", 200), r"layer 2 \(conv2d\): in_zero_point"),
        (set_field(vgg.data, 2, "out_h", "H", 9), r"layer 2 \(conv2d\): output shape"),
        (set_field(vgg.data, 2, "input_layer", "h", 5), r"layer 2 \(conv2d\): input_layer 5"),
        (set_field(vgg.data, 0, "out_kind", "B", 1), r"layer 0 \(conv2d\): out_kind 1"),
        (set_field(vgg.data, 0, "bias_offset", "I", weight_offset), r"overlaps"),
    ]
    for data, pattern in cases:
        with pytest.raises(fdal.FormatError, match=pattern):
            fdal.load(data)
        with pytest.raises(fmt.FormatError):
            fmt.read_model(data)  # the independent Python reader agrees


def test_weight_minus_128_and_accumulator_overflow_rejected(vgg):
    spec_data = bytearray(vgg.data)
    w = struct.unpack_from("<I", spec_data, fmt.record_field_offset(vgg.data, 0, "weight_offset"))[0]
    spec_data[w] = 0x80
    with pytest.raises(fdal.FormatError, match="-128"):
        fdal.load(refix(spec_data))
    b = struct.unpack_from("<I", vgg.data, fmt.record_field_offset(vgg.data, 0, "bias_offset"))[0]
    overflow = bytearray(vgg.data)
    struct.pack_into("<i", overflow, b, 2**31 - 1000)
    with pytest.raises(fdal.FormatError, match="overflow"):
        fdal.load(refix(overflow))


@pytest.mark.parametrize("seed", range(10))
def test_random_corruption_never_crashes_and_readers_agree(tiny, seed):
    # Byte flips with a fixed CRC reach every field check; the native loader must reject exactly
    # what the independent Python reader rejects, and never crash.
    rng = np.random.default_rng(seed)
    data = tiny.data
    disagreements = []
    for trial in range(400):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(buf) - 4))
            buf[pos] = int(rng.integers(0, 256))
        mutated = refix(buf)
        native_ok = python_ok = True
        try:
            fdal.load(mutated)
        except fdal.FormatError:
            native_ok = False
        try:
            fmt.read_model(mutated)
        except fmt.FormatError:
            python_ok = False
        if native_ok != python_ok:
            disagreements.append((trial, native_ok, python_ok))
    assert not disagreements, f"seed {seed}: (trial, native accepts, python accepts) {disagreements[:5]}"


def test_unpickled_arrays_are_accepted(vgg):
    # An unpickled array's dtype is an equal object, not numpy's singleton (CIFAR-10's own batches
    # are pickles): an identity check refused them with "images must be uint8, got uint8".
    import pickle

    from fdal import _core
    images = pickle.loads(pickle.dumps(np.arange(4 * 32 * 32 * 3, dtype=np.uint8).reshape(4, 32, 32, 3)))
    fresh = images.copy()
    np.testing.assert_array_equal(vgg.model.forward(images)["logits_raw"], vgg.model.forward(fresh)["logits_raw"])
    np.testing.assert_array_equal(fdal.rank_pool(vgg.model, images, 2), fdal.rank_pool(vgg.model, fresh, 2))
    emb = pickle.loads(pickle.dumps(np.arange(20, dtype=np.int8).reshape(5, 4)))
    keys = pickle.loads(pickle.dumps(np.arange(5, dtype=np.int64)))
    np.testing.assert_array_equal(_core.pool_select("kcenter", emb, None, 2, 0),
                                  _core.pool_select("kcenter", emb.copy(), None, 2, 0))
    np.testing.assert_array_equal(_core.pool_select("power", None, keys, 2, 0),
                                  _core.pool_select("power", None, keys.copy(), 2, 0))


def test_byte_swapped_keys_are_refused():
    from fdal import _core
    with pytest.raises(ValueError, match="int64"):
        _core.pool_select("power", None, np.arange(5, dtype=">i8"), 2, 0)
