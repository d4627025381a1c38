"""Per-op bit-exactness of the native reference kernels against the numpy oracle.

Each case builds a small model "op under test -> identity fc head": the head's weights are the
identity matrix, so its int32 outputs are exactly (op output - zero point), element by element.
Shapes, kernels, strides and paddings are drawn from a seeded generator (the seed is the test id).
"""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing


def check_bit_exact(spec, images, probe_layer: int, seed: int):
    model = fdal.load(fmt.write_model(spec))
    got = model.forward(images)
    want = oracle.forward(spec, images)
    np.testing.assert_array_equal(got["logits_raw"], want["logits_raw"], err_msg=f"seed {seed}")
    np.testing.assert_array_equal(got["logits"].view(np.uint32), want["logits"].view(np.uint32),
                                  err_msg=f"seed {seed}")
    # The identity head exposes the probed layer's int8 output itself.
    layer_out = oracle.run_layers(spec, images)[probe_layer].reshape(len(images), -1).astype(np.int32)
    zp = spec.layers[probe_layer].out_zero_point
    np.testing.assert_array_equal(got["logits_raw"], layer_out - zp, err_msg=f"seed {seed}")


def random_input(rng, max_hw=13, max_c=7):
    return (int(rng.integers(1, max_hw + 1)), int(rng.integers(1, max_hw + 1)), int(rng.integers(1, max_c + 1)))


def window(rng, in_shape, allow_pad=True, max_kernel=5, max_stride=3):
    """A kernel/stride/pad that fits in_shape (pad < kernel, output at least 1x1)."""
    h, w, _ = in_shape
    kh = int(rng.integers(1, min(max_kernel, h + 2) + 1))
    kw = int(rng.integers(1, min(max_kernel, w + 2) + 1))
    pad = [0, 0, 0, 0]
    if allow_pad:
        pad = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw))]
    kh = min(kh, h + pad[0] + pad[2])
    kw = min(kw, w + pad[1] + pad[3])
    pad = [min(pad[0], kh - 1), min(pad[1], kw - 1), min(pad[2], kh - 1), min(pad[3], kw - 1)]
    if not allow_pad:
        kh, kw = min(kh, h), min(kw, w)
    stride = (int(rng.integers(1, max_stride + 1)), int(rng.integers(1, max_stride + 1)))
    return (kh, kw), stride, tuple(pad)


def images_for(seed, n, shape):
    return testing.random_images(seed + 1000, n, shape)


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng)
    kernel, stride, pad = window(rng, in_shape)
    b = testing.ModelBuilder(in_shape, seed=seed)
    probe = b.conv2d(int(rng.integers(1, 9)), kernel, stride=stride, pad=pad, relu=bool(rng.integers(2)))
    spec = testing.build_with_identity_head(b, n_calibration=32)
    check_bit_exact(spec, images_for(seed, 9, in_shape), probe, seed)


@pytest.mark.parametrize("seed", range(10))
def test_maxpool_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng)
    kernel, stride, pad = window(rng, in_shape)
    b = testing.ModelBuilder(in_shape, seed=seed)
    probe = b.maxpool(kernel, stride=stride, pad=pad)
    spec = testing.build_with_identity_head(b, n_calibration=32)
    check_bit_exact(spec, images_for(seed, 9, in_shape), probe, seed)


@pytest.mark.parametrize("seed", range(10))
def test_avgpool_matches_oracle(seed):
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng)
    kernel, stride, _ = window(rng, in_shape, allow_pad=False)
    b = testing.ModelBuilder(in_shape, seed=seed)
    first = b.conv2d(int(rng.integers(1, 6)), (1, 1), relu=False)  # negative values reach the pool
    probe = b.avgpool(kernel, stride=stride, input=first)
    spec = testing.build_with_identity_head(b, n_calibration=32)
    check_bit_exact(spec, images_for(seed, 9, in_shape), probe, seed)


@pytest.mark.parametrize("seed", range(6))
def test_relu_upsample_flatten_match_oracle(seed):
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng, max_hw=6, max_c=4)
    b = testing.ModelBuilder(in_shape, seed=seed)
    b.conv2d(int(rng.integers(1, 5)), (1, 1), relu=False)
    b.relu()
    probe = b.upsample((int(rng.integers(1, 4)), int(rng.integers(1, 4))))
    b.flatten()
    spec = testing.build_with_identity_head(b, n_calibration=32)
    check_bit_exact(spec, images_for(seed, 7, in_shape), probe, seed)


@pytest.mark.parametrize("seed", range(6))
def test_input_lookup_matches_oracle(seed):
    # The head reads the model input directly: its outputs are the lookup table's int8 values.
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng, max_hw=9, max_c=16)
    b = testing.ModelBuilder(in_shape, seed=seed)
    spec = testing.build_with_identity_head(b, n_calibration=16)
    images = images_for(seed, 5, in_shape)
    model = fdal.load(fmt.write_model(spec))
    want = oracle.apply_lut(spec.lut, images).reshape(len(images), -1).astype(np.int32) - spec.input_zero_point
    np.testing.assert_array_equal(model.forward(images)["logits_raw"], want, err_msg=f"seed {seed}")


@pytest.mark.parametrize("seed", range(8))
def test_fc_int8_and_heads_match_oracle(seed):
    # Random (not identity) fc layers: int8 requantization with per-channel multipliers, ReLU or
    # not, then int32 logits and score heads.
    rng = np.random.default_rng(seed)
    in_shape = random_input(rng, max_hw=7, max_c=5)
    b = testing.ModelBuilder(in_shape, seed=seed)
    feat = b.fc(int(rng.integers(1, 40)), relu=bool(rng.integers(2)))
    b.fc(int(rng.integers(2, 30)), head="logits", input=feat)
    b.fc(1, head="score", input=feat)
    spec = b.build(n_calibration=32)
    images = images_for(seed, 11, in_shape)
    got = fdal.load(fmt.write_model(spec)).forward(images)
    want = oracle.forward(spec, images)
    for key in ("logits_raw", "score_raw"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=f"{key}, seed {seed}")
    for key in ("logits", "score"):
        np.testing.assert_array_equal(got[key].view(np.uint32), want[key].view(np.uint32), err_msg=f"{key}, seed {seed}")
