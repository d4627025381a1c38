"""The embedding output (docs/format.md, "Embedding"): the native runtime returns the file's
embedding tensor bit for bit as the oracle computes it, on every kernel path this CPU runs, for
the student's z and for an exported decoder branch; the planner keeps it alive to the end of the
image; files without one (format 1.x, or exported without) load and say so."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing

# (arch, embedding, decoder channels): the student's z of each arch, and the decoder branch at its
# real width (training/models/decoder.py) and at a small one.
VARIANTS = [("vgg11_lite", "student", None), ("vgg11_lite_upsample", "student", None),
            ("alexnet_lite", "student", None), ("tiny", "student", None),
            ("vgg11_lite", "decoder", (256, 512)), ("vgg11_lite", "decoder", (24, 40))]


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: f"{v[0]}-{v[1]}-{v[2][1] if v[2] else 'z'}")
def variant(request):
    arch, embedding, channels = request.param
    kw = dict(decoder_channels=channels) if channels else {}
    spec = testing.random_model(31, arch, embedding=embedding, n_calibration=32, **kw)
    return spec, fmt.write_model(spec)


@pytest.mark.parametrize("kernels", fdal.kernel_paths())
def test_embedding_is_bit_exact_to_the_oracle_on_every_kernel_path(variant, kernels):
    spec, data = variant
    images = testing.random_images(7, 19, spec.input_shape)  # 19: two full tiles of 8 and a tail
    want = oracle.forward(spec, images)
    model = fdal.load(data, kernels=kernels)
    layer = spec.layers[spec.embedding_layer]
    dim = int(np.prod(layer.out_shape))
    for threads in (1, 3):
        got = model.forward(images, threads=threads)
        msg = f"{kernels}, threads {threads}, embedding layer {spec.embedding_layer} ({layer.op})"
        assert got["embedding_q"].dtype == np.int8 and got["embedding_q"].shape == (19, dim), msg
        assert got["embedding"].dtype == np.float32 and got["embedding"].shape == (19, dim), msg
        np.testing.assert_array_equal(got["embedding_q"], want["embedding_q"], err_msg=msg)
        np.testing.assert_array_equal(got["embedding"].view(np.uint32), want["embedding"].view(np.uint32),
                                      err_msg=msg)
        np.testing.assert_array_equal(got["logits_raw"], want["logits_raw"], err_msg=msg)
    # The embedding is the layer's int8 output in NHWC memory order, dequantized with its own scale.
    per_layer = oracle.run_layers(spec, images[:3])[spec.embedding_layer]
    np.testing.assert_array_equal(want["embedding_q"][:3], per_layer.reshape(3, -1))
    real = (per_layer.reshape(3, -1).astype(np.float64) - layer.out_zero_point) * np.float32(layer.out_scale)
    np.testing.assert_allclose(want["embedding"][:3], real, rtol=1e-6)


def test_info_reports_the_embedding(variant):
    spec, data = variant
    model = fdal.load(data)
    layer = spec.layers[spec.embedding_layer]
    info = model.info
    assert info["embedding_layer"] == spec.embedding_layer and model.has_embedding
    assert info["embedding_dim"] == model.embedding_dim == int(np.prod(layer.out_shape))
    assert info["embedding_scale"] == np.float32(layer.out_scale)
    assert info["embedding_zero_point"] == layer.out_zero_point
    assert f"{model.embedding_dim}-d embedding" in repr(model)
    model.require_embedding("typiclust")  # no error


def test_the_embedding_stays_live_while_later_layers_run():
    """conv A (the embedding) -> conv B -> conv C -> logits: A is read only by B, so without an
    output lifetime the planner would give C the bytes of A, and A would be overwritten."""
    b = testing.ModelBuilder((8, 8, 2), seed=41)
    a = b.conv2d(6, (3, 3), pad=(1, 1, 1, 1))
    b.conv2d(6, (3, 3), pad=(1, 1, 1, 1))
    b.conv2d(6, (3, 3), pad=(1, 1, 1, 1))
    b.fc(3, head="logits")
    b.embedding(a)
    spec = b.build(n_calibration=16)
    images = testing.random_images(42, 9, spec.input_shape)
    want = oracle.forward(spec, images)
    for kernels in fdal.kernel_paths():
        got = fdal.load(fmt.write_model(spec), kernels=kernels).forward(images)
        np.testing.assert_array_equal(got["embedding_q"], want["embedding_q"], err_msg=kernels)
    without = fdal.load(fmt.write_model(dataclasses.replace(spec, embedding_layer=-1)))
    with_embedding = fdal.load(fmt.write_model(spec))
    # A, B and C are 8*8*6 = 384 bytes each (64-aligned): A now needs its own range.
    assert with_embedding.info["arena_bytes"] == without.info["arena_bytes"] + 384


def test_files_without_an_embedding_load_and_name_the_fix(vgg):
    spec = dataclasses.replace(testing.random_model(31, "vgg11_lite", embedding="student", n_calibration=32),
                               version=(1, 0), embedding_layer=-1)
    old = fdal.load(fmt.write_model(spec))
    assert old.info["format_version"] == (1, 0)
    for model in (old, vgg.model):  # a 1.0 file, and a 2.0 file written without an embedding
        info = model.info
        assert (info["embedding_layer"], info["embedding_dim"]) == (-1, 0) and not model.has_embedding
        assert info["embedding_scale"] is None and info["embedding_zero_point"] is None
        out = model.forward(testing.random_images(1, 2, model.input_shape))
        assert "embedding" not in out and "embedding_q" not in out
        assert "no embedding" in repr(model)
        with pytest.raises(ValueError, match=r"strategy 'k-center' needs per-image embeddings.*format "
                                             r"\d\.0\) has no embedding output; re-export it with `fdal export`"):
            model.require_embedding("k-center")


def test_empty_batch_has_the_embedding_width(variant):
    spec, data = variant
    out = fdal.load(data).forward(np.zeros((0,) + tuple(spec.input_shape), np.uint8))
    dim = int(np.prod(spec.layers[spec.embedding_layer].out_shape))
    assert out["embedding_q"].shape == (0, dim) and out["embedding"].shape == (0, dim)
