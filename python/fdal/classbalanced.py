"""classbalanced seeded by each image's index in the whole pool (not by its position among the
candidates, as fdal.rank_pool seeds): a candidate's random tie-break key then does not depend on
which other images are candidates, so a subset of a pool ranks as the pool would. `fdal al`'s
on-device methods (training/strategies/on_device.py) and `fdal cycle pick` rank classbalanced
this way, which is what makes a campaign pick what the research runs picked.

The rule is the native one (fdal._core.pool_select, docs/selection.md): each pick to the
predicted class with the fewest labeled_counts + picks, power's order within each.
"""
from __future__ import annotations

import numpy as np


def classbalanced_by_pool_index(model, batches, k: int, seed: int, pool_indices, labeled_counts=None) -> np.ndarray:
    """Positions (into the concatenated `batches`, uint8 NHWC) of k classbalanced picks, best first.
    pool_indices: each image's index in the whole pool (int64, one per image)."""
    from fdal import _core
    from fdal.oracle.keys import keys
    logits = np.concatenate([np.asarray(model.forward(b)["logits_raw"]).astype(np.int64) for b in batches])
    pool_indices = np.asarray(pool_indices, dtype=np.int64)
    if len(pool_indices) != len(logits):
        raise ValueError(f"{len(pool_indices)} pool indices for {len(logits)} images")
    classes = np.argmax(logits, axis=1).astype(np.int64)  # ties: the lowest class, as the runtime
    margin = keys({"logits_raw": logits}, "margin").astype(np.int64)
    unit = float(np.float32(model.info["layers"][model.info["logits_layer"]]["out_scale"]))
    counts = None if labeled_counts is None else np.asarray(labeled_counts, dtype=np.int64)
    return _core.pool_select("classbalanced", None, margin, k, seed, pool_indices=pool_indices, classes=classes,
                             labeled_counts=counts, unit=unit)
