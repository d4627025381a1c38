"""One list of ranking strategies per language, and every other list checked against it.

python/fdal/strategies.py is the Python table, csrc/rank/strategy_table.h's kStrategyTable the C++
one (fdal._core.STRATEGY_TABLE: name, needs_sampler, needs_embedding, pool rule, key dtype). The CMake test lists cannot import either, so they are parsed here:
adding a strategy to one list and not to the others fails this file.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import fdal
from fdal import oracle, strategies, testing

ROOT = Path(__file__).resolve().parents[2]
CSRC_TESTS = ROOT / "csrc" / "tests"


def test_python_list_equals_the_cpp_list():
    from fdal import _core
    assert strategies.STRATEGIES == tuple(_core.STRATEGIES)


def test_python_table_equals_the_cpp_table_flag_by_flag():
    from fdal import _core
    python_rows = [(s.name, s.needs_sampler, s.needs_embedding, s.pool_rule, s.key_dtype)
                   for s in strategies.BY_NAME.values()]
    assert python_rows == [tuple(row) for row in _core.STRATEGY_TABLE]
    # The rules the table names are the rules fdal._core.pool_select runs.
    assert {row[3] for row in _core.STRATEGY_TABLE} - {None} == set(_core.POOL_RULES)


def test_every_python_user_reads_the_one_list():
    assert fdal.STRATEGIES is strategies.STRATEGIES
    assert fdal.runtime.STRATEGIES is strategies.STRATEGIES
    assert oracle.STRATEGIES is strategies.STRATEGIES
    assert tuple(strategies.BY_NAME) == strategies.STRATEGIES


def test_ctest_foreach_lists_every_strategy():
    text = (CSRC_TESTS / "CMakeLists.txt").read_text()
    lists = re.findall(r"foreach\(s ([a-z_ ]+)\)", text)
    assert lists, "csrc/tests/CMakeLists.txt: the fdal-rank golden loop `foreach(s ...)` is gone"
    # One loop for the per-image strategies (alexnet_lite), one for the pool-level ones (a model
    # with an embedding): together every strategy, in order, once.
    assert [tuple(names.split()) for names in lists] == [strategies.PER_IMAGE_STRATEGIES,
                                                         strategies.POOL_STRATEGIES]
    assert strategies.PER_IMAGE_STRATEGIES + strategies.POOL_STRATEGIES == strategies.STRATEGIES


def test_alloc_check_covers_every_strategy():
    text = (CSRC_TESTS / "alloc_check.cmake").read_text()
    # The model without a sampler runs every strategy that does not need one ...
    # ... the model with an embedding the pool-level ones ...
    (no_sampler, pool_level) = re.findall(r"foreach\(strategy ([a-z_ ]+)\)", text)
    assert no_sampler.split() + pool_level.split() == [s.name for s in strategies.BY_NAME.values()
                                                       if not s.needs_sampler]
    assert tuple(pool_level.split()) == strategies.POOL_STRATEGIES
    # ... and the model with a sampler the ones that do (npy_chunk_allocs(model STRATEGY extra)).
    with_sampler = set(re.findall(r'npy_chunk_allocs\("\$\{GOLDEN\}/alexnet_lite\.fdal" (\w+)', text))
    assert with_sampler == {s.name for s in strategies.BY_NAME.values() if s.needs_sampler}


@pytest.mark.parametrize("name", strategies.STRATEGIES)
def test_every_strategy_has_tool_goldens(name):
    # Written by csrc/tests/make_goldens.py (which loops over STRATEGIES); read by the ctest loop.
    assert (CSRC_TESTS / "golden" / f"rank_{name}.txt").is_file()
    assert (CSRC_TESTS / "golden" / f"rank_{name}_scores.txt").is_file()


@pytest.mark.parametrize("name", strategies.STRATEGIES)
def test_oracle_keys_fit_the_documented_key_type(name):
    spec = testing.random_model(5, "tiny", n_calibration=16)
    out = oracle.forward(spec, testing.random_images(6, 20, spec.input_shape))
    keys = np.asarray(oracle.keys(out, name, seed=3))
    dtype = np.dtype(strategies.BY_NAME[name].key_dtype)
    assert np.array_equal(keys.astype(dtype).astype(keys.dtype), keys)


def test_check_strategy_messages():
    with pytest.raises(ValueError, match="unknown strategy 'best'; known strategies: fdal, margin"):
        strategies.check_strategy("best", has_sampler=True)
    with pytest.raises(ValueError, match="unknown strategy None"):
        strategies.check_strategy(None, has_sampler=True)
    with pytest.raises(ValueError, match="needs a model with a sampler"):
        strategies.check_strategy("fdal", has_sampler=False)
    assert strategies.check_strategy("margin", has_sampler=False).name == "margin"
