"""Random sampling WITHOUT replacement.

The FDAL reference harness drew `randint(SUBSET, size=SUBSET)`, i.e. with replacement, so its
"random" baseline labeled fewer distinct images than budgeted and looked weaker than it is.
Here every selected index is distinct, exactly `budget` of them.
"""
import numpy as np

from .base import check_request


def select_random(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    return np.random.default_rng(seed).choice(cand, size=budget, replace=False).astype(np.int64)
