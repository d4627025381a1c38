"""Decode the project's CIFAR-10 JPEG copy into the official cifar-10-batches-py layout.

    fdal prepare-data --data-dir OUT_DIR [--source DIR] [--overwrite]

Runs the copy's own to_cifar_batches.py (needs Pillow: pip install pillow), so the result is
exactly what that script writes; the standard CIFAR-10 loader then reads it.
"""
import os
import subprocess
import sys

from .cifar import CIFAR10_FILES

# Where the copy lives in this project's workspace; override with FDAL_CIFAR10_JPEG or source_dir.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SOURCE = os.environ.get("FDAL_CIFAR10_JPEG",
                                os.path.join(os.path.dirname(_REPO), "shared", "data", "cifar10-jpeg"))


def prepare_cifar10_jpeg(out_dir, source_dir=None, overwrite=False):
    """Write OUT_DIR/cifar-10-batches-py/ from the JPEG copy; returns that folder.
    Does nothing when all batch files are already there (unless overwrite)."""
    source_dir = source_dir or DEFAULT_SOURCE
    folder = os.path.join(out_dir, "cifar-10-batches-py")
    if not overwrite and all(os.path.isfile(os.path.join(folder, f)) for f in CIFAR10_FILES):
        return folder
    script = os.path.join(source_dir, "to_cifar_batches.py")
    needed = [script, os.path.join(source_dir, "train.npz"), os.path.join(source_dir, "test.npz")]
    missing = [p for p in needed if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 JPEG copy not found: missing {missing}; pass the folder holding "
                                f"train.npz, test.npz and to_cifar_batches.py with `fdal prepare-data --source DIR` "
                                f"(source_dir= in Python), or set FDAL_CIFAR10_JPEG to it")
    try:
        import PIL  # noqa: F401
    except ImportError as e:
        raise ImportError("decoding the CIFAR-10 JPEG copy needs Pillow: pip install pillow") from e
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([sys.executable, script, out_dir], check=True, stdout=subprocess.DEVNULL)
    return folder
