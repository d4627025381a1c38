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

Listing follows directory symlinks, entering each real folder once and listing each real file
once; decoding (decode, image_modes.py) applies EXIF orientation and turns every Pillow mode into
the model's L/RGB/RGBA pixels, or skips the file with a one-line reason (docs/images.md).

Needs Pillow (pip install "fdal[images]"); the runtime itself stays numpy-only.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
CHUNK = 256  # images decoded per chunk: the buffer is CHUNK x H x W x C bytes
RESIZE_FILTER = "BILINEAR"
REDUCING_GAP = 2.0
_OPEN_LOCK = threading.Lock()
PILLOW_MESSAGE = 'reading image files needs Pillow: pip install "fdal[images]"'


class UnsupportedMode(ValueError):
    """An image whose pixels have no fixed 8-bit meaning (32-bit integer or float); it is skipped."""


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


def list_images(source: str, on_error: Optional[Callable[[OSError], None]] = None) -> List[str]:
    """Image files under folder `source` (recursive) or matching glob `source`, sorted by name;
    NoImages when there are none. Directory symlinks are followed but every real folder is
    entered once (a loop cannot repeat it), and a file reached under several names is listed once,
    under the first name in sorted order. on_error(OSError) hears of each folder that could not be
    listed (permission denied ...); the NoImages message names the first."""
    errors: List[OSError] = []

    def failed(exc: OSError) -> None:
        errors.append(exc)
        if on_error is not None:
            on_error(exc)

    if os.path.isdir(source):
        found = [p for p in _walk_files(source, failed) if p.lower().endswith(IMAGE_EXTENSIONS)]
        what = f"folder {source}"
    else:
        found = [p for p in _expand_glob(source, failed)
                 if p.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(p)]
        what = f"pattern {source!r}"
    found = _once_per_real_file(sorted(found))
    if not found:
        unlisted = f" (could not list {errors[0].filename}: {errors[0].strerror})" if errors else ""
        raise NoImages(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {what}{unlisted}")
    return found


def _walk_files(root: str, on_error: Optional[Callable[[OSError], None]] = None) -> Iterator[str]:
    """Every file under `root`, following directory symlinks but entering each real folder once."""
    seen = set()
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=on_error):
        real = os.path.realpath(folder)
        if real in seen:  # a symlink back to a folder already walked (a loop, or a second name)
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield from (os.path.join(folder, f) for f in files)


def _expand_glob(pattern: str, on_error: Optional[Callable[[OSError], None]] = None) -> List[str]:
    """glob.glob(pattern, recursive=True), except that `**` enters each real folder once (glob
    itself follows a symlink loop until the path is too long: each image dozens of times)."""
    if "**" not in pattern:
        return glob.glob(pattern, recursive=True)
    parts = pattern.split(os.sep)
    first_magic = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = os.sep.join(parts[:first_magic]) or (os.sep if pattern.startswith(os.sep) else "")
    rest = parts[first_magic:]
    out = []
    for path in _walk_files(root or os.curdir, on_error):
        rel = os.path.relpath(path, root or os.curdir).split(os.sep)
        if _match_parts(rel, rest):
            out.append(os.path.join(root, *rel) if root else os.path.join(*rel))
    return out


def _match_parts(names: List[str], pattern: List[str]) -> bool:
    """glob's rules per path component: `**` spans zero or more folders, a hidden name (leading
    dot) matches only a pattern component that starts with a dot."""
    if not pattern:
        return not names
    head = pattern[0]
    if head == "**":
        if _match_parts(names, pattern[1:]):
            return True
        return bool(names) and not names[0].startswith(".") and _match_parts(names[1:], pattern)
    if not names or (names[0].startswith(".") and not head.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], head) and _match_parts(names[1:], pattern[1:])


def _once_per_real_file(paths: List[str]) -> List[str]:
    seen, out = set(), []
    for p in paths:
        real = os.path.realpath(p)
        if real not in seen:
            seen.add(real)
            out.append(p)
    return out


