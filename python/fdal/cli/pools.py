"""Reading a pool of raw images for `fdal rank` and `fdal bench`: .npy (memory-mapped) or raw bytes."""
from __future__ import annotations

import os
import sys

import numpy as np

from .common import require_file


def load_pool(path: str, input_shape, layout: str = "auto", raw_shape=None) -> np.ndarray:
    """uint8 (N, H, W, C) view of `path`, read lazily (np.memmap) so large pools stream from disk.

    .npy: uint8 (N, H, W, C), or (N, C, H, W) which is viewed as NHWC without a copy.
    .npz: an error (save the array as .npy). The suffix is case-insensitive.
    raw_shape: (H, W, C) the user declared for a raw pool (--raw), checked against the model.
    anything else: raw uint8 bytes, N images of H*W*C bytes in HWC order (the model's input shape);
    raw_shape is required for them (the bytes alone cannot tell 4N 32x32 images from N 64x64 ones).
    """
    h, w, c = (int(v) for v in input_shape)
    require_file(path, "pool")
    if raw_shape is not None and tuple(raw_shape) != (h, w, c):
        raise ValueError(f"--raw {'x'.join(map(str, raw_shape))} does not match the model's input "
                         f"{h}x{w}x{c}")
    suffix = os.path.splitext(path)[1].lower()  # POOL.NPY is a .npy too
    if suffix == ".npz":
        raise ValueError(f"{path}: an .npz archive holds several arrays; save the pool array as .npy, "
                         f"e.g. np.save('pool.npy', np.load('{os.path.basename(path)}')['x'])")
    if suffix == ".npy":
        pool = _load_npy(path)
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
                         f"the file has {size} bytes, not a multiple of {per_image}")
    if raw_shape is None:
        # Raw bytes carry no shape: 64x64x3 images read as 32x32x3 would be ranked as 4x as many
        # wrong images, with indices past the file's real count. The user must say the shape.
        raise ValueError(f"{path}: a raw pool has no shape in it; confirm that it holds {size // per_image:,} "
                         f"images of {h}x{w}x{c} with --raw {h}x{w}x{c} (the model's input), or save it as .npy")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // per_image, h, w, c))


def _load_npy(path: str) -> np.ndarray:
    """np.load with one-line errors: a file named .npy must really be one (never read as raw)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if not head:
        raise ValueError(f"{path}: empty file, not a .npy array")
    if head.startswith(b"PK"):
        raise ValueError(f"{path}: an .npz archive saved under a .npy name; save the array itself, "
                         f"e.g. np.save('pool.npy', np.load(path)['x'])")
    if head != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file (bad magic {head!r}); save the pool with np.save")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError:
        raise  # permission denied, I/O error: reported as such
    except Exception as exc:  # ValueError, EOFError, SyntaxError, tokenize.TokenError, OverflowError ...
        # numpy's messages quote the whole header; its first line is enough.
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)  # TokenError: a tuple
        reason = message.split(":")[0].strip() or type(exc).__name__
        raise ValueError(f"{path}: corrupted .npy header or data ({reason}); re-save it with np.save") from None


def batches_with_progress(pool: np.ndarray, batch_size: int, desc: str, min_images: int = 20_000):
    """The pool in batches, with a tqdm bar (and ETA) on large pools when tqdm is installed."""
    bar = None
    if len(pool) >= min_images:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(pool), desc=desc, unit="img", unit_scale=True)
        except ImportError:
            bar = None
        except KeyboardInterrupt:  # Ctrl-C while the bar drew itself: end its line before "fdal: interrupted"
            sys.stderr.write("\n")
            raise
    try:
        for start in range(0, len(pool), batch_size):
            batch = pool[start:start + batch_size]
            yield batch
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
