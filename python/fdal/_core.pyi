"""Type stubs for fdal._core, the pybind11 module built from csrc/python/bindings.cpp.

The public API is fdal.runtime (fdal.load, fdal.rank_pool), which checks every argument; these
are the raw entry points it wraps. Images: uint8 (N, H, W, C), any strides.
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

STRATEGIES: Tuple[str, ...]
"""The ranking strategies the C++ ranker knows (kStrategyTable), in its order."""
STRATEGY_TABLE: Tuple[Tuple[str, bool, bool, Optional[str], str], ...]
"""csrc/rank/strategy_table.h row by row: (name, needs_sampler, needs_embedding, pool rule or None,
key dtype); fdal.strategies holds the same rows (tests/runtime/test_strategy_lists.py)."""
DEFAULT_CAP: int
"""Candidates of a pool-level ranker by default (Ranker::kDefaultCap; fdal.strategies.DEFAULT_CAP)."""

class FormatError(ValueError):
    """A malformed, truncated, corrupted or future-version .fdal file."""

class Model:
    """A loaded, validated, immutable int8 model; shared by threads and by its rankers."""

    @staticmethod
    def from_bytes(data: bytes, kernels: str = "auto") -> Model: ...
    @staticmethod
    def from_file(path: str, kernels: str = "auto") -> Model: ...
    def info(self) -> Dict[str, Any]:
        """layers (list of dicts), input_shape, input_scale, input_zero_point, num_classes,
        has_sampler, logits_layer, score_layer, embedding_layer (-1: none), embedding_dim (0: none),
        embedding_scale, embedding_zero_point (None: none), weight_bytes, arena_bytes,
        format_version, file_bytes, kernels, packed_bytes, scratch_bytes."""
    def forward(self, images: npt.NDArray[np.uint8], threads: int = 1) -> Dict[str, np.ndarray]:
        """{"logits": float32 (N, C), "logits_raw": int32 (N, C)} plus "score" (float32 (N,)) and
        "score_raw" (int32 (N,)) when the model has a sampler, and "embedding" (float32 (N, D))
        and "embedding_q" (int8 (N, D)) when it has an embedding."""

class Ranker:
    """Streams batches of images and keeps the k best (key, index) pairs (pool-level strategies: the
    cap candidates with the smallest random keys); keeps its model alive."""

    def __init__(self, model: Model, strategy: str, k: int, seed: int, threads: int = 1,
                 cap: int = 10000, labeled_counts: Optional[npt.NDArray[np.int64]] = None,
                 start_index: int = 0) -> None:
        """labeled_counts: classbalanced only, images already labeled per class (num_classes).
        start_index: the pool index of the first pushed image (a shard of a larger pool)."""
    def push(self, images: npt.NDArray[np.uint8],
             pool_indices: Optional[npt.NDArray[np.int64]] = None) -> None:
        """pool_indices: each image's pool index (int64, strictly ascending over all pushes); None:
        start_index + seen onwards."""
    def finish(self) -> npt.NDArray[np.int64]:
        """The k best pool indices, best first (pool-level: in pick order); ValueError when fewer than k
        images were pushed (pool-level: than k candidates)."""
    def finish_entries(self) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
        """finish() and each pick's encoded key (order-preserving uint64; fdal.runtime.decode_keys)."""
    def finish_candidates(self) -> Dict[str, Any]:
        """Pool-level strategies: the candidates kept, in pool-index order: indices int64, random_keys
        uint64, margin_keys int64, classes int64 (predicted), embeddings int8 (n, D) or None (rules
        without one). ValueError for a per-image strategy."""
    @property
    def seen(self) -> int:
        """Images pushed so far."""
    @property
    def forwarded(self) -> int:
        """Images run through the model so far (pool-level: only chunks holding a candidate)."""

def random_keys(pool_indices: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.uint64]:
    """The random strategy's uint64 key of each pool index (docs/quantization.md, "Ranking keys")."""

def profile_layers(model: Model, images: npt.NDArray[np.uint8]) -> List[float]:
    """Seconds spent in the input lookup and in each layer over the images (benchmarks only)."""

def kernel_paths() -> Tuple[str, ...]:
    """Kernel paths this CPU can run, best first ("reference" last)."""

def built_kernel_paths() -> Tuple[str, ...]:
    """Every kernel path of this build, best first, including those this CPU cannot run."""

POOL_RULES: Tuple[str, ...]
"""The pool-level selection rules (docs/selection.md): kcenter, typiclust, probcover, power,
classbalanced."""

def pool_select(rule: str, embeddings: Optional[npt.NDArray[np.int8]],
                scores: Optional[npt.NDArray[np.int64]], k: int, seed: int = 0,
                pool_indices: Optional[npt.NDArray[np.int64]] = None,
                classes: Optional[npt.NDArray[np.int64]] = None,
                labeled_counts: Optional[npt.NDArray[np.int64]] = None, kernels: str = "auto",
                **params: Any) -> npt.NDArray[np.int64]:
    """k distinct candidate positions, in pick order (docs/selection.md; bit-exact to
    fdal.oracle.pool_select.pool_select). embeddings int8 (n, d) (None for "power" and
    "classbalanced"); scores int64 (n,), smaller = more informative ("power", "classbalanced"
    only); pool_indices int64 (n,) seed the random keys (default: the positions); classes int64
    (n,) >= 0, the predicted classes ("classbalanced" only); labeled_counts int64, images already
    labeled per class (index = class, 0 past the end; "classbalanced" only); kernels: the kernel path
    whose pool_dot slots compute the distances, as fdal.load's ("auto" or a name of fdal.kernel_paths();
    same result). params: typiclust min_cluster_size=5, k_nn=20, max_cells=500; probcover
    k_nn=20, delta=-1 (from the data); power and classbalanced beta=1.0 (inf: top-k), unit=1.0.
    ValueError for any bad argument."""

def pool_select_scratch_bytes(rule: str, n: int, d: int, k: int, **params: Any) -> int:
    """Bytes pool_select allocates (once) for these sizes: its only allocation."""
