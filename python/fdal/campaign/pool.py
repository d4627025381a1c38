"""The campaign's pool: image folders (JPEG/PNG/BMP, searched recursively) and .npy files of uint8
images, in the order given at `fdal cycle init`.

Every image has a key, `<pool name>/<path relative to the folder>` ('/'-separated) or
`<pool name>/<row>` for a row of a .npy pool; labels, picks and Label Studio tasks name images by
key. A pool's name is its folder's (or .npy file's stem's) base name unless given as NAME=PATH.

Content digests (the first 128 bits of SHA-256, hex) tell whether a file changed between the pick
and the labels coming back: of the file's bytes for an image file, of the row's pixels (H, W, C
order) for a .npy row.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

DIGEST_HEX = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def digest_bytes(data) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_HEX]


def parse_pool_arg(text: str) -> tuple:
    """--pool [NAME=]PATH -> (name, absolute path, kind); a clear error for anything else."""
    name, sep, path = text.partition("=")
    if not sep or os.path.exists(text):
        name, path = "", text
    path = os.path.abspath(path)
    if os.path.isdir(path):
        kind = "folder"
    elif os.path.isfile(path) and path.lower().endswith(".npy"):
        kind = "npy"
    elif os.path.exists(path):
        raise ValueError(f"--pool {text}: expected a folder of images or a .npy file of uint8 images")
    else:
        raise FileNotFoundError(2, "No such folder or .npy file (--pool)", path)
    name = name or (Path(path).name if kind == "folder" else Path(path).stem)
    if not _NAME.match(name):
        raise ValueError(f"--pool {text}: pool name {name!r} must be letters, digits, '.', '_' or '-' "
                         f"(give one as NAME=PATH)")
    return {"name": name, "path": path, "kind": kind}


def check_pools(pools: list) -> None:
    names = [p["name"] for p in pools]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"two pools are named {dup[0]!r}; name them apart with --pool NAME=PATH")


def open_npy(path: str, image_shape) -> np.ndarray:
    """uint8 (N, H, W, C) view of a .npy pool (memory-mapped; (N, C, H, W) is viewed as NHWC)."""
    h, w, c = (int(v) for v in image_shape)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
    if arr.dtype != np.uint8:
        raise ValueError(f"{path}: a .npy pool must hold uint8 pixels, got dtype {arr.dtype}")
    if arr.ndim == 3 and c == 1:
        arr = arr[..., None]
    if arr.ndim == 4 and arr.shape[1:] == (c, h, w) and arr.shape[1:] != (h, w, c):
        arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim != 4 or arr.shape[1:] != (h, w, c):
        raise ValueError(f"{path}: a .npy pool must have shape (N, {h}, {w}, {c}) or (N, {c}, {h}, {w}) "
                         f"for this campaign's {h}x{w}x{c} images, got {arr.shape}")
    return arr


def list_pool(pool: dict, image_shape) -> list:
    """(key, source) of every image of one pool, in pool order: source is an absolute file path
    for a folder, the row number for a .npy file."""
    from fdal.image_folder import list_images, relative_name
    if pool["kind"] == "folder":
        if not os.path.isdir(pool["path"]):
            raise FileNotFoundError(2, f"No such folder (pool {pool['name']!r})", pool["path"])
        files = list_images(pool["path"])
        return [(f"{pool['name']}/{relative_name(f, pool['path'])}", os.path.abspath(f)) for f in files]
    arr = open_npy(pool["path"], image_shape)
    return [(f"{pool['name']}/{row}", row) for row in range(len(arr))]


def locate(pools: list, key: str):
    """(pool, source) of `key` without listing the pool: the file path or the .npy row; None when
    the key names no pool."""
    from fdal.image_folder import IMAGE_EXTENSIONS
    name, sep, rest = key.partition("/")
    for pool in pools:
        if pool["name"] == name and sep and rest:
            if pool["kind"] == "npy":
                return (pool, int(rest)) if rest.isdigit() else None
            parts = rest.split("/")
            if any(p in ("", ".", "..") for p in parts) or not rest.lower().endswith(IMAGE_EXTENSIONS):
                return None  # not a file list_pool would list: outside the pool
            return pool, os.path.join(pool["path"], *parts)
    return None


def current_digest(pools: list, key: str, image_shape, npy_cache: dict | None = None):
    """The content digest of `key` now, or None when its file (or row) is gone."""
    found = locate(pools, key)
    if found is None:
        return None
    pool, source = found
    if pool["kind"] == "folder":
        try:
            with open(source, "rb") as f:
                return digest_bytes(f.read())
        except OSError:
            return None
    cache = {} if npy_cache is None else npy_cache
    if pool["path"] not in cache:
        try:
            cache[pool["path"]] = open_npy(pool["path"], image_shape)
        except (OSError, ValueError):
            cache[pool["path"]] = None
    arr = cache[pool["path"]]
    if arr is None or source >= len(arr):
        return None
    return digest_bytes(np.ascontiguousarray(arr[source]).tobytes())
