"""Reading a folder (or glob) of JPEG/PNG/BMP files as a stream of uint8 batches for rank_pool.

    folder = ImageFolder(list_images("photos/"), model.input_shape)
    picks = fdal.rank_pool(model, folder.batches(), k)       # indices into folder.names

Memory is bounded: images are decoded in chunks of at most 256 into one preallocated uint8 buffer
that is reused for every chunk; the list of file names is the only state that grows with the
number of files. Files are listed sorted, so the pool order (and the ranking) is deterministic.

Resizing: every image is resized to the model's H x W (aspect ratio not kept) with Pillow's
BILINEAR filter, reducing_gap=2.0. Pillow's bilinear widens its support on downscale, so it is
antialiased (like torchvision's Resize(antialias=True)), and
reducing_gap lets Pillow first shrink large photos by an integer factor (a box filter, much
faster) to at most 2x the target before the bilinear pass. Results are deterministic.

Needs Pillow (pip install "fdal[images]"); the runtime itself stays numpy-only.
"""
from __future__ import annotations

import glob
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, List, Optional, Sequence

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
CHUNK = 256  # images decoded per chunk: the buffer is CHUNK x H x W x C bytes
RESIZE_FILTER = "BILINEAR"
REDUCING_GAP = 2.0
PILLOW_MESSAGE = 'reading image files needs Pillow: pip install "fdal[images]"'


class NoImages(ValueError):
    """The folder or glob matched no (readable) image file; `fdal rank` exits 2 on it."""

    exit_code = 2


def require_pillow():
    """The PIL.Image module, or ImportError with the one-line install hint."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(PILLOW_MESSAGE, name="PIL") from None
    return Image


def is_image_source(source: str) -> bool:
    """Whether `fdal rank` should read `source` as image files (a folder, a glob, or one image)."""
    if os.path.isdir(source):
        return True
    # An existing file is a glob only by accident of its name (a raw pool called "pool[1].bin").
    return source.lower().endswith(IMAGE_EXTENSIONS) or (glob.has_magic(source) and not os.path.isfile(source))


def list_images(source: str) -> List[str]:
    """Image files under folder `source` (recursive) or matching glob `source`, sorted by name;
    NoImages when there are none."""
    if os.path.isdir(source):
        found = []
        for root, dirs, files in os.walk(source):
            dirs.sort()
            found.extend(os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
        what = f"folder {source}"
    else:
        found = [p for p in glob.glob(source, recursive=True)
                 if p.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(p)]
        what = f"pattern {source!r}"
    if not found:
        raise NoImages(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {what}")
    return sorted(found)


def relative_name(path: str, source: str) -> str:
    """The name a pick is reported by: relative to a folder source, as matched for a glob; '/' separated."""
    if os.path.isdir(source):
        path = os.path.relpath(path, source)
    return path.replace(os.sep, "/")


def decode(path: str, input_shape) -> Optional[np.ndarray]:
    """uint8 (H, W, C) of the image at `path`, or None when it cannot be read (corrupt, truncated,
    not an image). Grayscale, palette and RGBA are converted to the model's channel count."""
    Image = require_pillow()
    h, w, c = (int(v) for v in input_shape)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise ValueError(f"image files can feed models of 1, 3 or 4 channels, not {c}")
    try:
        with Image.open(path) as img:
            img.load()  # truncated data raises here (ImageFile.LOAD_TRUNCATED_IMAGES stays False)
            if img.mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")  # what Pillow asks for; RGB below then drops the alpha
            if img.mode != mode:
                img = img.convert(mode)
            if img.size != (w, h):
                img = img.resize((w, h), getattr(Image, RESIZE_FILTER), reducing_gap=REDUCING_GAP)
            arr = np.asarray(img, dtype=np.uint8)
    except Exception:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        return None
    return arr.reshape(h, w, c)


class ImageFolder:
    """Files streamed as uint8 (n <= chunk, H, W, C) batches. `names` holds the files that decoded,
    in pool order (so rank_pool's index i is names[i]); `skipped` the ones that did not."""

    def __init__(self, files: Sequence[str], input_shape, *, chunk: int = CHUNK, workers: int = 1,
                 on_skip: Optional[Callable[[str], None]] = None, progress: Optional[bool] = None):
        require_pillow()
        if not 1 <= chunk <= CHUNK:
            raise ValueError(f"chunk must be in 1..{CHUNK}, got {chunk}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.files = list(files)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.chunk, self.workers, self.on_skip = chunk, workers, on_skip
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.names: List[str] = []
        self.skipped: List[str] = []

    def batches(self) -> Iterator[np.ndarray]:
        """Yields views of one reused buffer: each batch is valid until the next one is asked for
        (rank_pool consumes it before that)."""
        buffer = np.empty((self.chunk,) + self.input_shape, dtype=np.uint8)
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        total = len(self.files)
        try:
            for start in range(0, total, self.chunk):
                paths = self.files[start:start + self.chunk]
                # Pillow releases the GIL while decoding; map() keeps the files' order.
                decoded = (pool.map(self._decode, paths) if pool is not None
                           else map(self._decode, paths))
                n = 0
                for path, arr in zip(paths, decoded):
                    if arr is None:
                        self.skipped.append(path)
                        if self.on_skip is not None:
                            self.on_skip(path)
                        continue
                    buffer[n] = arr
                    self.names.append(path)
                    n += 1
                if self.progress:
                    print(f"\rdecoding {min(start + self.chunk, total):,}/{total:,} images", end="",
                          file=sys.stderr, flush=True)
                if n:
                    yield buffer[:n]
        finally:
            if self.progress:
                print(file=sys.stderr)
            if pool is not None:
                pool.shutdown()

    def _decode(self, path):
        return decode(path, self.input_shape)

    def load(self, paths: Sequence[str]) -> np.ndarray:
        """uint8 (len(paths), H, W, C) of files that decoded before (the picks, to score them)."""
        out = np.empty((len(paths),) + self.input_shape, dtype=np.uint8)
        for i, path in enumerate(paths):
            arr = decode(path, self.input_shape)
            if arr is None:
                raise OSError(f"{path}: could not be read again")
            out[i] = arr
        return out
