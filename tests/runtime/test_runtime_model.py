"""Whole-model bit-exactness of the native runtime against the numpy oracle, input layouts
(non-contiguous, memmap, negative strides), and Model.info."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import oracle, testing

from conftest import make_pair


def assert_same_outputs(got: dict, want: dict, what: str):
    np.testing.assert_array_equal(got["logits_raw"], want["logits_raw"], err_msg=what)
    np.testing.assert_array_equal(got["logits"].view(np.uint32), want["logits"].view(np.uint32), err_msg=what)
    if want.get("score_raw") is None:
        assert "score" not in got and "score_raw" not in got, what
        return
    np.testing.assert_array_equal(got["score_raw"], want["score_raw"], err_msg=what)
    np.testing.assert_array_equal(got["score"].view(np.uint32), want["score"].view(np.uint32), err_msg=what)


@pytest.mark.parametrize("fixture", ["vgg", "alexnet", "tiny_no_sampler", "tiny"])
def test_forward_bit_exact(request, fixture):
    pair = request.getfixturevalue(fixture)
    images = testing.random_images(7, 40, pair.spec.input_shape)
    got = pair.model.forward(images)
    assert got["logits"].dtype == np.float32 and got["logits_raw"].dtype == np.int32
    assert got["logits"].shape == (40, pair.spec.num_classes)
    assert np.all(np.isfinite(got["logits"]))
    if "score" in got:
        assert got["score"].shape == (40,) and got["score"].dtype == np.float32
        assert not np.any(np.isnan(got["score"]))
    assert_same_outputs(got, oracle.forward(pair.spec, images), fixture)


@pytest.mark.parametrize("seed", [1, 2])
def test_upsample_variant_bit_exact(seed):
    pair = make_pair(seed, "vgg11_lite_upsample")
    images = testing.random_images(seed, 16)
    assert_same_outputs(pair.model.forward(images), oracle.forward(pair.spec, images), f"seed {seed}")


def test_extreme_pixels_bit_exact(vgg):
    # All-0 / all-255 images, and every pixel value, push the lookup table and heads to their ends.
    ramp = np.arange(32 * 32 * 3, dtype=np.int64).reshape(1, 32, 32, 3) % 256
    images = np.concatenate([np.zeros((1, 32, 32, 3)), np.full((1, 32, 32, 3), 255), ramp, 255 - ramp]).astype(np.uint8)
    assert_same_outputs(vgg.model.forward(images), oracle.forward(vgg.spec, images), "extreme pixels")


def test_layouts_give_identical_results(vgg, tmp_path):
    images = testing.random_images(3, 24)
    want = vgg.model.forward(images)
    # A channel-first buffer viewed as NHWC: non-contiguous, read in place.
    nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    strided = nchw.transpose(0, 2, 3, 1)
    assert not strided.flags.c_contiguous
    reversed_ = images[::-1][::-1]
    every_other = np.repeat(images, 2, axis=0)[::2]
    path = tmp_path / "pool.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=images.shape)
    mm[:] = images
    mm.flush()
    readonly = np.memmap(path, dtype=np.uint8, mode="r", shape=images.shape)
    for name, view in [("nchw view", strided), ("reversed twice", reversed_), ("step 2", every_other),
                       ("memmap", readonly)]:
        assert_same_outputs(vgg.model.forward(view), {k: v for k, v in want.items()}, name)
    # Negative strides: the batch reversed gives the reversed outputs.
    got = vgg.model.forward(images[::-1, ::-1, ::-1])
    flipped = vgg.model.forward(np.ascontiguousarray(images[::-1, ::-1, ::-1]))
    assert_same_outputs(got, flipped, "negative strides")


def test_empty_batch(vgg):
    out = vgg.model.forward(np.zeros((0, 32, 32, 3), np.uint8))
    assert out["logits"].shape == (0, 10) and out["score"].shape == (0,)


def test_info_describes_the_model(vgg, tiny_no_sampler):
    info = vgg.model.info
    assert info["input_shape"] == (32, 32, 3)
    assert info["num_classes"] == 10 and info["has_sampler"] is True
    assert info["format_version"] == (2, 0)
    assert info["file_bytes"] == len(vgg.data)
    assert [layer["op"] for layer in info["layers"]] == [layer.op for layer in vgg.spec.layers]
    for layer, spec in zip(info["layers"], vgg.spec.layers):
        assert layer["input"] == spec.input
        assert layer["in_shape"] == tuple(spec.in_shape) and layer["out_shape"] == tuple(spec.out_shape)
        assert layer["kernel"] == tuple(spec.kernel) and layer["stride"] == tuple(spec.stride)
        assert layer["pad"] == tuple(spec.pad)
        assert layer["out_zero_point"] == spec.out_zero_point
        assert layer["out_scale"] == np.float32(spec.out_scale)
        assert layer["weight_bytes"] == (0 if spec.weights is None else spec.weights.size)
    # int8 weights + int32 bias, multiplier, shift (heads: bias only).
    want_weight_bytes = sum(
        s.weights.size + 4 * s.bias.size + (0 if s.multiplier is None else 8 * s.bias.size)
        for s in vgg.spec.layers if s.weights is not None)
    assert info["weight_bytes"] == want_weight_bytes
    # The arena holds at least the largest live pair (a layer's input and output).
    largest_pair = max(np.prod(s.in_shape) + np.prod(s.out_shape) for s in vgg.spec.layers)
    assert largest_pair <= info["arena_bytes"] < 2 * 32 * 32 * 16 + 32 * 32 * 3 + 64 * 16
    assert tiny_no_sampler.model.info["has_sampler"] is False
    info["layers"].clear()  # a copy: the model is not changed
    assert len(vgg.model.info["layers"]) == len(vgg.spec.layers)
