"""Device-like active-learning pools carved from a dataset's training split.

A teacher "from the cloud" and a pool "born on the device" should not share labels, and pools born
on a device are rarely balanced or duplicate-free. Three operations, each seeded and deterministic
on every machine (numpy integer arithmetic on uint8 pixels):

    split_source_pool(ds, 0.5, seed)   -> (source, pool): disjoint halves; the teacher trains on
                                          `source`, active learning runs on `pool`
    long_tailed(pool, ratio=10, seed)  -> class c keeps n_max * ratio ** (-rank(c) / (C - 1)) images
                                          (CIFAR-LT's exponential profile; class ranks permuted by seed)
    bursts(pool, burst=5, seed)        -> len(pool) // burst base images, each as `burst` near-duplicate
                                          frames (integer shifts of up to 2 px with edge
                                          replication, brightness x[0.9, 1.1], noise of std 3), as a
                                          camera produces; the pool keeps about its size

Every function returns (Dataset, source_indices): the new dataset (test split untouched, channel
statistics kept from the input so that normalization does not depend on the pool) and, per new
training image, the index of the training image of the input it came from.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

BURST_SHIFT = 2          # largest frame-to-frame shift, pixels
BURST_GAIN = (0.9, 1.1)  # brightness factor range
BURST_NOISE_STD = 3.0    # additive pixel noise, uint8 units


def train_subset(ds, idx: np.ndarray, name=None):
    """`ds` with only the training images `idx` (test split and statistics kept); renamed if `name`."""
    t = torch.as_tensor(idx, dtype=torch.int64, device=ds.train_x.device)
    return replace(ds, name=ds.name if name is None else name, train_x=ds.train_x[t], train_y=ds.train_y[t])


def split_source_pool(ds, source_fraction: float, seed: int):
    """Split the training images into a teacher's `source` part and a disjoint active-learning pool.

    Stratified: each class gives round(source_fraction * its count) images to the source, chosen
    with numpy's default_rng([seed, 3]). Returns ((source, source_idx), (pool, pool_idx)).
    """
    if not 0.0 < source_fraction < 1.0:
        raise ValueError(f"source_fraction must lie strictly between 0 and 1, got {source_fraction}")
    y = ds.train_y.cpu().numpy()
    rng = np.random.default_rng([seed, 3])
    source = []
    for c in range(ds.num_classes):
        members = np.flatnonzero(y == c)
        take = int(round(source_fraction * len(members)))
        source.append(rng.choice(members, size=take, replace=False))
    source_idx = np.sort(np.concatenate(source)).astype(np.int64)
    pool_idx = np.setdiff1d(np.arange(len(y)), source_idx).astype(np.int64)
    if len(source_idx) == 0 or len(pool_idx) == 0:
        raise ValueError(f"{ds.name}: a source fraction of {source_fraction} leaves an empty part "
                         f"of {len(y)} training images")
    return ((train_subset(ds, source_idx, f"{ds.name}-source"), source_idx),
            (train_subset(ds, pool_idx, f"{ds.name}-pool"), pool_idx))


def long_tailed_counts(class_counts, ratio: float, seed: int) -> np.ndarray:
    """Images kept per class: n_max * ratio ** (-rank / (C - 1)), rank a seeded permutation of the
    classes, n_max the smallest class count (so every class can supply its share)."""
    counts = np.asarray(class_counts, dtype=np.int64)
    if ratio < 1.0:
        raise ValueError(f"imbalance ratio must be >= 1, got {ratio}")
    c = len(counts)
    if c < 2:
        raise ValueError("a long-tailed pool needs at least 2 classes")
    ranks = np.random.default_rng([seed, 4]).permutation(c)
    n_max = int(counts.min())
    keep = np.floor(n_max * ratio ** (-ranks / (c - 1)) + 0.5).astype(np.int64)
    return np.maximum(keep, 1)


def long_tailed(ds, ratio: float, seed: int):
    """A class-imbalanced subsample of the training images (imbalance ratio `ratio` = largest class
    / smallest class). The test split stays balanced."""
    y = ds.train_y.cpu().numpy()
    present = np.bincount(y, minlength=ds.num_classes)
    if (present == 0).any():
        raise ValueError(f"{ds.name}: class {int(np.flatnonzero(present == 0)[0])} has no training image")
    keep = long_tailed_counts(present, ratio, seed)
    rng = np.random.default_rng([seed, 5])
    chosen = [rng.choice(np.flatnonzero(y == c), size=int(keep[c]), replace=False) for c in range(ds.num_classes)]
    idx = np.sort(np.concatenate(chosen)).astype(np.int64)
    return train_subset(ds, idx, f"{ds.name}-lt{ratio:g}"), idx


def burst_frames(image: np.ndarray, burst: int, rng: np.random.Generator) -> np.ndarray:
    """`burst` near-duplicate uint8 frames (burst, C, H, W) of one uint8 (C, H, W) image; frame 0
    is the image itself."""
    c, h, w = image.shape
    frames = np.empty((burst, c, h, w), dtype=np.uint8)
    frames[0] = image
    s = BURST_SHIFT
    padded = np.pad(image, ((0, 0), (s, s), (s, s)), mode="edge").astype(np.float64)
    for f in range(1, burst):
        dy, dx = rng.integers(-s, s + 1, size=2)
        shifted = padded[:, s + dy:s + dy + h, s + dx:s + dx + w]
        gain = rng.uniform(*BURST_GAIN)
        noise = rng.normal(0.0, BURST_NOISE_STD, size=shifted.shape)
        frames[f] = np.clip(np.floor(shifted * gain + noise + 0.5), 0, 255).astype(np.uint8)
    return frames


def bursts(ds, burst: int, seed: int):
    """A redundant pool: len(ds) // burst seeded base images, each followed by burst - 1
    near-duplicate frames of itself (same label). Frames of a burst are adjacent in the pool."""
    if burst < 1:
        raise ValueError(f"burst must be >= 1, got {burst}")
    n = len(ds.train_y)
    n_base = n // burst
    if n_base < 1:
        raise ValueError(f"{ds.name}: {n} training images cannot make bursts of {burst}")
    rng = np.random.default_rng([seed, 6])
    base = np.sort(rng.choice(n, size=n_base, replace=False)).astype(np.int64)
    x = ds.train_x.cpu().numpy()
    out = np.empty((n_base * burst,) + x.shape[1:], dtype=np.uint8)
    for i, b in enumerate(base):
        out[i * burst:(i + 1) * burst] = burst_frames(x[b], burst, rng)
    idx = np.repeat(base, burst)
    dev = ds.train_x.device
    return replace(ds, name=f"{ds.name}-burst{burst}", train_x=torch.from_numpy(out).to(dev),
                   train_y=ds.train_y[torch.as_tensor(idx, device=dev)]), idx
