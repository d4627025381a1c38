"""Ranking a pool: per-image keys batch by batch, then the k smallest. The counterpart of
csrc/rank/ranker.cpp (whose bounded top-k gives the same order as this stable sort).
"""
from __future__ import annotations

import numpy as np

from ..format import ModelSpec
from ..strategies import BY_NAME, DEFAULT_CAP, check_strategy
from .keys import keys, random_keys
from .model import check_images, forward
from .pool_select import pool_select


def rank(spec: ModelSpec, pool, k: int, strategy: str = "fdal", seed: int = 0, batch_size: int = 256,
         cap: int = DEFAULT_CAP, labeled_counts=None):
    """Indices (int64, (k,)) of the k images with the smallest keys, ascending, ties to lower index.

    Pool-level strategies (docs/selection.md, "Strategies"): the candidates are the `cap` images with
    the smallest random keys (strategy "random"'s order), in pool-index order; the rule picks k of
    them (power on their margin keys, unit = the logits unit) and the result is their pool indices
    in pick order. k > the number of candidates is a ValueError. labeled_counts (classbalanced
    only): int64 images already labeled per class, as fdal.rank_pool takes them.
    """
    s = check_strategy(strategy, has_sampler=spec.score_layer >= 0)
    pool = check_images(spec, pool)
    if s.pool_level:
        return _rank_pool_level(spec, pool, k, strategy, seed, batch_size, cap, labeled_counts)
    if labeled_counts is not None:
        raise ValueError(f"labeled_counts is for strategy 'classbalanced' only, not {strategy!r}")
    if not 0 <= k <= len(pool):
        raise ValueError(f"k = {k} must be in 0..{len(pool)} (the pool size)")
    chunks = []
    for s in range(0, len(pool), batch_size):
        out = forward(spec, pool[s:s + batch_size], batch_size)
        chunks.append(keys(out, strategy, start_index=s, seed=seed))
    all_keys = np.concatenate(chunks) if chunks else np.zeros(0)
    return np.argsort(all_keys, kind="stable")[:k].astype(np.int64)


def _rank_pool_level(spec, pool, k, strategy, seed, batch_size, cap, labeled_counts=None):
    needs_embedding = BY_NAME[strategy].needs_embedding
    if spec.embedding_layer < 0 and needs_embedding:
        raise ValueError(f"strategy {strategy!r} needs per-image embeddings, but the model has no embedding "
                         f"output; re-export it with `fdal export`")
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    seed = int(seed) % 2**64
    n_cand = min(cap, len(pool))
    if not 1 <= k <= n_cand:
        raise ValueError(f"k={k} is larger than the number of candidates {n_cand} (pool size {len(pool)}, "
                         f"cap {cap})" if k > n_cand else f"k must be positive, got {k}")
    if labeled_counts is not None and strategy != "classbalanced":
        raise ValueError(f"labeled_counts is for strategy 'classbalanced' only, not {strategy!r}")
    rkeys = random_keys(len(pool), 0, seed)
    cand = np.sort(np.argsort(rkeys, kind="stable")[:n_cand]).astype(np.int64)
    margins, classes, embeddings = [], [], []
    for s in range(0, n_cand, batch_size):
        out = forward(spec, pool[cand[s:s + batch_size]], batch_size)
        margins.append(keys(out, "margin"))
        classes.append(np.argmax(out["logits_raw"], axis=1))  # argmax: the lowest class on ties
        if needs_embedding:
            embeddings.append(out["embedding_q"])
    margin = np.concatenate(margins).astype(np.int64)
    unit = float(np.float32(spec.layers[spec.logits_layer].out_scale))
    if strategy == "power":
        picks = pool_select("power", None, margin, k, seed, pool_indices=cand, unit=unit)
    elif strategy == "classbalanced":
        picks = pool_select("classbalanced", None, margin, k, seed, pool_indices=cand,
                            classes=np.concatenate(classes).astype(np.int64), unit=unit,
                            labeled_counts=None if labeled_counts is None else np.asarray(labeled_counts, np.int64))
    else:
        picks = pool_select(strategy, np.concatenate(embeddings), None, k, seed, pool_indices=cand)
    return cand[picks]
