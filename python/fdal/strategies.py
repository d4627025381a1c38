"""The ranking strategies of fdal.rank_pool, the oracle and `fdal rank`: the one Python list of
their names and of what each needs (keys defined in docs/quantization.md, "Ranking keys").

csrc/rank/strategy_table.h's kStrategyTable is the C++ table (exported as fdal._core.STRATEGY_TABLE);
tests/runtime/test_strategy_lists.py checks that it and this module agree flag by flag, and that the C++
test lists name every strategy. Adding a strategy means a row here and in kStrategyTable, then its key
(or rule) in the oracle and in C++.
Pool-level strategies (kcenter, typiclust, probcover, power, classbalanced) pick by a rule of fdal.oracle.pool_select
over at most `cap` seeded candidates (docs/selection.md, "Strategies").
Pure Python: importable without numpy's extension or the native runtime.
"""
from __future__ import annotations

from typing import NamedTuple


class Strategy(NamedTuple):
    name: str
    needs_sampler: bool  # ranks on the score layer, so the model must have one
    key_dtype: str       # numpy dtype of its ranking key (smaller key = picked first); pool-level:
                         # of the key reported per pick (the margin key), not an order
    summary: str
    pool_level: bool = False       # picks by a rule over the seeded candidates (docs/selection.md)
    needs_embedding: bool = False  # the rule reads the model's int8 embedding (format 2.0)

    @property
    def pool_rule(self):
        """The rule of fdal._core.pool_select that picks (a pool-level strategy's own name), or None."""
        return self.name if self.pool_level else None


_ALL = (
    Strategy("fdal", True, "int32", "lowest sampler score (pre-sigmoid): the most unlabeled-like images"),
    Strategy("margin", False, "int64", "smallest gap between the two largest logits"),
    Strategy("entropy", False, "float64", "highest entropy of the softmax (key: -H)"),
    Strategy("random", False, "uint64", "a seeded hash of the pool index (uniform, without replacement)"),
    Strategy("kcenter", False, "int64", "greedy farthest-first k-center on the embeddings", True, True),
    Strategy("typiclust", False, "int64", "the most typical image of each k-center cell of the embeddings",
             True, True),
    Strategy("probcover", False, "int64", "greedy max coverage of delta-balls of the embeddings", True, True),
    Strategy("power", False, "int64", "seeded Gumbel-top-k of 1 / (1 + margin * logits unit)", True, False),
    Strategy("classbalanced", False, "int64",
             "each pick to the predicted class with the fewest (labeled_counts +) picks, power's order "
             "within each", True, False),
)

BY_NAME = {s.name: s for s in _ALL}
STRATEGIES = tuple(BY_NAME)  # in kStrategyTable's order (csrc/rank/strategy_table.h)
# Derived from the one list: the strategies that rank by a per-image key, and the pool-level ones.
PER_IMAGE_STRATEGIES = tuple(s.name for s in _ALL if not s.pool_level)
POOL_STRATEGIES = tuple(s.name for s in _ALL if s.pool_level)
DEFAULT_CAP = 10000  # candidates of a pool-level strategy (csrc Ranker::kDefaultCap, FDAL_DEFAULT_CAP)


def check_strategy(name, has_sampler: bool) -> Strategy:
    """The Strategy called `name`; ValueError when it is unknown or needs a sampler the model lacks."""
    strategy = BY_NAME.get(name) if isinstance(name, str) else None
    if strategy is None:
        raise ValueError(f"unknown strategy {name!r}; known strategies: {', '.join(STRATEGIES)}")
    if strategy.needs_sampler and not has_sampler:
        raise ValueError(f"strategy {name!r} needs a model with a sampler (score layer); this model has none")
    return strategy
