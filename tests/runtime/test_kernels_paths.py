"""Every faster kernel path (portable, avx2, ...) is bit-exact to the reference path, on seeded
random shapes that hit every tail (channel counts off multiples of 4/8/16/32, odd fan-in, strides,
paddings, 64-bit requantization extremes), on whole models for 1, 2 and 3 threads, and in
rank_pool.

The paths come from the extension's one list (fdal.kernel_paths(runnable_only=False), that is
csrc/kernels/kernel_paths.cpp); those this CPU cannot run are skipped with the reason. Each case's
seed is its test id and is named in every assertion message.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing

# Every path of this build but the one they are all compared with.
ALL_PATHS = tuple(p for p in fdal.kernel_paths(runnable_only=False) if p != "reference")


def _available():
    return fdal.kernel_paths()


@pytest.fixture(params=ALL_PATHS)
def path(request):
    if request.param not in _available():
        pytest.skip(f"kernel path {request.param!r} is not runnable here (available: {_available()})")
    return request.param


def assert_same_outputs(data, images, path, seed, threads=(1,)):
    want = fdal.load(data, kernels="reference").forward(images)
    model = fdal.load(data, kernels=path)
    assert model.kernels == path
    for t in threads:
        got = model.forward(images, threads=t)
        assert set(got) == set(want)
        for key in want:
            np.testing.assert_array_equal(got[key].view(np.uint32) if got[key].dtype == np.float32 else got[key],
                                          want[key].view(np.uint32) if want[key].dtype == np.float32 else want[key],
                                          err_msg=f"{key}, path {path}, threads {t}, seed {seed}")


@functools.lru_cache(maxsize=None)
def model_bytes(seed, arch, embedding=None):
    """Built once per module run (calibration is the slow part)."""
    return fmt.write_model(testing.random_model(seed, arch, n_calibration=32, embedding=embedding))


@functools.lru_cache(maxsize=None)
def reference_ranking(strategy, cap=fdal.strategies.DEFAULT_CAP):
    # With the student embedding, so that kcenter, typiclust and probcover run too.
    return fdal.rank_pool(fdal.load(model_bytes(22, "vgg11_lite", "student"), kernels="reference"),
                          rank_pool_images(), 25, strategy=strategy, batch_size=64, cap=cap)


@functools.lru_cache(maxsize=None)
def rank_pool_images():
    return images_for(22, 301, (32, 32, 3))


def images_for(seed, n, shape):
    return testing.random_images(seed + 2000, n, shape)


def conv_case(seed):
    """conv (in_c up to 16 from the input) -> conv (in_c up to 70) -> identity head on the second."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    b = testing.ModelBuilder((h, w, int(rng.integers(1, 17))), seed=seed)
    b.conv2d(int(rng.integers(1, 71)), (1, 1), relu=bool(rng.integers(2)))
    kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    pad = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw))]
    kh, kw = min(kh, h + pad[0] + pad[2]), min(kw, w + pad[1] + pad[3])
    pad = [min(pad[0], kh - 1), min(pad[1], kw - 1), min(pad[2], kh - 1), min(pad[3], kw - 1)]
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    b.conv2d(int(rng.integers(1, 71)), (kh, kw), stride=stride, pad=tuple(pad), relu=bool(rng.integers(2)))
    return testing.build_with_identity_head(b, n_calibration=16)


@pytest.mark.parametrize("seed", range(16))
def test_conv2d_matches_reference(path, seed):
    spec = conv_case(seed)
    assert_same_outputs(fmt.write_model(spec), images_for(seed, 5, spec.input_shape), path, seed)


@pytest.mark.parametrize("seed", range(10))
def test_fully_connected_and_heads_match_reference(path, seed):
    # Odd fan-in, output counts off every block size, ReLU or not, int8 layer then both heads.
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 17)))
    b = testing.ModelBuilder(shape, seed=seed)
    feat = b.fc(int(rng.integers(1, 140)), relu=bool(rng.integers(2)))
    b.fc(int(rng.integers(1, 40)), head="logits", input=feat)
    b.fc(1, head="score", input=feat)
    spec = b.build(n_calibration=16)
    assert_same_outputs(fmt.write_model(spec), images_for(seed, 9, shape), path, seed)


@pytest.mark.parametrize("seed", range(10))
def test_max_pool_matches_reference(path, seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    b = testing.ModelBuilder((h, w, int(rng.integers(1, 5))), seed=seed)
    b.conv2d(int(rng.integers(1, 70)), (1, 1), relu=False)  # 1..69 channels: 32/16-wide tails
    kh, kw = int(rng.integers(1, min(4, h + 1) + 1)), int(rng.integers(1, min(4, w + 1) + 1))
    pad = (int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw)))
    kh, kw = min(kh, h + pad[0] + pad[2]), min(kw, w + pad[1] + pad[3])
    pad = tuple(min(v, k - 1) for v, k in zip(pad, (kh, kw, kh, kw)))
    b.maxpool((kh, kw), stride=(int(rng.integers(1, 4)), int(rng.integers(1, 4))), pad=pad)
    spec = testing.build_with_identity_head(b, n_calibration=16)
    assert_same_outputs(fmt.write_model(spec), images_for(seed, 5, spec.input_shape), path, seed)


