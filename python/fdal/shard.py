"""Ranking one shard of a pool into a part that fdal.merge_topk merges exactly (docs/scale-out.md).

    part = fdal.rank_shard(model, pool, k=100, shard=(2, 5), strategy="margin")   # pool: the WHOLE pool
    part.save("part-2.npz")

Shard I of M is the contiguous rows [floor(I*N/M), floor((I+1)*N/M)) of the pool's order (an
array's rows; an image folder's sorted file list). Every image keeps its index in the whole pool,
so keys (random's depends on the index) and ties (lower index first) are the whole pool's.

Per-image strategies keep the shard's top min(k, shard size) with their exact keys. Pool-level
strategies keep the shard's `cap` candidates (smallest random keys, which depend on the index only,
so no forward pass is needed to choose them) with what the rule reads: margin key, predicted class
and, for kcenter/typiclust/probcover, the int8 embedding; only those candidates are run.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from .part import Part
from .pool_identity import folder_identity, pool_identity
from .runtime import (Model, _check_int, _check_labeled_counts, _check_rank_args, _check_threads, _rank_entries,
                      candidate_rows, decode_keys, rank_candidates)
from .strategies import DEFAULT_CAP

_SHARD = re.compile(r"^\s*(-?\d+)\s*/\s*(-?\d+)\s*$")
FORWARD_BATCH = 256  # candidate images run per forward call (bounds the memory of a pool-level shard)


def parse_shard(text) -> Tuple[int, int]:
    """'I/M' -> (I, M) with M >= 1 and 0 <= I < M; ValueError naming the rule otherwise."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        i, m = (_check_int(v, "shard") for v in text)
    else:
        match = _SHARD.match(str(text))
        if not match:
            raise ValueError(f"shard {text!r} must be I/M (shard I of M, counted from 0), e.g. 0/4")
        i, m = int(match.group(1)), int(match.group(2))
    if m < 1:
        raise ValueError(f"shard {i}/{m}: the number of shards M must be at least 1")
    if not 0 <= i < m:
        raise ValueError(f"shard {i}/{m}: I must be in 0..{m - 1} (shards are counted from 0)")
    return i, m


def shard_range(n: int, i: int, m: int) -> Tuple[int, int]:
    """Rows [floor(i*n/m), floor((i+1)*n/m)) of a pool of n: contiguous, disjoint, covering 0..n-1,
    sizes differing by at most one (some empty when m > n)."""
    return i * n // m, (i + 1) * n // m


def rank_shard(model: Model, pool, k, shard, *, strategy: str = "fdal", seed=0, batch_size=256, threads=1,
               cap=DEFAULT_CAP, labeled_counts=None, device_id: Optional[str] = None) -> Part:
    """Shard `shard` ((I, M) or "I/M") of `pool` (the whole pool: a uint8 (N, H, W, C) array or
    memmap; only the shard's rows are read) ranked into a Part. Arguments as fdal.rank_pool's."""
    if not isinstance(pool, np.ndarray):
        raise ValueError(f"pool must be the whole pool as a uint8 array (N, H, W, C) (np.load(path, "
                         f"mmap_mode='r') for a large one), got {type(pool).__name__}")
    i, m = parse_shard(shard)
    n = len(pool)
    start, stop = shard_range(n, i, m)
    part = _rank_rows(model, n, start, stop, lambda rows: pool[rows], lambda: pool[start:stop], k,
                      shard=(i, m), strategy=strategy, seed=seed, batch_size=batch_size, threads=threads,
                      cap=cap, labeled_counts=labeled_counts, device_id=device_id)
    part.pool_identity = pool_identity(pool)  # merge refuses parts of another pool of the same size
    return part


