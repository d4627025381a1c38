"""Ranking a pool: per-image keys batch by batch, then the k smallest. The counterpart of
csrc/rank/ranker.cpp (whose bounded top-k gives the same order as this stable sort).
"""
from __future__ import annotations

import numpy as np

from ..format import ModelSpec
from ..strategies import check_strategy
from .keys import keys
from .model import check_images, forward


def rank(spec: ModelSpec, pool, k: int, strategy: str = "fdal", seed: int = 0, batch_size: int = 256):
    """Indices (int64, (k,)) of the k images with the smallest keys, ascending, ties to lower index."""
    check_strategy(strategy, has_sampler=spec.score_layer >= 0)
    pool = check_images(spec, pool)
    if not 0 <= k <= len(pool):
        raise ValueError(f"k = {k} must be in 0..{len(pool)} (the pool size)")
    chunks = []
    for s in range(0, len(pool), batch_size):
        out = forward(spec, pool[s:s + batch_size], batch_size)
        chunks.append(keys(out, strategy, start_index=s, seed=seed))
    all_keys = np.concatenate(chunks) if chunks else np.zeros(0)
    return np.argsort(all_keys, kind="stable")[:k].astype(np.int64)
