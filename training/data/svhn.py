"""SVHN cropped digits: train_32x32.mat and test_32x32.mat (MATLAB files, read with scipy)."""
import os

import numpy as np

from .dataset import make_dataset
from .download import fetch
from .errors import DatasetFilesMissing

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
SVHN_FILES = ["train_32x32.mat", "test_32x32.mat"]


def load_svhn(data_dir, download=False):
    # Files may sit in DATA_DIR itself or in DATA_DIR/svhn.
    candidates = [data_dir, os.path.join(data_dir, "svhn")]
    folder = next((c for c in candidates if all(os.path.isfile(os.path.join(c, f)) for f in SVHN_FILES)),
                  data_dir)
    missing = [f for f in SVHN_FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing and download:
        for f in missing:
            fetch(SVHN_URL + f, os.path.join(folder, f))
        missing = []
    if missing:
        raise DatasetFilesMissing("SVHN", folder, missing, SVHN_URL + "{train,test}_32x32.mat",
                                  hint=f"(also accepted under {os.path.join(data_dir, 'svhn')})")
    loadmat = _loadmat()
    train_x, train_y = _read_mat(loadmat, os.path.join(folder, SVHN_FILES[0]))
    test_x, test_y = _read_mat(loadmat, os.path.join(folder, SVHN_FILES[1]))
    return make_dataset("svhn", train_x, train_y, test_x, test_y, [str(d) for d in range(10)])


def _loadmat():
    try:
        from scipy.io import loadmat
    except ImportError as e:
        raise ImportError("reading SVHN .mat files needs scipy: pip install scipy") from e
    return loadmat


def _read_mat(loadmat, path):
    mat = loadmat(path)
    if "X" not in mat or "y" not in mat:
        raise ValueError(f"{path}: expected variables 'X' (32, 32, 3, N) and 'y' (N, 1)")
    x = np.asarray(mat["X"], dtype=np.uint8)
    if x.ndim != 4 or x.shape[2] != 3:
        raise ValueError(f"{path}: 'X' must be (H, W, 3, N), got {x.shape}")
    y = np.asarray(mat["y"], dtype=np.int64).reshape(-1)
    y = np.where(y == 10, 0, y)  # SVHN stores digit 0 as label 10
    return x.transpose(3, 2, 0, 1), y  # (H, W, C, N) -> (N, C, H, W)
