"""The Python API over the native int8 runtime (the extension fdal._core, built from csrc/).

    model = fdal.load("student.fdal")            # validates everything (fdal.FormatError)
    out = model.forward(images)                  # uint8 (N, H, W, C), any strides
    idx = fdal.rank_pool(model, pool, k=1000)    # int64 (k,), most informative first
    idx, scores = fdal.rank_pool(model, pool, k=1000, return_scores=True)   # + float64 ranking keys

The native ranker (csrc/rank/ranker.h) is the only place where images become keys and candidates:
every entry point here (rank_pool, fdal.rank_shard, fdal.ray.rank, `fdal rank`) reads its keys and
candidates from it and never runs the picks through the model again.

Arguments are checked here (ValueError naming the problem); images are handed to C++ through
their byte strides, so non-contiguous arrays and memmaps are read in place, without a copy.
"""
from __future__ import annotations

import hashlib
import numbers
import os
from typing import Iterable, Union

import numpy as np

from .format import FormatError
from .strategies import DEFAULT_CAP, STRATEGIES, check_strategy

# Upper bound on threads=: beyond it the native side would overflow an int or spawn absurd numbers
# of threads; no board this runs on has more cores.
MAX_THREADS = 1024


def _core():
    # Imported lazily: `import fdal` (format, oracle, training) works without the extension.
    try:
        from . import _core as core
    except ImportError as exc:  # pragma: no cover - only without a build
        raise ImportError(
            "fdal's native extension fdal._core is not built; run `pip install --no-build-isolation -e .`"
        ) from exc
    return core


class Model:
    """A loaded, validated int8 model. Create with fdal.load(); immutable; safe to share."""

    def __init__(self, native, source: str, sha256: str = ""):
        self._native = native
        self._source = source
        self._sha256 = sha256
        self._info = native.info()

    @property
    def sha256(self) -> str:
        """Hex sha256 of the .fdal bytes this model was loaded from: names the model in shard parts,
        so parts ranked by different models are never merged (docs/scale-out.md)."""
        return self._sha256

    @property
    def info(self) -> dict:
        """layers, input_shape (H, W, C), num_classes, has_sampler, weight_bytes, arena_bytes,
        format_version, file_bytes, embedding_layer (-1: none), embedding_dim (0: none),
        embedding_scale and embedding_zero_point (None: none) (a fresh copy: callers may modify it)."""
        info = dict(self._info)
        info["layers"] = [dict(layer) for layer in self._info["layers"]]
        return info

    @property
    def input_shape(self) -> tuple:
        return tuple(self._info["input_shape"])

    @property
    def num_classes(self) -> int:
        return int(self._info["num_classes"])

    @property
    def has_sampler(self) -> bool:
        return bool(self._info["has_sampler"])

    @property
    def has_embedding(self) -> bool:
        """Whether the file designates an embedding output (format 2.x; see docs/format.md)."""
        return int(self._info["embedding_layer"]) >= 0

    @property
    def embedding_dim(self) -> int:
        """int8 values per image of the embedding; 0 without one."""
        return int(self._info["embedding_dim"])

    def require_embedding(self, strategy: str) -> None:
        """For rules that rank on per-image embeddings: ValueError naming the fix unless the model has one."""
        if not self.has_embedding:
            major, minor = self._info["format_version"]
            raise ValueError(f"strategy {strategy!r} needs per-image embeddings, but the model {self._source} "
                             f"(format {major}.{minor}) has no embedding output; re-export it with `fdal export` "
                             f"(it writes the student's embedding by default) or fdal.training.export(..., "
                             f"embedding='student')")

    @property
    def kernels(self) -> str:
        """The kernel path this model runs on (see fdal.kernel_paths())."""
        return str(self._info["kernels"])

    def forward(self, images, *, threads=1) -> dict:
        """uint8 (N, H, W, C) -> {"logits": float32 (N, classes), "logits_raw": int32 (N, classes),
        "score": float32 (N,), "score_raw": int32 (N,), "embedding": float32 (N, D),
        "embedding_q": int8 (N, D)}; the score entries only with a sampler, the embedding entries only
        with an embedding (embedding = float32(embedding_q - zero_point) * scale, see model.info).
        threads: images are split across that many threads; results do not depend on it."""
        _reject_path(images, "images")
        images = _check_images(self, images, "images")
        threads = _check_threads(threads)
        return dict(self._native.forward(images, threads))

    def __repr__(self) -> str:
        h, w, c = self.input_shape
        return (f"fdal.Model({self._source}, input {h}x{w}x{c}, {self.num_classes} classes, "
                f"{'with' if self.has_sampler else 'no'} sampler, "
                f"{f'{self.embedding_dim}-d embedding' if self.has_embedding else 'no embedding'}, "
                f"{len(self._info['layers'])} layers)")


