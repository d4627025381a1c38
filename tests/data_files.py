"""Tiny dataset files in the official layouts, written for the loader and CLI tests (importable
from any test module: pytest puts tests/ on sys.path for this folder's conftest.py)."""
import pickle

import numpy as np


def random_rows(rng, n):
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def dump_pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def write_cifar10(root, rng, n=4, bytes_keys=True):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    k = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = random_rows(rng, n), [int(v) for v in rng.integers(0, 10, n)]
        dump_pickle(folder / name, {k("data"): data, k("labels"): labels, k("batch_label"): k(name)})
        batches.append((data, labels))
    dump_pickle(folder / "batches.meta", {k("label_names"): [k(f"class{i}") for i in range(10)]})
    return batches
