"""A shard's ranking as a file: what `fdal rank --shard I/M --out part.npz` writes and `fdal merge`
reads (docs/scale-out.md). An .npz of plain arrays (np.load(..., allow_pickle=False) reads it):

    format        "fdal-part-2" ("fdal-part-1", before pool_identity, is refused: rank the shard again)
    strategy, model_sha256, device_id ("" when none)      str
    pool_identity the whole pool's shape and sampled digest (fdal.pool_identity), str
    k, seed, shard (I, M), pool_size, start, stop          int (seed as uint64)
    indices       int64: pool indices (of the whole pool, or of the device's pool), rows in rank order
    keys          per-image strategies: each row's exact ranking key in the strategy's key dtype
                  (fdal int32, margin int64, entropy float64, random uint64), best first;
                  pool-level strategies: each candidate's random key (uint64), in pool-index order
    files         image folders only: each row's file name (as `fdal rank` prints it)
    pool-level only: cap, unit (float64, the logits unit), margins (int64), classes (int64),
                  embeddings (int8 (n, D), kcenter/typiclust/probcover), labeled_counts (int64, if given)
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from .strategies import BY_NAME, check_strategy

FORMAT = "fdal-part-2"
OLD_FORMATS = ("fdal-part-1",)  # no pool identity: merge could not tell parts of another pool


@dataclass(eq=False)  # arrays inside: compare fields with np.array_equal
class Part:
    """One shard's ranking (per-image strategies: its top picks; pool-level: its candidates)."""
    strategy: str
    k: int
    seed: int
    shard: Tuple[int, int]
    pool_size: int
    start: int
    stop: int
    model_sha256: str
    indices: np.ndarray
    keys: np.ndarray
    device_id: Optional[str] = None
    files: Optional[List[str]] = None
    cap: Optional[int] = None
    unit: Optional[float] = None
    margins: Optional[np.ndarray] = None
    classes: Optional[np.ndarray] = None
    embeddings: Optional[np.ndarray] = None
    labeled_counts: Optional[np.ndarray] = None
    pool_identity: Optional[str] = None  # fdal.pool_identity of the whole pool (None: a Part built in memory)
    source: str = field(default="<part>", compare=False)  # where it was read from, for messages

    @property
    def pool_level(self) -> bool:
        return BY_NAME[self.strategy].pool_level

    @property
    def shard_name(self) -> str:
        i, m = self.shard
        return f"{i}/{m}" + (f" of device {self.device_id!r}" if self.device_id is not None else "")

    @property
    def complete(self) -> bool:
        """Whether the part holds every image of its shard (then any merge k is exact for it)."""
        return len(self.indices) == self.stop - self.start

    def save(self, path) -> None:
        arrays = {
            "format": np.str_(FORMAT), "strategy": np.str_(self.strategy), "k": np.int64(self.k),
            "seed": np.uint64(self.seed), "shard": np.array(self.shard, dtype=np.int64),
            "pool_size": np.int64(self.pool_size), "start": np.int64(self.start), "stop": np.int64(self.stop),
            "model_sha256": np.str_(self.model_sha256), "device_id": np.str_(self.device_id or ""),
            "indices": np.asarray(self.indices, dtype=np.int64), "keys": np.asarray(self.keys),
        }
        if self.pool_identity is None:
            raise ValueError("a part file needs the pool's identity (fdal.pool_identity); set part.pool_identity")
        arrays["pool_identity"] = np.str_(self.pool_identity)
        if self.files is not None:
            arrays["files"] = np.array(self.files, dtype=np.str_)
        if self.pool_level:
            arrays.update(cap=np.int64(self.cap), unit=np.float64(self.unit),
                          margins=np.asarray(self.margins, dtype=np.int64),
                          classes=np.asarray(self.classes, dtype=np.int64))
            if self.embeddings is not None:
                arrays["embeddings"] = np.asarray(self.embeddings, dtype=np.int8)
            if self.labeled_counts is not None:
                arrays["labeled_counts"] = np.asarray(self.labeled_counts, dtype=np.int64)
        # np.savez appends .npz to a name without it; write to an open file so the name is kept.
        with open(path, "wb") as f:
            np.savez(f, **arrays)


def _scalar(z, name, source, kind):
    if name not in z:
        raise ValueError(f"{source}: not an fdal part (no {name!r}); write parts with fdal rank --shard I/M")
    a = z[name]
    if a.ndim != 0 or a.dtype.kind not in kind:
        raise ValueError(f"{source}: corrupted fdal part ({name!r} has shape {a.shape} dtype {a.dtype})")
    return a[()]


