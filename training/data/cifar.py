"""CIFAR-10 / CIFAR-100 from the official python layout (cifar-10-batches-py/, cifar-100-python/)."""
import os
import pickle
import warnings

import numpy as np

from .dataset import make_dataset
from .download import fetch_and_untar
from .errors import DatasetFilesMissing

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR100_FILES = ["train", "test"]


def load_cifar10(data_dir, download=False):
    folder = _folder(data_dir, "cifar-10-batches-py", CIFAR10_FILES, CIFAR10_URL, download, "CIFAR-10")
    train = [_read_batch(os.path.join(folder, f"data_batch_{i}"), "labels") for i in range(1, 6)]
    test_x, test_y = _read_batch(os.path.join(folder, "test_batch"), "labels")
    classes = _read_names(os.path.join(folder, "batches.meta"), "label_names", 10)
    return make_dataset("cifar10", np.concatenate([x for x, _ in train]),
                        np.concatenate([y for _, y in train]), test_x, test_y, classes)


def load_cifar100(data_dir, download=False):
    folder = _folder(data_dir, "cifar-100-python", CIFAR100_FILES, CIFAR100_URL, download, "CIFAR-100")
    train_x, train_y = _read_batch(os.path.join(folder, "train"), "fine_labels")
    test_x, test_y = _read_batch(os.path.join(folder, "test"), "fine_labels")
    classes = _read_names(os.path.join(folder, "meta"), "fine_label_names", 100)
    return make_dataset("cifar100", train_x, train_y, test_x, test_y, classes)


def _folder(data_dir, sub, files, url, download, title):
    # Accept both DATA_DIR and DATA_DIR/<sub> itself.
    folder = data_dir if os.path.basename(os.path.normpath(data_dir)) == sub else os.path.join(data_dir, sub)
    missing = [f for f in files if not os.path.isfile(os.path.join(folder, f))]
    if missing and download:
        fetch_and_untar(url, os.path.dirname(folder) or ".")
        missing = [f for f in files if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise DatasetFilesMissing(title, folder, [os.path.join(sub, f) for f in missing], url)
    return folder


def _unpickle(path):
    with open(path, "rb") as f, warnings.catch_warnings():
        # Official files are Python 2 pickles that name numpy.core (renamed in numpy 2).
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            obj = pickle.load(f, encoding="bytes")
        except Exception as e:
            raise ValueError(f"{path}: not a CIFAR python pickle ({e})") from e
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_batch(path, label_key):
    batch = _unpickle(path)
    for key in ("data", label_key):
        if key not in batch:
            raise ValueError(f"{path}: missing key {key!r} (has {sorted(batch)})")
    data = np.asarray(batch["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: 'data' must be (N, 3072) uint8 rows, got shape {data.shape}")
    labels = np.asarray(batch[label_key], dtype=np.int64).reshape(-1)
    if labels.shape[0] != data.shape[0]:
        raise ValueError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels")
    return data.reshape(-1, 3, 32, 32), labels  # rows are CHW planes


def _read_names(path, key, count):
    if os.path.isfile(path):
        names = _unpickle(path).get(key)
        if names is not None and len(names) == count:
            return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]
    return [str(i) for i in range(count)]