def kernel_paths(*, runnable_only: bool = True) -> tuple:
    """Names of the kernel paths this build and CPU can run, best first; "reference" is last.
    Any of them can be forced with fdal.load(..., kernels=name) or FDAL_KERNELS=name.
    runnable_only=False: every path this build has, also those this CPU cannot run."""
    return tuple(_core().kernel_paths() if runnable_only else _core().built_kernel_paths())


def load(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview], *, kernels: str = "auto") -> Model:
    """Load a .fdal model from a path or from its bytes. Raises fdal.FormatError (a ValueError)
    for a missing, unreadable, truncated, corrupted or future-version file.

    kernels: "auto" (FDAL_KERNELS if set, else the fastest path this CPU runs) or a name from
    fdal.kernel_paths(); a path this CPU cannot run is a ValueError."""
    if not isinstance(kernels, str):
        raise ValueError(f"kernels must be a kernel path name (str), got {type(kernels).__name__}")
    core = _core()
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, source = bytes(path_or_bytes), f"<{len(path_or_bytes)} bytes>"
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        path = os.fspath(path_or_bytes)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise FormatError(f"cannot read model file {path!r}: {exc.strerror or exc}") from None
        source = repr(path)
    else:
        raise TypeError(f"fdal.load takes a path or bytes, got {type(path_or_bytes).__name__}")
    try:
        native = core.Model.from_bytes(data, kernels)
    except core.FormatError as exc:
        raise FormatError(str(exc)) from None
    return Model(native, source, hashlib.sha256(data).hexdigest())


def _check_images(model: Model, images, name: str) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 raw pixels, got dtype {images.dtype}")
    h, w, c = model.input_shape
    if images.ndim != 4:
        raise ValueError(f"{name} must have 4 dimensions (N, {h}, {w}, {c}), got shape {images.shape}")
    if images.shape[3] != c:
        raise ValueError(f"{name} have {images.shape[3]} channels but the model expects {c} "
                         f"(shape {images.shape}, expected (N, {h}, {w}, {c}))")
    if images.shape[1:3] != (h, w):
        raise ValueError(f"{name} have shape {images.shape} but the model expects (N, {h}, {w}, {c})")
    return images


def _check_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


def _check_threads(threads) -> int:
    threads = _check_int(threads, "threads")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {threads}")
    return threads


def _reject_path(value, name: str) -> None:
    if isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be an array, not a path {os.fsdecode(value)!r}: pass an array, "
                        f"e.g. np.load(path, mmap_mode=\"r\")")


def _pool_array(pool):
    """A path is a TypeError (say how to read it); a list of HWC images is stacked once."""
    _reject_path(pool, "pool")
    if isinstance(pool, (list, tuple)) and pool and all(
            isinstance(im, np.ndarray) and im.ndim == 3 for im in pool):
        shapes = {im.shape for im in pool}
        if len(shapes) > 1:
            raise ValueError(f"pool images must all have the same shape, got {len(shapes)} shapes: "
                             f"{', '.join(map(str, sorted(shapes)[:3]))}")
        return np.stack(pool)
    return pool


