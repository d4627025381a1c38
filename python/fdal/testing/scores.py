"""pick_scores: the oracle's ranking keys of picked images, the ground truth that rank_pool's
return_scores=True (the native ranker's own keys) is tested against."""
from __future__ import annotations

import numpy as np

from ..oracle.keys import GOLDEN_GAMMA, keys, mix64
from ..runtime import Model, _check_images, _check_int
from ..strategies import check_strategy


def pick_scores(model: Model, images, indices, *, strategy: str = "fdal", seed=0, threads=1) -> np.ndarray:
    """The score of each pick: `images` are the picked images (uint8 (k, H, W, C)) and `indices` their
    pool indices (random's key depends on them). Scores are the strategy's ranking keys
    (docs/quantization.md, "Ranking keys"; smaller ranks first, so scores ascend for per-image rules):
    fdal: the sampler's int32 score; margin: top-1 minus top-2 int32 logit; entropy: minus the
    entropy; random: the uint64 random key, as float64. Pool-level strategies pick by a rule, not a
    key: their score is the margin key of each pick (reported, not what ordered the picks).
    float64 (k,), fdal.oracle.keys of a forward pass over the picks."""
    check_strategy(strategy, model.has_sampler)
    indices = np.asarray(indices, dtype=np.int64)
    images = _check_images(model, images, "images")
    if len(images) != len(indices):
        raise ValueError(f"{len(images)} images but {len(indices)} indices")
    if strategy == "random":
        z = np.uint64(_check_int(seed, "seed") % 2**64) + np.uint64(GOLDEN_GAMMA) * (indices.astype(np.uint64) + np.uint64(1))
        return mix64(z).astype(np.float64)
    if not len(images):
        return np.zeros(0, dtype=np.float64)
    out = model.forward(images, threads=threads)
    unit = model._info["layers"][model._info["logits_layer"]]["out_scale"]
    return np.asarray(keys(out, strategy, unit=unit), dtype=np.float64)
