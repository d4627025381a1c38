"""The numpy oracle: fdal's integer arithmetic and ranking keys, exactly as docs/quantization.md.

Every kernel of the C++ runtime must match these functions bit for bit. One concept per module,
each importing only those above it (the C++ counterpart in brackets):
    det_math.py  deterministic exp, log, sigmoid and their constants   [csrc/runtime/det_math.*]
    kernels.py   the per-op integer kernels, one function per op       [csrc/kernels/reference/]
    model.py     run_layer, run_layers, forward: a model on a batch    [csrc/runtime/executor.*]
    keys.py      the per-image ranking key of every strategy           [csrc/rank/keys.*]
    ranking.py   rank: the k images of a pool with the smallest keys   [csrc/rank/ranker.*]
    pool_select.py  pool-level selection rules over int8 embeddings  [csrc/rank/pool_select.*]
"""
from ..strategies import STRATEGIES  # the names the oracle ranks by (fdal.strategies is the one list)
from .det_math import EXP_COEFFS, LN2_HI, LN2_LO, LOG2E, LOG_COEFFS, SQRT_HALF, det_exp, det_log, sigmoid
from .kernels import (apply_lut, avg_pool, conv2d, conv2d_acc, fully_connected, max_pool, relu,
                      upsample_nearest)
from .keys import GOLDEN_GAMMA, entropy_keys, keys, mix64, random_keys
from .model import forward, run_layer, run_layers
from .ranking import rank
from . import pool_select  # the module: pool_select.pool_select(rule, embeddings, scores, k, seed, ...)
from .pool_select import POOL_RULES

__all__ = [
    # deterministic math
    "det_exp", "det_log", "sigmoid", "LOG2E", "LN2_HI", "LN2_LO", "SQRT_HALF", "EXP_COEFFS", "LOG_COEFFS",
    # kernels
    "apply_lut", "conv2d_acc", "conv2d", "fully_connected", "max_pool", "avg_pool", "relu", "upsample_nearest",
    # running a model
    "run_layer", "run_layers", "forward",
    # ranking
    "STRATEGIES", "GOLDEN_GAMMA", "mix64", "random_keys", "entropy_keys", "keys", "rank",
    # pool-level selection
    "POOL_RULES", "pool_select",
]
