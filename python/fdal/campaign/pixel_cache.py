"""The decoded pool, once per campaign: image files are decoded on every core into one uint8 file
PROJ/cache/pixels.u8 (rows of H x W x C, read back as a memmap), content-addressed.

    PROJ/cache/index.json   {"shape": [H, W, C], "rows": n, "by_digest": {digest: row, or -1 when
                            the file does not decode}, "by_file": {path: [size, mtime_ns, digest]}}

A file whose size and modification time are unchanged is not read again (as git's index does);
any other file is read, hashed and, if its digest is new, decoded and appended as a new row. So a
changed file is re-read and the old pixels are never served for it. Rows are written before the
index (fsync, then an atomic rename), so an interrupted sync loses at most the rows it was writing.
.npy pools need no cache: their rows are read through a memmap of the file itself.

Decoding is fdal.image_folder.decode, the one decoder training and ranking share.
"""
from __future__ import annotations

import io
import itertools
import json
import os
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .pool import digest_bytes, list_pool, open_npy
from .state import write_json_atomic

CHUNK = 256  # files per task sent to a decoding process


def _read_decode(paths: list, shape: tuple):
    """(digests, pixels (n, H, W, C), ok) of files `paths`: read once, hashed, decoded. A digest is
    None for a file that cannot be read; ok[i] is False where the bytes do not decode."""
    from fdal.image_folder import decode
    out = np.zeros((len(paths),) + tuple(shape), np.uint8)
    ok = np.zeros(len(paths), bool)
    digests = []
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            digests.append(None)
            continue
        digests.append(digest_bytes(data))
        arr = decode(io.BytesIO(data), shape)
        if arr is not None:
            out[i], ok[i] = arr, True
    return digests, out, ok


class PoolPixels:
    """The whole pool as uint8 (N, H, W, C), N = the images that decode, in pool order.
    keys[i] names image i; images(indices) reads any rows (memmap, no float copy)."""

    def __init__(self, keys, segments, shape):
        self.keys = keys
        self.index = {k: i for i, k in enumerate(keys)}
        self.segments = segments  # [(start, stop, array, rows or None)]
        self.shape = tuple(shape)

    def __len__(self):
        return len(self.keys)

    def images(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(idx),) + self.shape, np.uint8)
        for start, stop, arr, rows in self.segments:
            sel = np.flatnonzero((idx >= start) & (idx < stop))
            if len(sel):
                local = idx[sel] - start
                src = local if rows is None else rows[local]
                order = np.argsort(src, kind="stable")  # memmap reads in file order
                out[sel[order]] = arr[src[order]]
        return out

    def batches(self, indices, batch: int = 256):
        """images(indices) in batches, for fdal.rank_pool (bounded memory)."""
        for s in range(0, len(indices), batch):
            yield self.images(indices[s:s + batch])