def relative_name(path: str, source: str) -> str:
    """The name a pick is reported by: relative to a folder source, as matched for a glob; '/' separated."""
    if os.path.isdir(source):
        path = os.path.relpath(path, source)
    return path.replace(os.sep, "/")


def decode(path: str, input_shape) -> Optional[np.ndarray]:
    """uint8 (H, W, C) of the image at `path`, or None when it cannot be read (corrupt, truncated,
    not an image, a mode without a fixed 8-bit meaning, over the pixel limit). Every mode is
    converted as docs/images.md says: EXIF orientation applied, 16-bit scaled to 8 bits,
    transparency composited over white (kept for 4-channel models), then L/RGB/RGBA."""
    return decode_or_reason(path, input_shape)[0]


def decode_or_reason(path: str, input_shape) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """decode(), with the one-line reason (None when it decoded) why a file was not read."""
    from .image_modes import to_model_mode
    Image = require_pillow()
    h, w, c = (int(v) for v in input_shape)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise ValueError(f"image files can feed models of 1, 3 or 4 channels, not {c}")
    try:
        with _OPEN_LOCK, warnings.catch_warnings():  # catch_warnings is process-wide: one thread at a time
            # Pillow warns between 1x and 2x its pixel limit; the size is checked (and named) below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)  # reads the header only
        with img:
            limit = Image.MAX_IMAGE_PIXELS
            if limit and img.width * img.height > limit:
                return None, (f"{img.width}x{img.height} = {img.width * img.height:,} pixels is over Pillow's "
                              f"limit of {limit:,} (PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression "
                              f"bombs); downscale it, or raise the limit if the file is trusted")
            img.load()  # truncated data raises here (ImageFile.LOAD_TRUNCATED_IMAGES stays False)
            if img.format == "JPEG" and not _jpeg_has_end(path):
                return None, ("truncated JPEG: no end-of-image marker after the image data (a file still being "
                              "written, or cut short and padded with zeros)")
            img = to_model_mode(img, mode)
            if img.size != (w, h):
                img = img.resize((w, h), getattr(Image, RESIZE_FILTER), reducing_gap=REDUCING_GAP)
            arr = np.asarray(img, dtype=np.uint8)
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        return None, _reason(exc)
    return arr.reshape(h, w, c), None


def _jpeg_has_end(path: str) -> bool:
    """Whether the JPEG's last scan is followed by an end-of-image marker. libjpeg decodes a file whose
    end is zeros (preallocated, still being written) without an error: the rest of the image is made
    up. 0xFF inside scan data is always stuffed (FF 00), so FF DA / FF D9 there are real markers; an
    EXIF thumbnail's own end marker comes before the main scan."""
    with open(path, "rb") as f:
        data = f.read()
    return data.find(b"\xff\xd9", data.rfind(b"\xff\xda")) >= 0


def _reason(exc: Exception) -> str:
    from PIL import Image, UnidentifiedImageError
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file (removed while listing?)"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read (empty, or another kind of file)"
    if isinstance(exc, Image.DecompressionBombError):
        return f"too large: {str(exc).split(',')[0]}; downscale it"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, UnsupportedMode):
        return text
    return f"truncated or corrupt ({text})"


class ImageFolder:
    """Files streamed as uint8 (n <= chunk, H, W, C) batches. `names` holds the files that decoded,
    in pool order (so rank_pool's index i is names[i]); `skipped` the ones that did not, and
    `reasons` why each was skipped (path -> one line)."""

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
        self.reasons: Dict[str, str] = {}

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
                for path, (arr, reason) in zip(paths, decoded):
                    if arr is None:
                        self.skipped.append(path)
                        self.reasons[path] = reason
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
        return decode_or_reason(path, self.input_shape)

    def load(self, paths: Sequence[str]) -> np.ndarray:
        """uint8 (len(paths), H, W, C) of files that decoded before (the picks, to score them)."""
        out = np.empty((len(paths),) + self.input_shape, dtype=np.uint8)
        for i, path in enumerate(paths):
            arr, reason = decode_or_reason(path, self.input_shape)
            if arr is None:
                raise OSError(f"{path}: could not be read again ({reason})")
            out[i] = arr
        return out
