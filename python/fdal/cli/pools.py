"""Reading a pool of raw images for `fdal rank` and `fdal bench`: .npy (memory-mapped) or raw bytes."""
from __future__ import annotations

import os

import numpy as np

from .common import require_file


def load_pool(path: str, input_shape, layout: str = "auto") -> np.ndarray:
    """uint8 (N, H, W, C) view of `path`, read lazily (np.memmap) so large pools stream from disk.

    .npy: uint8 (N, H, W, C), or (N, C, H, W) which is viewed as NHWC without a copy.
    anything else: raw uint8 bytes, N images of H*W*C bytes in HWC order (the model's input shape).
    """
    h, w, c = (int(v) for v in input_shape)
    require_file(path, "pool")
    if path.endswith(".npy"):
        try:
            pool = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
        if pool.dtype != np.uint8:
            raise ValueError(f"{path}: pool must be uint8 raw pixels, got dtype {pool.dtype}")
        if pool.ndim == 3 and c == 1:
            pool = pool[..., None]
        if pool.ndim != 4:
            raise ValueError(f"{path}: pool must have shape (N, {h}, {w}, {c}), got {pool.shape}")
        if layout == "nchw" or (layout == "auto" and pool.shape[1:] == (c, h, w) and pool.shape[1:] != (h, w, c)):
            pool = pool.transpose(0, 2, 3, 1)
        if pool.shape[1:] != (h, w, c):
            raise ValueError(f"{path}: pool images have shape {pool.shape[1:]} but the model expects "
                             f"({h}, {w}, {c}) (HWC) or ({c}, {h}, {w}) (CHW)")
        return pool
    size = os.path.getsize(path)
    per_image = h * w * c
    if size == 0 or size % per_image:
        raise ValueError(f"{path}: a raw pool must hold N images of {h}x{w}x{c} = {per_image} bytes; "
                         f"the file has {size} bytes")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // per_image, h, w, c))


def batches_with_progress(pool: np.ndarray, batch_size: int, desc: str, min_images: int = 20_000):
    """The pool in batches, with a tqdm bar (and ETA) on large pools when tqdm is installed."""
    bar = None
    if len(pool) >= min_images:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(pool), desc=desc, unit="img", unit_scale=True)
        except ImportError:
            bar = None
    try:
        for start in range(0, len(pool), batch_size):
            batch = pool[start:start + batch_size]
            yield batch
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
