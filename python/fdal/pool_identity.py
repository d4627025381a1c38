"""A cheap identity of a whole pool, so that results computed on one pool are never combined with
results computed on another pool of the same size (`fdal merge` refuses such parts).

    pool_identity(pool)                      # an array or memmap: "1000x32x32x3:5be0...", reads 64 rows
    folder_identity(files, names)            # image files: "250 files:9c1f...", reads 64 files' ends

The one definition: the pool's shape, then a sha256 over a fixed sample of SAMPLE_ROWS rows spread
over all of it -- row j of the sample is a seeded position inside the j-th of SAMPLE_ROWS equal
strata, so every part of the pool is looked at and the same pool always gives the same rows (the
positions come from SplitMix64, not numpy's generators, whose streams may change between numpy
versions). A pool of at most SAMPLE_ROWS rows is hashed whole. For image files a "row" is the
file's name (as `fdal rank` prints it), its size and its first and last 64 KiB, so no image is
decoded and an unreadable file still has an identity.

It is not a checksum of every byte: two pools that differ only in rows outside the sample look the
same. It catches what happens in practice: another pool, the same pool reordered or regenerated.
"""
from __future__ import annotations

import hashlib
import os
from typing import Callable, List, Sequence

import numpy as np

SAMPLE_ROWS = 64
SAMPLE_SEED = 0x706F6F6C  # "pool"
FILE_EDGE_BYTES = 65536
DIGEST_HEX = 32  # 128 bits of the sha256 are plenty to tell pools apart


def sample_positions(n: int) -> List[int]:
    """The rows hashed for a pool of n: all of them up to SAMPLE_ROWS, else one per stratum."""
    if n <= SAMPLE_ROWS:
        return list(range(n))
    from ._core import random_keys  # the ranker's SplitMix64 keys: one hash for both
    offsets = random_keys(np.arange(SAMPLE_ROWS, dtype=np.int64), SAMPLE_SEED)
    out = []
    for j in range(SAMPLE_ROWS):
        lo, hi = j * n // SAMPLE_ROWS, (j + 1) * n // SAMPLE_ROWS
        out.append(lo + int(offsets[j]) % (hi - lo))
    return out


def _identity(label: str, n: int, read_row: Callable[[int], bytes]) -> str:
    h = hashlib.sha256(label.encode())
    for i in sample_positions(n):
        row = read_row(i)
        h.update(int(i).to_bytes(8, "little") + len(row).to_bytes(8, "little") + row)
    return f"{label}:{h.hexdigest()[:DIGEST_HEX]}"


def pool_identity(pool) -> str:
    """Identity of a uint8 (N, H, W, C) pool (array, memmap or view): its shape and the sample's
    pixels in HWC order (an NCHW file viewed as NHWC gives the pool's identity as ranked)."""
    pool = np.asarray(pool) if not isinstance(pool, np.ndarray) else pool
    label = "x".join(str(int(d)) for d in pool.shape)
    return _identity(label, len(pool), lambda i: np.ascontiguousarray(pool[i]).tobytes())


def folder_identity(files: Sequence[str], names: Sequence[str]) -> str:
    """Identity of a pool of image files (`files` in pool order, `names` as fdal rank prints them)."""
    def read_row(i: int) -> bytes:
        try:
            with open(files[i], "rb") as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(FILE_EDGE_BYTES)
                f.seek(max(size - FILE_EDGE_BYTES, len(head)))
                tail = f.read(FILE_EDGE_BYTES)
        except OSError as exc:  # unreadable now: its name and the reason still identify the row
            return names[i].encode("utf-8", "surrogateescape") + b"\0" + str(exc.strerror).encode()
        return names[i].encode("utf-8", "surrogateescape") + b"\0" + size.to_bytes(8, "little") + head + tail

    return _identity(f"{len(files)} files", len(files), read_row)
