"""Per-image ranking keys of every strategy (docs/quantization.md, "Ranking keys"); smaller keys are
ranked first. The counterpart of csrc/rank/keys.cpp.
"""
from __future__ import annotations

import numpy as np

from ..strategies import check_strategy
from .det_math import det_exp, det_log

GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix64(z):
    """SplitMix64's finalizer on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64).copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def random_keys(n: int, start_index: int = 0, seed: int = 0):
    """mix64(seed + GOLDEN_GAMMA * (i + 1)) for pool indices i = start_index .. start_index + n - 1."""
    i1 = np.arange(start_index + 1, start_index + n + 1, dtype=np.uint64)
    z = np.uint64(seed % 2**64) + np.uint64(GOLDEN_GAMMA) * i1  # array arithmetic wraps silently
    return mix64(z)


def entropy_keys(logits_raw, unit):
    """-H of the softmax of float64(acc) * unit, sums in class order (docs/quantization.md)."""
    x = np.asarray(logits_raw).astype(np.float64) * np.float64(np.float32(unit))
    d = x - x.max(axis=1, keepdims=True)
    e = det_exp(d)
    total = e[:, 0].copy()
    weighted = e[:, 0] * d[:, 0]
    for c in range(1, x.shape[1]):
        total = total + e[:, c]
        weighted = weighted + e[:, c] * d[:, c]
    return -(det_log(total) - weighted / total)


def keys(out: dict, strategy: str, start_index: int = 0, seed: int = 0, unit=None):
    """Ranking keys of a forward() result; smaller keys are ranked first.

    `unit` (the logits layer's out_scale) defaults to out["logits_unit"]; only entropy needs it.
    Pool-level strategies (picked by ranking.rank's rule, not by a key) give the margin key: the
    key "power" and "classbalanced" sample by and the one reported per pick.
    """
    spec = check_strategy(strategy, has_sampler=out.get("score_raw") is not None)
    if strategy == "fdal":
        return np.asarray(out["score_raw"]).astype(np.int64)
    if strategy == "margin" or spec.pool_level:  # pool-level: the margin key (power's, reported per pick)
        top = np.sort(np.asarray(out["logits_raw"]).astype(np.int64), axis=1)
        return top[:, -1] - top[:, -2]
    if strategy == "entropy":
        unit = out.get("logits_unit") if unit is None else unit
        if unit is None:
            raise ValueError("strategy 'entropy' needs the logits unit (pass unit= or out['logits_unit'])")
        return entropy_keys(out["logits_raw"], unit)
    if strategy == "random":
        return random_keys(len(out["logits_raw"]), start_index, seed)
    # Reached only by a name added to fdal.strategies without its key here.
    raise NotImplementedError(f"the oracle has no ranking key for strategy {strategy!r}")