def _batches(pool, batch_size: int) -> Iterable[np.ndarray]:
    """Views of at most batch_size images: slices of an array, or the pieces of each yielded batch."""
    if isinstance(pool, np.ndarray):
        parts = (pool,)
    else:
        try:
            parts = iter(pool)
        except TypeError:
            raise ValueError(f"pool must be a uint8 array (N, H, W, C) or an iterable of such batches, "
                             f"got {type(pool).__name__}") from None
    for part in parts:
        # A batch that is not an (N, H, W, C) array (a scalar, a 0-d array, a non-array object) is a
        # ValueError here; len() would raise TypeError on it.
        if not isinstance(part, np.ndarray):
            part = np.asarray(part)
        if part.ndim != 4:
            raise ValueError(f"pool batch must have 4 dimensions (N, H, W, C), got shape {part.shape}")
        for start in range(0, len(part), batch_size):
            yield part[start:start + batch_size]


def _check_labeled_counts(model: Model, strategy: str, labeled_counts):
    """labeled_counts as int64 (num_classes,), or None; ValueError naming the problem."""
    if labeled_counts is None:
        return None
    if strategy != "classbalanced":
        raise ValueError(f"labeled_counts is for strategy 'classbalanced' only, not {strategy!r}")
    try:
        counts = np.asarray(labeled_counts)
    except Exception as e:
        raise ValueError(f"labeled_counts must be a sequence of integers, got {type(labeled_counts).__name__}") from e
    if counts.ndim != 1 or not (counts.size == 0 or np.issubdtype(counts.dtype, np.integer)):
        raise ValueError(f"labeled_counts must be a 1-D sequence of integers (one per class), got shape "
                         f"{counts.shape} dtype {counts.dtype}")
    classes = model._info["num_classes"]
    if len(counts) != classes:
        raise ValueError(f"labeled_counts has {len(counts)} entries; the model has {classes} classes")
    if counts.size and (counts.min() < 0 or counts.max() > 2**62):
        raise ValueError(f"labeled_counts must be in 0..2^62, got min {counts.min()} max {counts.max()}")
    return counts.astype(np.int64)


def rank_pool(model: Model, pool, k, *, strategy: str = "fdal", batch_size=256, seed=0, threads=1,
              cap=DEFAULT_CAP, return_scores: bool = False, labeled_counts=None, start_index=0,
              pool_indices=None):
    """The k most informative images of `pool`, best first (int64 pool indices, shape (k,)).

    pool: uint8 (N, H, W, C) array (any strides, np.memmap) or an iterable of such batches; the pool
    is streamed in batches of batch_size, memory O(k + batch_size). strategy: one of STRATEGIES
    (docs/quantization.md, "Ranking keys"); seed is used by "random" and the pool-level strategies
    (taken modulo 2**64). threads: each batch is split across that many threads; the result does not
    depend on it.

    Pool-level strategies (kcenter, typiclust, probcover, power, classbalanced; docs/selection.md,
    "Strategies"):
    the candidates are the `cap` pool images with the smallest random keys (those of "random", so
    the set does not depend on batching or threads); the rule picks k of them and the result is
    their pool indices in pick order; k > min(cap, N) is a ValueError. kcenter, typiclust and
    probcover need a model with an embedding (Model.require_embedding). Memory: cap x D bytes of
    int8 embeddings (D = model.embedding_dim; 0 for power and classbalanced) plus 32 x cap bytes
    of bookkeeping (pool index, random key, margin key, predicted class, heap slot), allocated when ranking starts, plus the rule's scratch at the end
    (fdal._core.pool_select_scratch_bytes(rule, min(cap, N), D, k)).

    labeled_counts (classbalanced only): how many images of each class are labeled already (one
    integer per class of the model); each pick then goes to the predicted class with the fewest
    labeled + picked so far, so the picks balance the whole labeled set (docs/selection.md).
    Without it, classbalanced balances the picks alone.

    return_scores=True: (indices, scores), scores float64 (k,): the keys the native ranker compared
    (docs/quantization.md, "Ranking keys"; smaller ranks first, so scores ascend for per-image rules):
    fdal: the sampler's int32 score; margin: top-1 minus top-2 int32 logit; entropy: minus the
    entropy; random: the uint64 random key, as float64. Pool-level strategies pick by a rule, not a
    key: their score is the margin key of each pick (reported, not what ordered the picks). Nothing
    is run twice, so any pool (array or iterable) works.

    start_index: the pool index of pool[0] (default 0). A shard of a larger pool ranked with its
    offset in the whole pool gets the whole pool's indices, random keys and ties, so shards merge
    exactly (fdal.merge_topk, docs/scale-out.md); the returned indices include the offset.
    pool_indices: instead of start_index, each image's pool index (int64, strictly ascending, one
    per image of an array pool), e.g. a subset of a larger pool ranked with its indices there: random
    keys, ties and the returned indices are these.
    """
    picks, encoded = _rank_entries(model, pool, k, strategy=strategy, batch_size=batch_size, seed=seed,
                                   threads=threads, cap=cap, labeled_counts=labeled_counts, start_index=start_index,
                                   pool_indices=pool_indices)
    if return_scores:
        return picks, scores_of_keys(encoded, strategy)
    return picks


