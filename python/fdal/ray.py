"""Ranking a Ray Data dataset of images with the int8 runtime, merged exactly (docs/scale-out.md).

    import ray, fdal.ray
    ds = ray.data.from_numpy(pool).rename_columns({"data": "image"})     # or any dataset of HWC uint8 rows
    idx = fdal.ray.rank(ds, "student.fdal", k=100, strategy="margin")   # == fdal.rank_pool(model, pool, 100, ...)

The pool's order is the dataset's row order (its rows are numbered 0..N-1 by zipping it with
ray.data.range(N)); each Ray Data batch is ranked by an actor that loads the model once (from the
file's bytes, shipped with the task, so workers need no shared file system) and returns its top k
(pool-level strategies: its `cap` smallest random keys with margins, classes and embeddings), and
the driver keeps a running exact top list of those in O(k + batch) (pool-level: O(cap + batch))
rows before fdal.merge_topk gives the same picks as one fdal.rank_pool over the whole pool.

Needs `pip install "fdal[ray]"`; the rest of fdal never imports ray.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from .merge import merge_topk
from .part import Part
from .runtime import (_check_int, _check_labeled_counts, _check_rank_args, _check_threads, _rank_entries,
                      candidate_rows, decode_keys, load, rank_candidates)
from .strategies import DEFAULT_CAP, check_strategy

INDEX = "__fdal_index"  # the column of global row indices zipped onto the dataset


def _require_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError('fdal.ray needs Ray Data: pip install "fdal[ray]"', name="ray") from None
    return ray


class _BatchRanker:
    """One actor: the model loaded once; each batch -> its exact top rows (see the module doc)."""

    def __init__(self, model_bytes: bytes, column: str, strategy: str, k: int, seed: int, cap: int, threads: int):
        self.model = load(model_bytes)
        self.column, self.strategy, self.k, self.seed, self.cap, self.threads = column, strategy, k, seed, cap, threads
        self.spec = check_strategy(strategy, self.model.has_sampler)

    def __call__(self, batch: dict) -> dict:
        images = batch[self.column]
        if images.dtype == object:  # rows Ray could not stack into one tensor column
            images = np.stack(list(images))
        rows = np.asarray(batch[INDEX], dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        rows, images = rows[order], images[order]
        if self.spec.pool_level:
            return self._candidates(images, rows)
        found_rows, found_keys = [], []
        # Each run of consecutive indices is ranked by the native ranker with its start index.
        for run in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(rows) != 1) + 1):
            if not len(run):
                continue
            idx, enc = _rank_entries(self.model, images[run], min(self.k, len(run)), strategy=self.strategy,
                                     seed=self.seed, threads=self.threads, start_index=int(rows[run[0]]))
            found_rows.append(idx)
            found_keys.append(decode_keys(enc, self.strategy))
        index = np.concatenate(found_rows) if found_rows else np.zeros(0, np.int64)
        keys = np.concatenate(found_keys) if found_keys else np.zeros(0, self.spec.key_dtype)
        best = np.lexsort((index, keys))[:self.k]
        return {"index": index[best], "key": keys[best]}

    def _candidates(self, images: np.ndarray, rows: np.ndarray) -> dict:
        # rows ascend (sorted in __call__): a kept row's image is at its position in rows.
        keep = candidate_rows(rows, self.seed, self.cap)
        found = rank_candidates(self.model, keep, lambda r: images[np.searchsorted(rows, r)], strategy=self.strategy,
                                seed=self.seed, cap=self.cap, threads=self.threads)
        out = {"index": found["indices"], "rkey": found["random_keys"], "margin": found["margin_keys"],
               "class": found["classes"]}
        if self.spec.needs_embedding:
            out["embedding"] = found["embeddings"]
        return out


def rank(dataset, model_path, k, *, strategy: str = "fdal", column: str = "image", seed=0, cap=DEFAULT_CAP,
         labeled_counts=None, batch_size: int = 256, concurrency: int = 1, num_cpus: float = 1, threads=1,
         return_scores: bool = False):
    """The k best rows of `dataset` (a ray.data.Dataset whose `column` holds uint8 (H, W, C) images),
    as int64 row indices, best first (pool-level: in pick order): the same as fdal.rank_pool over the
    rows stacked in dataset order. model_path: a .fdal file (read here, once). concurrency: ranking
    actors (each loads the model once), num_cpus: the CPUs each reserves (keep concurrency x num_cpus
    below the cluster's CPUs: Ray Data's read tasks need CPUs too, or the pipeline waits forever);
    batch_size: rows per Ray Data batch; other arguments as fdal.rank_pool's. return_scores=True: (indices, float64 scores), rank_pool's scores."""
    ray = _require_ray()
    if not isinstance(dataset, ray.data.Dataset):
        raise ValueError(f"dataset must be a ray.data.Dataset, got {type(dataset).__name__}")
    path = os.fspath(model_path)
    model = load(path)  # validates the file here, not in every worker
    with open(path, "rb") as f:
        model_bytes = f.read()
    spec, k, cap = _check_rank_args(model, strategy, k, cap)
    if spec.pool_level and k > cap:
        raise ValueError(f"k={k} is larger than the number of candidates {cap} (cap={cap})")
    seed = _check_int(seed, "seed") % 2**64
    threads = _check_threads(threads)
    labeled_counts = _check_labeled_counts(model, strategy, labeled_counts)
    batch_size, concurrency = _check_int(batch_size, "batch_size"), _check_int(concurrency, "concurrency")
    if batch_size <= 0 or concurrency <= 0:
        raise ValueError(f"batch_size and concurrency must be positive, got {batch_size} and {concurrency}")
    if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or not num_cpus > 0:
        raise ValueError(f"num_cpus must be a positive number, got {num_cpus!r}")
    columns = dataset.schema().names
    if column not in columns:
        raise ValueError(f"the dataset has no column {column!r}; its columns: {', '.join(columns)}")
    if INDEX in columns:
        raise ValueError(f"the dataset has a column {INDEX!r}, which fdal.ray uses for row indices")

    n = dataset.count()
    if n == 0:
        raise ValueError("pool is empty")
    if not spec.pool_level and k > n:
        raise ValueError(f"k={k} is larger than the pool size {n}")
    indexed = dataset.select_columns([column]).zip(ray.data.range(n).rename_columns({"id": INDEX}))
    ranked = indexed.map_batches(
        _BatchRanker, fn_constructor_kwargs=dict(model_bytes=model_bytes, column=column, strategy=strategy, k=k,
                                                 seed=seed, cap=cap, threads=threads),
        batch_size=batch_size, batch_format="numpy", concurrency=concurrency, num_cpus=num_cpus)

    keep = k if not spec.pool_level else cap
    held: Optional[dict] = None
    sort_key = "rkey" if spec.pool_level else "key"
    for out in ranked.iter_batches(batch_size=None, batch_format="numpy"):
        held = out if held is None else {name: np.concatenate([held[name], out[name]]) for name in held}
        best = np.lexsort((held["index"], held[sort_key]))[:keep]  # the exact running top list
        held = {name: values[best] for name, values in held.items()}

    part = Part(strategy=strategy, k=k, seed=seed, shard=(0, 1), pool_size=n, start=0, stop=n,
                model_sha256=model.sha256, indices=held["index"].astype(np.int64),
                keys=held[sort_key].astype("uint64" if spec.pool_level else spec.key_dtype), source="<ray>")
    if spec.pool_level:
        part.cap, part.labeled_counts = cap, labeled_counts
        part.unit = float(model.info["layers"][model.info["logits_layer"]]["out_scale"])
        part.margins, part.classes = held["margin"].astype(np.int64), held["class"].astype(np.int64)
        part.embeddings = held["embedding"].astype(np.int8) if spec.needs_embedding else None
    merged = merge_topk([part], k)
    return (merged.indices, merged.scores) if return_scores else merged.indices
