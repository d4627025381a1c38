"""Seeded synthetic images: the calibration set of random models and the pools of tests and benchmarks."""
from __future__ import annotations

import numpy as np


def random_images(seed: int, n: int, shape=(32, 32, 3)) -> np.ndarray:
    """uint8 (n, h, w, c) images with structure: per-image tint, smooth blobs and pixel noise."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    tint = rng.uniform(0, 255, (n, 1, 1, c))
    coarse = rng.uniform(0, 255, (n, 4, 4, c))
    blobs = coarse[:, (np.arange(h) * 4) // h][:, :, (np.arange(w) * 4) // w]
    noise = rng.normal(0, 18, (n, h, w, c))
    # The fancy-indexed blobs give numpy's broadcasting a strided layout (image index fastest for
    # n > 10); callers expect an ordinary C-contiguous pool, so ask for one explicitly.
    return np.clip(0.4 * tint + 0.6 * blobs + noise, 0, 255).round().astype(np.uint8, order="C")
