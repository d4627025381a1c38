"""The campaign's pool as the Dataset that student_training.train_cycle trains on, without a float
copy and without loading the pool into memory: train_x is a view over the uint8 NHWC pool
(fdal.campaign.pixel_cache: a memmap of the decoded files, or the .npy pools themselves) that
gathers the rows a batch asks for as a contiguous uint8 NCHW tensor. Labels of unlabeled images are
-1 (train_cycle reads only the labeled ones).

The held-out folder (--heldout DIR: DIR/<class name>/<images>) is decoded by
fdal.image_folder.decode as well, the decoder the device's ranking uses.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from fdal.training.data.dataset import Dataset, channel_stats


class PoolView:
    """uint8 (N, C, H, W) rows of a fdal.campaign.pixel_cache.PoolPixels, gathered per request."""

    def __init__(self, pixels, device="cpu"):
        self.pixels = pixels
        self.device = torch.device(device)
        h, w, c = pixels.shape
        self.shape = torch.Size((len(pixels), c, h, w))

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            idx = np.arange(*idx.indices(len(self)))
        elif isinstance(idx, torch.Tensor):
            idx = idx.cpu().numpy()
        rows = self.pixels.images(np.asarray(idx, dtype=np.int64).reshape(-1))
        return torch.from_numpy(np.ascontiguousarray(rows.transpose(0, 3, 1, 2))).to(self.device)


def campaign_dataset(pixels, classes, labels_by_index: dict, device="cpu") -> Dataset:
    """A Dataset over the whole pool: labels_by_index {pool index: class index}; mean and std are
    the pool's channel statistics (as a loader computes them over its training split)."""
    view = PoolView(pixels, device)
    y = torch.full((len(pixels),), -1, dtype=torch.int64)
    if labels_by_index:
        idx = torch.as_tensor(list(labels_by_index), dtype=torch.int64)
        y[idx] = torch.as_tensor(list(labels_by_index.values()), dtype=torch.int64)
    mean, std = channel_stats(view)
    empty = torch.zeros((0,) + tuple(view.shape[1:]), dtype=torch.uint8)
    return Dataset("campaign", view, y.to(device), empty, torch.zeros(0, dtype=torch.int64), list(classes), mean, std)


def load_heldout(folder: str, classes: list, image_shape) -> tuple:
    """(uint8 NHWC images, int64 labels, file paths) of DIR/<class name>/<images> (recursive per class)."""
    from fdal.image_folder import decode, list_images, NoImages
    subdirs = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    unknown = [d for d in subdirs if d not in classes]
    if unknown:
        raise ValueError(f"--heldout {folder}: folders {unknown} are not classes of this campaign "
                         f"({', '.join(classes)})")
    images, labels, paths = [], [], []
    for name in subdirs:
        try:
            files = list_images(os.path.join(folder, name))
        except NoImages:
            continue
        for path in files:
            arr = decode(path, image_shape)
            if arr is None:
                raise ValueError(f"--heldout: {path} cannot be read as an image")
            images.append(arr)
            labels.append(classes.index(name))
            paths.append(path)
    if not images:
        raise ValueError(f"--heldout {folder}: no images in <class name>/ subfolders")
    return np.stack(images), np.asarray(labels, dtype=np.int64), paths