@pytest.mark.parametrize("shifts", ["all", "high"])
@pytest.mark.parametrize("seed", range(6))
def test_requantization_extremes_match_reference(path, seed, shifts):
    # Shifts in [1, 62] ("all") or [32, 62] ("high": the kernels' 32-bit high-half form) and
    # multipliers across [2^30, 2^31-1]: saturation both ways, t beyond int32, and shifts above 54
    # (the zero point is then not folded into the rounding offset).
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 9)))
    b = testing.ModelBuilder(shape, seed=seed)
    b.conv2d(int(rng.integers(1, 40)), (3, 3), pad=(1, 1, 1, 1), relu=bool(rng.integers(2)))
    b.fc(int(rng.integers(1, 40)), relu=bool(rng.integers(2)))
    b.fc(int(rng.integers(2, 12)), head="logits")
    spec = b.build(n_calibration=16)
    for layer in spec.layers[:2]:
        n = len(layer.multiplier)
        layer.multiplier = rng.integers(2**30, 2**31, n).astype(np.int32)
        choices = np.r_[1:63, [1, 2, 30, 31, 54, 55, 62]] if shifts == "all" else np.r_[32:63, [32, 54, 55, 62]]
        layer.shift = rng.choice(choices, n).astype(np.int32)
        if shifts == "high" and seed % 2 == 0:
            layer.shift[:] = rng.integers(32, 55)  # every shift <= 54: zero point folded
    fmt.validate(spec)
    assert_same_outputs(fmt.write_model(spec), images_for(seed, 7, shape), path, seed)


def test_input_lookup_with_any_strides_matches_reference(path):
    pair = testing.random_model(5, "vgg11_lite", n_calibration=16)
    data = fmt.write_model(pair)
    images = images_for(5, 12, (32, 32, 3))
    for view in (images[:, ::-1], images[:, :, ::2].repeat(2, axis=2), images[..., ::-1].copy()[..., ::-1],
                 np.asfortranarray(images)):
        assert_same_outputs(data, view, path, seed=5)


@pytest.mark.parametrize("arch", ["vgg11_lite", "alexnet_lite", "vgg11_lite_upsample"])
def test_whole_models_identical_for_every_path_and_thread_count(path, arch):
    seed = 21
    data = model_bytes(seed, arch)
    assert_same_outputs(data, images_for(seed, 37, (32, 32, 3)), path, seed, threads=(1, 2, 3))


@pytest.mark.parametrize("strategy", fdal.STRATEGIES)
def test_rank_pool_identical_for_every_path_and_thread_count(path, strategy):
    seed = 22
    pool, want = rank_pool_images(), reference_ranking(strategy)
    model = fdal.load(model_bytes(seed, "vgg11_lite", "student"), kernels=path)
    for threads in (1, 2, 3):
        got = fdal.rank_pool(model, pool, 25, strategy=strategy, batch_size=64, threads=threads)
        np.testing.assert_array_equal(got, want, err_msg=f"path {path}, threads {threads}, seed {seed}")
    if fdal.strategies.BY_NAME[strategy].pool_level:  # a pool (301) larger than the cap: seeded candidates
        want = reference_ranking(strategy, cap=120)
        np.testing.assert_array_equal(want, oracle.rank(fmt.read_model(model_bytes(22, "vgg11_lite", "student")),
                                                        pool, 25, strategy, cap=120))
        for threads in (1, 3):
            got = fdal.rank_pool(model, pool, 25, strategy=strategy, batch_size=41, threads=threads, cap=120)
            np.testing.assert_array_equal(got, want, err_msg=f"path {path}, threads {threads}, cap 120")


def test_reference_threads_identical():
    data = fmt.write_model(testing.random_model(23, "alexnet_lite", n_calibration=16))
    assert_same_outputs(data, images_for(23, 10, (32, 32, 3)), "reference", 23, threads=(1, 2, 3, 16))


def test_kernel_paths_and_selection():
    paths = fdal.kernel_paths()
    assert paths[-1] == "reference" and len(set(paths)) == len(paths)
    assert set(paths) <= set(ALL_PATHS) | {"reference"}
    data = fmt.write_model(testing.random_model(1, "tiny", n_calibration=8))
    assert fdal.load(data).kernels == paths[0]  # auto: the best this CPU runs
    reference = fdal.load(data, kernels="reference")
    assert reference.kernels == "reference" and reference.info["packed_bytes"] == 0
    if paths[0] not in ("reference", "portable"):  # the SIMD paths pack their weights
        assert fdal.load(data).info["packed_bytes"] > 0


def test_fdal_kernels_environment_variable(monkeypatch):
    data = fmt.write_model(testing.random_model(1, "tiny", n_calibration=8))
    monkeypatch.setenv("FDAL_KERNELS", "reference")
    assert fdal.load(data).kernels == "reference"
    monkeypatch.setenv("FDAL_KERNELS", "no-such-path")
    with pytest.raises(ValueError, match="not a kernel path"):
        fdal.load(data)
    monkeypatch.setenv("FDAL_KERNELS", "auto")
    assert fdal.load(data).kernels == fdal.kernel_paths()[0]


def test_forcing_a_path_this_cpu_cannot_run_is_a_clear_error():
    data = fmt.write_model(testing.random_model(1, "tiny", n_calibration=8))
    with pytest.raises(ValueError, match="not a kernel path of this build"):
        fdal.load(data, kernels="sse9")
    with pytest.raises(ValueError, match="kernels must be"):
        fdal.load(data, kernels=3)
    missing = [p for p in ALL_PATHS if p not in fdal.kernel_paths()]
    for name in missing:  # built in but not runnable here, or not built for this architecture
        with pytest.raises(ValueError, match="cannot run it|not a kernel path of this build"):
            fdal.load(data, kernels=name)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_bad_thread_counts_are_rejected(threads):
    model = fdal.load(fmt.write_model(testing.random_model(1, "tiny", n_calibration=8)))
    images = images_for(1, 3, (32, 32, 3))
    with pytest.raises(ValueError, match="threads"):
        model.forward(images, threads=threads)
    with pytest.raises(ValueError, match="threads"):
        fdal.rank_pool(model, images, 1, strategy="margin", threads=threads)