def rank_folder_shard(model: Model, files: Sequence[str], names: Sequence[str], k, shard, *,
                      strategy: str = "fdal", seed=0, batch_size=256, threads=1, cap=DEFAULT_CAP,
                      labeled_counts=None, device_id: Optional[str] = None, decode_workers: int = 1) -> Part:
    """rank_shard over image files: `files` the whole folder's sorted list, `names` how picks are
    reported. An image's index is its position in the list, so every file of the shard that is
    read must decode (a skipped file would renumber the rest): an unreadable one is a ValueError."""
    from .image_folder import ImageFolder, decode
    i, m = parse_shard(shard)
    n = len(files)
    start, stop = shard_range(n, i, m)

    def load(rows):
        out = np.empty((len(rows),) + tuple(model.input_shape), dtype=np.uint8)
        for j, row in enumerate(rows):
            arr = decode(files[row], model.input_shape)
            if arr is None:
                raise ValueError(_unreadable(files[row], (i, m)))
            out[j] = arr
        return out

    folder = ImageFolder(files[start:stop], model.input_shape, workers=decode_workers, on_skip=None,
                         progress=False)

    def stream():
        for batch in folder.batches():
            if folder.skipped:  # stop at the first unreadable file: its successors' indices are unknown
                raise ValueError(_unreadable(folder.skipped[0], (i, m)))
            yield batch
        if folder.skipped:
            raise ValueError(_unreadable(folder.skipped[0], (i, m)))

    part = _rank_rows(model, n, start, stop, load, stream, k, shard=(i, m), strategy=strategy, seed=seed,
                      batch_size=batch_size, threads=threads, cap=cap, labeled_counts=labeled_counts,
                      device_id=device_id)
    part.files = [names[int(row)] for row in part.indices]
    part.pool_identity = folder_identity(files, names)
    return part


def _unreadable(path, shard) -> str:
    return (f"{path}: unreadable image file in shard {shard[0]}/{shard[1]}; a sharded ranking numbers images "
            f"by their position in the sorted file list, so every file must decode: fix or remove it")


def _rank_rows(model: Model, n: int, start: int, stop: int, load: Callable, stream: Callable, k, *, shard,
               strategy, seed, batch_size, threads, cap, labeled_counts, device_id) -> Part:
    spec, k, cap = _check_rank_args(model, strategy, k, cap)
    seed = _check_int(seed, "seed") % 2**64
    if spec.pool_level and k > cap:
        raise ValueError(f"k={k} is larger than the number of candidates {cap} (cap={cap})")
    threads = _check_threads(threads)
    labeled_counts = _check_labeled_counts(model, strategy, labeled_counts)
    if device_id is not None and (not isinstance(device_id, str) or not device_id.strip()
                                  or not device_id.isprintable()):
        raise ValueError(f"device_id must be a non-empty printable name, got {device_id!r}")
    if n == 0:
        raise ValueError("pool is empty")
    part = Part(strategy=strategy, k=k, seed=seed, shard=shard, pool_size=n, start=start, stop=stop,
                model_sha256=model.sha256, indices=np.zeros(0, np.int64),
                keys=np.zeros(0, "uint64" if spec.pool_level else spec.key_dtype), device_id=device_id)
    if spec.pool_level:
        _candidates(model, part, load, cap, threads, labeled_counts)
    elif stop > start:  # an empty shard (M > N) holds no picks
        indices, encoded = _rank_entries(model, stream(), min(k, stop - start), strategy=strategy,
                                         batch_size=batch_size, seed=seed, threads=threads, start_index=start)
        part.indices, part.keys = indices, decode_keys(encoded, strategy)
    return part


def _candidates(model: Model, part: Part, load: Callable, cap: int, threads: int, labeled_counts) -> None:
    """The shard's min(cap, size) smallest (random key, index), as the native ranker keeps them for
    the whole pool; with each one's margin key, predicted class and (if the rule reads it) embedding,
    from the native ranker (only these rows are decoded and run)."""
    rows = candidate_rows(np.arange(part.start, part.stop, dtype=np.int64), part.seed, cap)
    found = rank_candidates(model, rows, load, strategy=part.strategy, seed=part.seed, cap=cap, threads=threads,
                            batch=FORWARD_BATCH)
    part.indices, part.keys = found["indices"], found["random_keys"]
    part.margins, part.classes, part.embeddings = found["margin_keys"], found["classes"], found["embeddings"]
    part.cap = cap
    part.unit = float(model.info["layers"][model.info["logits_layer"]]["out_scale"])
    part.labeled_counts = labeled_counts
