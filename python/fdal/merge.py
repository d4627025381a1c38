"""Merging shard parts (fdal.part) into one ranking, exactly (docs/scale-out.md).

    merged = fdal.merge_topk(["part-0.npz", "part-1.npz", "part-2.npz"], k=100)
    merged.indices, merged.keys, merged.files, merged.devices

Per-image strategies (fdal, margin, entropy, random): ranking keys are exact integers or
deterministic doubles, so the k smallest (key, index) of the union of the shards' top lists are
the k smallest of the whole pool, ties to the lower index as the runtime breaks them: the merge
equals one fdal.rank_pool over the whole pool.

Pool-level strategies: the candidates of the whole pool are its `cap` smallest random keys, so
they are the `cap` smallest of the union of the shards' candidates; the merge runs the rule
(fdal._core.pool_select) on them in pool-index order, as the native ranker does: the same picks.

A fleet: parts carrying device ids come from different devices' pools (each with its own indices).
The merge ranks all rows by (key, device id, index): the order of the devices' pools concatenated
in device-id order; per_device_cap=C keeps at most C picks per device (the budget left goes to
the next-best rows of the other devices). Pool-level strategies pick by a rule over one pool's
candidates and cannot be merged across devices.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from .part import Part, load_part
from .runtime import _check_int
from .strategies import BY_NAME


@dataclass
class Merged:
    """The merged picks, best first (pool-level: in pick order)."""
    strategy: str
    indices: np.ndarray              # int64 pool indices (with devices: each device's own)
    keys: np.ndarray                 # each pick's key (key dtype; pool-level: the margin key, int64)
    files: Optional[List[str]]       # image folders: the picks' file names
    devices: Optional[List[str]]     # with device ids: each pick's device

    @property
    def scores(self) -> np.ndarray:
        """The keys as float64, as `fdal rank` reports scores."""
        return self.keys.astype(np.float64)


def _describe(p: Part) -> str:
    return f"{p.source} (shard {p.shard_name})"


def _same(parts: Sequence[Part], attr: str, what: str, fix: str) -> None:
    first = parts[0]
    for p in parts[1:]:
        a, b = getattr(first, attr), getattr(p, attr)
        equal = np.array_equal(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b
        if not equal:
            raise ValueError(f"parts from different {what}: {first.source} has {_show(a)}, {p.source} has "
                             f"{_show(b)}; {fix}")


def _show(v) -> str:
    if isinstance(v, str) and len(v) == 64:
        return v[:12] + "..."  # a model digest
    if v is None:
        return "none (a Part built in memory)"
    return repr(v.tolist() if isinstance(v, np.ndarray) else v)


def _check_coverage(parts: List[Part], allow_missing: bool, device: Optional[str]) -> None:
    """Shards of one pool: the same pool, no two over the same rows, all rows covered (unless allowed)."""
    where = "" if device is None else f" of device {device!r}"
    _same(parts, "pool_size", f"pools{where} (pool sizes)", "shards of one pool must all be ranked from it")
    _same(parts, "pool_identity", f"pools{where} (fdal.pool_identity: shape and sampled digest)",
          "shards of one pool must all be ranked from the same pool file or folder")
    ordered = sorted(parts, key=lambda p: (p.start, p.stop))
    for a, b in zip(ordered, ordered[1:]):
        if (a.start, a.stop) == (b.start, b.stop) and a.stop > a.start or a.shard == b.shard:
            raise ValueError(f"duplicate shard: {_describe(a)} and {_describe(b)} hold the same rows "
                             f"[{a.start}, {a.stop}); give each shard once")
        if b.start < a.stop:
            raise ValueError(f"overlapping shards: {_describe(a)} holds rows [{a.start}, {a.stop}) and "
                             f"{_describe(b)} rows [{b.start}, {b.stop}); give shards of one split I/M")
    if allow_missing:
        return
    n, covered, gaps = ordered[0].pool_size, 0, []
    for p in ordered:
        if p.start > covered:
            gaps.append((covered, p.start))
        covered = max(covered, p.stop)
    if covered < n:
        gaps.append((covered, n))
    if gaps:
        m = ordered[0].shard[1]
        rows = ", ".join(f"[{a}, {b})" for a, b in gaps[:3]) + (", ..." if len(gaps) > 3 else "")
        raise ValueError(f"missing shard{where}: rows {rows} of the pool of {n} are in no part (shards of "
                         f"{m}: {len(parts)} given); pass every part, or allow_missing / --allow-missing "
                         f"to merge only the shards given")


def merge_topk(parts, k, *, per_device_cap=None, allow_missing: bool = False) -> Merged:
    """The top k over the shards in `parts` (Part objects or paths of part files), exactly as one
    ranking of the whole pool (each device's pool, with device ids) would give them.

    allow_missing=False: every row of each pool must be in a part (else ValueError naming the rows);
    True: the merge is the exact top k of the shards given. per_device_cap: at most that many
    picks per device (parts with device ids only). ValueError (one line) for parts that do not
    belong together (another model, strategy, seed, cap or labeled counts), overlapping or duplicate
    shards, and a k the parts cannot answer exactly.
    """
    if isinstance(parts, (str, os.PathLike, Part)):
        parts = [parts]
    parts = [p if isinstance(p, Part) else load_part(p) for p in parts]
    if not parts:
        raise ValueError("no parts to merge")
    k = _check_int(k, "k")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if per_device_cap is not None:
        per_device_cap = _check_int(per_device_cap, "per_device_cap")
        if per_device_cap <= 0:
            raise ValueError(f"per_device_cap must be positive, got {per_device_cap}")

    _same(parts, "model_sha256", "models (sha256 of the .fdal file)", "rank every shard with the same model")
    _same(parts, "strategy", "strategies", "rank every shard with the same --strategy")
    with_id = [p.device_id is not None for p in parts]
    if any(with_id) and not all(with_id):
        a = parts[with_id.index(True)]
        b = parts[with_id.index(False)]
        raise ValueError(f"{a.source} has device id {a.device_id!r} but {b.source} has none; give every "
                         f"part a --device-id, or none")
    fleet = all(with_id)
    if per_device_cap is not None and not fleet:
        raise ValueError("per_device_cap (--per-device-cap) needs parts with device ids (fdal rank --device-id)")

    by_device: Dict[Optional[str], List[Part]] = {}
    for p in parts:
        by_device.setdefault(p.device_id, []).append(p)
    for device, group in by_device.items():
        where = "" if device is None else f" of device {device!r}"
        _same(group, "seed", f"seeds{where}", "rank every shard of a pool with the same --seed")
        if group[0].pool_level:
            _same(group, "cap", f"caps{where}", "rank every shard with the same --cap")
            _same(group, "labeled_counts", f"labeled counts{where}", "rank every shard with the same "
                                                                     "--labeled-counts")
        has_files = [p.files is not None for p in group]
        if any(has_files) and not all(has_files):
            raise ValueError(f"parts{where} mix image folders and arrays: {group[has_files.index(True)].source} "
                             f"names files, {group[has_files.index(False)].source} does not")
        _check_coverage(group, allow_missing, device)

    if parts[0].pool_level:
        if len(by_device) > 1:
            raise ValueError(f"strategy {parts[0].strategy!r} is pool-level: it picks by a rule over one pool's "
                             f"candidates, so parts of different devices ({len(by_device)}) cannot be merged; "
                             f"merge each device's parts alone, or use a per-image strategy")
        if per_device_cap is not None:
            raise ValueError(f"per_device_cap does not apply to the pool-level strategy {parts[0].strategy!r}")
        return _merge_pool_level(parts, k)
    return _merge_per_image(parts, k, per_device_cap, fleet)


def _merge_per_image(parts: List[Part], k: int, cap: Optional[int], fleet: bool) -> Merged:
    # A part that holds only its shard's top list answers exactly as long as no more than that many
    # of its rows could be picked (k, or the per-device cap).
    need = k if cap is None else min(k, cap)
    for p in parts:
        if not p.complete and len(p.indices) < need:
            raise ValueError(f"k={k} is larger than {_describe(p)} holds: {len(p.indices)} picks (ranked with "
                             f"-k {p.k}) of its {p.stop - p.start} images, so better ones may be missing; "
                             f"rank the shards with -k {need} or more")
    devices = sorted(set(p.device_id for p in parts)) if fleet else [None]
    held = {d: sum(len(p.indices) for p in parts if p.device_id == d) for d in devices}
    available = sum(held.values()) if cap is None else sum(min(cap, h) for h in held.values())
    if k > available:
        total = sum(held.values())
        raise ValueError(f"k={k} is larger than the {total} picks the parts hold"
                         + (f" ({available} with at most {cap} per device)" if cap is not None and available < total
                            else ""))
    rank_of = {d: r for r, d in enumerate(devices)}
    indices = np.concatenate([p.indices for p in parts])
    keys = np.concatenate([p.keys for p in parts])
    device = np.concatenate([np.full(len(p.indices), rank_of[p.device_id], np.int64) for p in parts])
    files = None
    if parts[0].files is not None:
        files = [f for p in parts for f in p.files]
    order = np.lexsort((indices, device, keys))  # key, then device id, then index: the runtime's tie rule
    if cap is not None:
        taken = np.zeros(len(devices), np.int64)
        chosen = []
        for row in order:
            d = device[row]
            if taken[d] < cap:
                taken[d] += 1
                chosen.append(row)
                if len(chosen) == k:
                    break
        order = np.asarray(chosen, dtype=np.int64)
    order = order[:k]
    return Merged(strategy=parts[0].strategy, indices=indices[order], keys=keys[order],
                  files=None if files is None else [files[r] for r in order],
                  devices=[devices[device[r]] for r in order] if fleet else None)


def _merge_pool_level(parts: List[Part], k: int) -> Merged:
    from .runtime import _core
    spec = BY_NAME[parts[0].strategy]
    cap = parts[0].cap
    indices = np.concatenate([p.indices for p in parts])
    rkeys = np.concatenate([p.keys for p in parts])
    margins = np.concatenate([p.margins for p in parts])
    classes = np.concatenate([p.classes for p in parts])
    # The pool's candidates: the cap smallest (random key, index) of the union, then pool-index order.
    keep = np.lexsort((indices, rkeys))[:cap]
    keep = keep[np.argsort(indices[keep], kind="stable")]
    if k > len(keep):
        raise ValueError(f"k={k} is larger than the number of candidates {len(keep)} (pool size "
                         f"{parts[0].pool_size}, cap {cap})")
    if k > cap:
        raise ValueError(f"k={k} is larger than the number of candidates {cap} (cap={cap})")
    embeddings = None
    if spec.needs_embedding:
        embeddings = np.ascontiguousarray(np.concatenate([p.embeddings for p in parts])[keep])
    takes_scores = not spec.needs_embedding
    params = {"unit": parts[0].unit} if takes_scores else {}
    picks = _core().pool_select(
        parts[0].strategy, embeddings, np.ascontiguousarray(margins[keep]) if takes_scores else None, k,
        seed=parts[0].seed, pool_indices=np.ascontiguousarray(indices[keep]),
        classes=np.ascontiguousarray(classes[keep]) if parts[0].strategy == "classbalanced" else None,
        labeled_counts=parts[0].labeled_counts, **params)
    rows = keep[picks]
    files = None
    if parts[0].files is not None:
        all_files = [f for p in parts for f in p.files]
        files = [all_files[r] for r in rows]
    return Merged(strategy=parts[0].strategy, indices=indices[rows], keys=margins[rows], files=files, devices=None)