def scores_of_keys(encoded, strategy: str) -> np.ndarray:
    """rank_pool's float64 scores from the native ranker's encoded keys (decode_keys as float64).
    The encoding merges -0.0 and +0.0; -H is -0.0 whenever the entropy H is zero (as the C API's
    fdal_rank_key)."""
    scores = decode_keys(encoded, strategy).astype(np.float64)
    if check_strategy(strategy, True).key_dtype == "float64":
        scores[scores == 0.0] = -0.0
    return scores


def _check_rank_args(model, strategy, k, cap):
    """The checks every ranking entry point shares (rank_pool, fdal.rank_shard, fdal.ray.rank):
    (the Strategy, k, cap) validated; ValueError naming the problem."""
    if not isinstance(model, Model):
        raise ValueError(f"model must be an fdal.Model (from fdal.load), got {type(model).__name__}")
    spec = check_strategy(strategy, model.has_sampler)
    if spec.needs_embedding:
        model.require_embedding(strategy)
    cap = _check_int(cap, "cap")
    if cap <= 0:
        raise ValueError(f"cap must be positive, got {cap}")
    k = _check_int(k, "k")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if k >= 2**63:  # the native ranker counts in int64; no pool is that large
        raise ValueError(f"k={k} is larger than any pool (k must be below 2^63)")
    return spec, k, min(cap, 2**63 - 1)  # a cap past int64 caps nothing: the same as the largest


def _rank_entries(model: Model, pool, k, *, strategy: str = "fdal", batch_size=256, seed=0, threads=1,
                  cap=DEFAULT_CAP, labeled_counts=None, start_index=0, pool_indices=None):
    """rank_pool's checks and ranking: (int64 pool indices, uint64 encoded keys) of the picks, best
    first; the keys as the native ranker orders them (csrc/rank/keys.h; pool-level: the margin key)."""
    spec, k, cap = _check_rank_args(model, strategy, k, cap)
    batch_size = _check_int(batch_size, "batch_size")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    seed = _check_int(seed, "seed") % 2**64
    threads = _check_threads(threads)
    labeled_counts = _check_labeled_counts(model, strategy, labeled_counts)
    start_index = _check_int(start_index, "start_index")
    if not 0 <= start_index <= 2**62:
        raise ValueError(f"start_index must be in 0..2^62, got {start_index}")
    pool = _pool_array(pool)
    if pool_indices is not None:
        pool_indices = _check_pool_indices(pool, pool_indices, start_index)

    if isinstance(pool, np.ndarray):
        pool = _check_images(model, pool, "pool")
        if len(pool) == 0:
            raise ValueError("pool is empty")
        if k > len(pool):
            raise ValueError(f"k={k} is larger than the pool size {len(pool)}")
        if spec.pool_level and k > cap:
            raise ValueError(f"k={k} is larger than the number of candidates {cap} (cap={cap})")

    ranker = _core().Ranker(model._native, strategy, k, seed, threads, cap, labeled_counts, start_index)
    pushed = 0
    for batch in _batches(pool, batch_size):
        rows = None if pool_indices is None else pool_indices[pushed:pushed + len(batch)]
        ranker.push(_check_images(model, batch, "pool batch"), rows)
        pushed += len(batch)
    if ranker.seen == 0:
        raise ValueError("pool is empty")
    if k > ranker.seen:
        raise ValueError(f"k={k} is larger than the pool size {ranker.seen}")
    if spec.pool_level and k > cap:
        raise ValueError(f"k={k} is larger than the number of candidates {cap} (cap={cap})")
    return ranker.finish_entries()


