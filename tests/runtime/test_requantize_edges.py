"""Requantization at its edges, on every kernel path, against the numpy oracle (not against the
reference kernels, which a shared bug would fool): exact rounding ties (power-of-two multipliers,
shifts 31-62), accumulators next to +-2^31, zero points at both ends of the int8 range
(fdal.testing.ties). The cases are checked to contain the ties they claim, and to tell the
planted bug of issue 21 (negative ties rounded away from zero) from the real rule.
"""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing
from fdal.oracle import kernels as oracle_kernels
from fdal.testing import ties

SEEDS = range(6)
PATHS = fdal.kernel_paths(runnable_only=False)


@pytest.fixture(params=PATHS)
def path(request):
    if request.param not in fdal.kernel_paths():
        pytest.skip(f"kernel path {request.param!r} is not runnable here (available: {fdal.kernel_paths()})")
    return request.param


def case(seed):
    spec = ties.tie_model(seed)
    return spec, testing.random_images(seed + 500, 8, spec.input_shape)


def assert_equal_outputs(got, want, msg):
    for key in ("logits_raw", "embedding_q"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=f"{key}: {msg}")


@pytest.mark.parametrize("seed", SEEDS)
def test_tie_cases_hold_the_ties_they_claim(seed):
    spec, images = case(seed)
    counts = ties.tie_counts(spec, images)
    int8_layers = [i for i, l in enumerate(spec.layers) if l.op in ("conv2d", "fc") and l.out_kind == "int8"]
    assert sorted(counts) == int8_layers
    assert all(spec.layers[i].multiplier[1] == ties.POWER_OF_TWO_MULTIPLIER for i in int8_layers), f"seed {seed}"
    assert sum(v for _, v in counts.values()) >= 500, f"seed {seed}: {counts}"  # negative ties a bug would show
    assert all(t > 0 for t, _ in counts.values()), f"seed {seed}: a layer without ties: {counts}"
    edge = spec.layers[int8_layers[2]]
    assert edge.bias.max() > 2**30 and edge.bias.min() < -(2**30), f"seed {seed}: no accumulator near the bounds"
    assert {spec.layers[int8_layers[1]].out_zero_point, spec.layers[int8_layers[3]].out_zero_point} == {-128, 127}


@pytest.mark.parametrize("seed", SEEDS)
def test_every_path_rounds_ties_as_the_oracle(path, seed):
    spec, images = case(seed)
    want = oracle.forward(spec, images)
    model = fdal.load(fmt.write_model(spec), kernels=path)
    for threads in (1, 3):
        assert_equal_outputs(model.forward(images, threads=threads), want,
                             f"path {path}, threads {threads}, tie_model seed {seed}")


@pytest.mark.parametrize("seed", SEEDS)
def test_the_cases_catch_negative_ties_rounded_away_from_zero(monkeypatch, seed):
    """The oracle with the planted bug disagrees with the runtime on every seed: a kernel with
    that bug would fail test_every_path_rounds_ties_as_the_oracle."""
    spec, images = case(seed)
    native = fdal.load(fmt.write_model(spec), kernels="reference").forward(images)
    monkeypatch.setattr(oracle_kernels, "requantize", ties.requantize_with_negative_ties_away_from_zero)
    buggy = oracle.forward(spec, images)
    assert not np.array_equal(buggy["embedding_q"], native["embedding_q"]), f"seed {seed}"
    assert not np.array_equal(buggy["logits_raw"], native["logits_raw"]), f"seed {seed}"


def test_planted_rule_differs_only_on_negative_ties():
    acc = np.array([-3, -2, -1, 0, 1, 2, 3, -5, 5], dtype=np.int64)
    # multiplier 2^30, shift 31: acc / 2, odd acc are exact ties
    good = oracle_kernels.requantize(acc, 2**30, 31, 0, -128, 127)
    bad = ties.requantize_with_negative_ties_away_from_zero(acc, 2**30, 31, 0, -128, 127)
    np.testing.assert_array_equal(good, [-1, -1, 0, 0, 1, 1, 2, -2, 3])  # round half up: -1.5 -> -1
    np.testing.assert_array_equal(bad, [-2, -1, -1, 0, 1, 1, 2, -3, 3])
