"""The ranking strategies of fdal.rank_pool, the oracle and `fdal rank`: the one Python list of
their names and of what each needs (keys defined in docs/quantization.md, "Ranking keys").

csrc/rank/keys.cpp's kStrategyNames is the C++ list (exported as fdal._core.STRATEGIES);
tests/runtime/test_strategy_lists.py checks that it, this module and the C++ test lists agree. Adding a
strategy means adding it here and to kStrategyNames, then its key in the oracle and in C++.
Pure Python: importable without numpy's extension or the native runtime.
"""
from __future__ import annotations

from typing import NamedTuple


class Strategy(NamedTuple):
    name: str
    needs_sampler: bool  # ranks on the score layer, so the model must have one
    key_dtype: str       # numpy dtype of its ranking key (smaller key = picked first)
    summary: str


_ALL = (
    Strategy("fdal", True, "int32", "lowest sampler score (pre-sigmoid): the most unlabeled-like images"),
    Strategy("margin", False, "int64", "smallest gap between the two largest logits"),
    Strategy("entropy", False, "float64", "highest entropy of the softmax (key: -H)"),
    Strategy("random", False, "uint64", "a seeded hash of the pool index (uniform, without replacement)"),
)

BY_NAME = {s.name: s for s in _ALL}
STRATEGIES = tuple(BY_NAME)  # in kStrategyNames' order


def check_strategy(name, has_sampler: bool) -> Strategy:
    """The Strategy called `name`; ValueError when it is unknown or needs a sampler the model lacks."""
    strategy = BY_NAME.get(name) if isinstance(name, str) else None
    if strategy is None:
        raise ValueError(f"unknown strategy {name!r}; known strategies: {', '.join(STRATEGIES)}")
    if strategy.needs_sampler and not has_sampler:
        raise ValueError(f"strategy {name!r} needs a model with a sampler (score layer); this model has none")
    return strategy