def _check_pool_indices(pool, pool_indices, start_index: int) -> np.ndarray:
    """pool_indices as int64, one per image of an array pool, strictly ascending, in 0..2^62."""
    if start_index != 0:
        raise ValueError("pass either start_index or pool_indices, not both")
    if not isinstance(pool, np.ndarray):
        raise ValueError("pool_indices needs an array pool (one index per image)")
    indices = np.asarray(pool_indices)
    if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(f"pool_indices must be a 1-D sequence of integers, got shape {indices.shape} "
                         f"dtype {indices.dtype}")
    if len(indices) != len(pool):
        raise ValueError(f"pool_indices has {len(indices)} entries for {len(pool)} pool images")
    if indices.size and (indices.min() < 0 or indices.max() > 2**62 or np.any(np.diff(indices) <= 0)):
        raise ValueError("pool_indices must be strictly ascending, in 0..2^62")
    return indices.astype(np.int64)


def rank_candidates(model: Model, rows, load, *, strategy: str, seed: int, cap: int, threads: int = 1,
                    batch: int = 256) -> dict:
    """The candidates of a pool-level strategy among pool rows `rows` (int64, ascending, at most cap
    of them: chosen by random key before any image is read, see candidate_rows), as the native
    ranker keeps them: {"indices", "random_keys", "margin_keys", "classes", "embeddings" (None for
    rules without one)}, pool-index order. load(rows) -> uint8 images of those rows; only these rows
    are read and run, `batch` at a time. Arguments already checked by the caller."""
    ranker = _core().Ranker(model._native, strategy, 1, seed, threads, cap, None, 0)
    for b in range(0, len(rows), batch):
        ranker.push(_check_images(model, load(rows[b:b + batch]), "candidate images"), rows[b:b + batch])
    return ranker.finish_candidates()


def candidate_rows(rows, seed: int, cap: int) -> np.ndarray:
    """Of the pool rows `rows` (int64), the at most `cap` with the smallest (random key, index), in
    ascending order: the ranker's candidates among them, known before any image is read."""
    rows = np.asarray(rows, dtype=np.int64)
    keys = _core().random_keys(rows, seed)
    return np.sort(rows[np.lexsort((rows, keys))[:cap]])


def decode_keys(encoded, strategy: str) -> np.ndarray:
    """The native ranker's encoded uint64 keys (csrc/rank/keys.h) as the strategy's key dtype
    (fdal.strategies key_dtype: fdal int32, margin int64, entropy float64, random uint64; pool-level:
    the margin key, int64). Exact: these are the values the ranker compared."""
    spec = check_strategy(strategy, True)
    enc = np.asarray(encoded, dtype=np.uint64)
    sign = np.uint64(1 << 63)
    if spec.key_dtype == "uint64":  # random keys are not encoded
        return enc.copy()
    if spec.key_dtype == "float64":  # negative doubles were all-bits-flipped, positive ones got the sign bit
        bits = np.where(enc & sign, enc & ~sign, ~enc)
        return bits.view(np.float64)
    return (enc ^ sign).view(np.int64).astype(spec.key_dtype)