class PixelCache:
    def __init__(self, proj, shape):
        self.dir = Path(proj) / "cache"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(int(v) for v in shape)
        self.row_bytes = int(np.prod(self.shape))
        self.pixels_path, self.index_path = self.dir / "pixels.u8", self.dir / "index.json"
        index = json.loads(self.index_path.read_text()) if self.index_path.is_file() else None
        if index is None or index.get("shape") != list(self.shape):
            index = {"shape": list(self.shape), "rows": 0, "by_digest": {}, "by_file": {}}
        self.index = index
        # Rows written after the index's last save belong to no file: drop them.
        with open(self.pixels_path, "ab") as f:
            f.truncate(index["rows"] * self.row_bytes)

    def _append(self, f, digest: str, pixels: np.ndarray, ok: bool) -> int:
        by_digest = self.index["by_digest"]
        if digest not in by_digest:
            if ok:
                f.write(np.ascontiguousarray(pixels).tobytes())
                by_digest[digest] = self.index["rows"]
                self.index["rows"] += 1
            else:
                by_digest[digest] = -1
        return by_digest[digest]

    def rows_for(self, paths: list, workers: int, progress: bool) -> tuple:
        """(row per path (-1: does not decode, -2: cannot be read), files decoded now)."""
        by_file, by_digest = self.index["by_file"], self.index["by_digest"]
        rows = np.full(len(paths), -2, np.int64)
        todo = []
        for i, path in enumerate(paths):
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen = by_file.get(path)
            if seen is not None and seen[:2] == [st.st_size, st.st_mtime_ns] and seen[2] in by_digest:
                rows[i] = by_digest[seen[2]]
            else:
                todo.append((i, path, [st.st_size, st.st_mtime_ns]))
        chunks = [todo[s:s + CHUNK] for s in range(0, len(todo), CHUNK)]
        done = 0
        with open(self.pixels_path, "ab") as f:
            for chunk, (digests, pixels, ok) in zip(chunks, self._decode_chunks(chunks, workers)):
                for (i, path, stat), digest, px, good in zip(chunk, digests, pixels, ok):
                    if digest is None:
                        continue
                    rows[i] = self._append(f, digest, px, good)
                    by_file[path] = stat + [digest]
                done += len(chunk)
                if progress:
                    print(f"\rdecoding {done:,}/{len(todo):,} new or changed image files", end="",
                          file=sys.stderr, flush=True)
            f.flush()
            os.fsync(f.fileno())
        if progress and todo:
            print(file=sys.stderr)
        if todo:  # an unchanged pool leaves the index as it is
            write_json_atomic(self.index_path, self.index)
        return rows, len(todo)

    def _decode_chunks(self, chunks, workers):
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                yield _read_decode([p for _, p, _ in chunk], self.shape)
            return
        import multiprocessing
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as ex:
            # In the chunks' order, with at most 2 x workers chunks in flight: memory stays bounded
            # however large the pool (Executor.map would submit every chunk at once).
            todo = iter(chunks)
            flight = deque(ex.submit(_read_decode, [p for _, p, _ in c], self.shape)
                           for c in itertools.islice(todo, 2 * workers))
            while flight:
                done = flight.popleft().result()
                for c in itertools.islice(todo, 1):
                    flight.append(ex.submit(_read_decode, [p for _, p, _ in c], self.shape))
                yield done

    def memmap(self):
        if self.index["rows"] == 0:
            return np.zeros((0,) + self.shape, np.uint8)
        return np.memmap(self.pixels_path, np.uint8, "r", shape=(self.index["rows"],) + self.shape)


def sync_pool(proj, state: dict, workers: int | None = None, progress: bool = False, warn=None):
    """List every pool, decode what is new or changed, and return (PoolPixels, stats). stats:
    files, decoded (files read and decoded now), seconds, unreadable (keys skipped).
    warn(message) is told about files that cannot be read or decoded."""
    shape = tuple(state["image_shape"])
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    cache = PixelCache(proj, shape)
    keys, segments, unreadable, decoded, files = [], [], [], 0, 0
    for pool in state["pools"]:
        listing = list_pool(pool, shape)
        start = len(keys)
        if pool["kind"] == "npy":
            keys += [k for k, _ in listing]
            segments.append((start, len(keys), open_npy(pool["path"], shape), None))
            continue
        files += len(listing)
        rows, n = cache.rows_for([p for _, p in listing], workers, progress)
        decoded += n
        good = rows >= 0
        unreadable += [k for (k, _), g in zip(listing, good) if not g]
        keys += [k for (k, _), g in zip(listing, good) if g]
        segments.append((start, len(keys), None, rows[good]))
    mm = cache.memmap()
    segments = [(a, b, mm if arr is None else arr, rows) for a, b, arr, rows in segments]
    if unreadable and warn is not None:
        warn(f"{len(unreadable)} image files cannot be read or decoded and are left out "
             f"(first: {unreadable[0]})")
    stats = {"files": files, "decoded": decoded, "seconds": time.perf_counter() - t0, "unreadable": unreadable,
             "processes": workers if decoded > CHUNK else 1}  # one chunk is decoded in this process
    return PoolPixels(keys, segments, shape), stats


def key_digests(proj, pixels: PoolPixels, state: dict, keys) -> dict:
    """{key: content digest} of pool images: from the cache index for files (as just synced), of
    the pixels for .npy rows."""
    from .pool import locate
    index_path = Path(proj) / "cache" / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {"by_file": {}}
    out = {}
    for key in keys:
        pool, source = locate(state["pools"], key)
        if pool["kind"] == "folder":
            out[key] = index["by_file"][os.path.abspath(source)][2]
        else:
            out[key] = digest_bytes(np.ascontiguousarray(pixels.images([pixels.index[key]])[0]).tobytes())
    return out