def _array(z, name, source, dtype, ndim=1, required=True):
    if name not in z:
        if required:
            raise ValueError(f"{source}: corrupted fdal part (no {name!r})")
        return None
    a = z[name]
    if a.dtype != np.dtype(dtype) or a.ndim != ndim:
        raise ValueError(f"{source}: corrupted fdal part ({name!r} is {a.dtype} with {a.ndim} dimensions, "
                         f"expected {np.dtype(dtype)} with {ndim})")
    return a


def load_part(path) -> Part:
    """Read and check a part file; ValueError (one line, naming the file) for anything malformed."""
    source = os.fspath(path)
    try:
        z = np.load(source, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError(f"{source}: a single .npy array, not an fdal part (.npz)")
        with z:
            return _read(z, source)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{source}: not an fdal part (.npz) file ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith(source):
            raise
        raise ValueError(f"{source}: not an fdal part (.npz) file ({str(exc).splitlines()[0]})") from None


def _read(z, source) -> Part:
    fmt = _scalar(z, "format", source, "U")
    if fmt in OLD_FORMATS:
        raise ValueError(f"{source}: written by an older fdal (format {str(fmt)!r}) without the pool's identity, "
                         f"so fdal merge cannot check that every part comes from the same pool; rank the "
                         f"shard again with this fdal")
    if fmt != FORMAT:
        raise ValueError(f"{source}: unsupported part format {str(fmt)!r} (this fdal reads {FORMAT!r})")
    strategy = str(_scalar(z, "strategy", source, "U"))
    try:
        spec = check_strategy(strategy, True)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    shard = _array(z, "shard", source, np.int64)
    if shard.shape != (2,):
        raise ValueError(f"{source}: corrupted fdal part (shard has shape {shard.shape})")
    part = Part(
        strategy=strategy, k=int(_scalar(z, "k", source, "iu")), seed=int(_scalar(z, "seed", source, "iu")),
        shard=(int(shard[0]), int(shard[1])), pool_size=int(_scalar(z, "pool_size", source, "iu")),
        start=int(_scalar(z, "start", source, "iu")), stop=int(_scalar(z, "stop", source, "iu")),
        model_sha256=str(_scalar(z, "model_sha256", source, "U")),
        indices=_array(z, "indices", source, np.int64),
        keys=_array(z, "keys", source, "uint64" if spec.pool_level else spec.key_dtype),
        device_id=str(_scalar(z, "device_id", source, "U")) or None,
        pool_identity=str(_scalar(z, "pool_identity", source, "U")), source=source)
    files = _array(z, "files", source, z["files"].dtype if "files" in z else "U1", required=False)
    if files is not None:
        if files.dtype.kind != "U":
            raise ValueError(f"{source}: corrupted fdal part ('files' is {files.dtype}, not strings)")
        part.files = files.tolist()
    if spec.pool_level:
        part.cap = int(_scalar(z, "cap", source, "iu"))
        part.unit = float(_scalar(z, "unit", source, "f"))
        part.margins = _array(z, "margins", source, np.int64)
        part.classes = _array(z, "classes", source, np.int64)
        part.embeddings = _array(z, "embeddings", source, np.int8, ndim=2, required=spec.needs_embedding)
        part.labeled_counts = _array(z, "labeled_counts", source, np.int64, required=False)
    _check(part)
    return part


def _check(p: Part) -> None:
    """The part's own invariants (consistency between parts is the merge's job)."""
    i, m = p.shard
    n = len(p.indices)
    bad = None
    if not (m >= 1 and 0 <= i < m):
        bad = f"shard {i}/{m} is not a shard"
    elif not 0 <= p.start <= p.stop <= p.pool_size:
        bad = f"rows [{p.start}, {p.stop}) are not inside the pool of {p.pool_size}"
    elif len(p.keys) != n or (p.files is not None and len(p.files) != n):
        bad = "indices, keys and files differ in length"
    elif n and (p.indices.min() < p.start or p.indices.max() >= p.stop):
        bad = f"indices outside the shard's rows [{p.start}, {p.stop})"
    elif len(np.unique(p.indices)) != n:
        bad = "repeated indices"
    elif p.k < 1:
        bad = f"k={p.k}"
    elif p.pool_level and (p.cap is None or p.cap < 1 or len(p.margins) != n or len(p.classes) != n
                           or (p.embeddings is not None and len(p.embeddings) != n)):
        bad = "candidate arrays differ in length"
    if bad:
        raise ValueError(f"{p.source}: corrupted fdal part ({bad})")
