"""The in-memory Dataset every loader returns: uint8 NCHW images plus int64 labels."""
from dataclasses import dataclass, replace

import numpy as np
import torch


@dataclass
class Dataset:
    """train_x/test_x: uint8 (N, C, H, W); train_y/test_y: int64 (N,).
    mean/std: per-channel statistics of train_x in [0, 1] pixel units (pixel / 255)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list
    mean: tuple
    std: tuple

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def device(self):
        return self.train_x.device

    def to(self, device):
        """A copy with the four tensors on `device` (e.g. the whole set resident on the GPU)."""
        return replace(self, train_x=self.train_x.to(device), train_y=self.train_y.to(device),
                       test_x=self.test_x.to(device), test_y=self.test_y.to(device))

    def __repr__(self):
        return (f"Dataset({self.name!r}, train {tuple(self.train_x.shape)}, test {tuple(self.test_x.shape)}, "
                f"{self.num_classes} classes, device {self.device})")


def channel_stats(x_uint8):
    """Per-channel mean and std of uint8 NCHW images, in [0, 1] units, computed in float64 chunks."""
    c = x_uint8.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, x_uint8.shape[0], 4096):
        chunk = x_uint8[start:start + 4096].to(torch.float64)
        total += chunk.sum(dim=(0, 2, 3)).cpu()
        total_sq += (chunk * chunk).sum(dim=(0, 2, 3)).cpu()
    count = x_uint8.shape[0] * x_uint8.shape[2] * x_uint8.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(float(v) / 255.0 for v in mean), tuple(max(float(v) / 255.0, 1e-6) for v in std)


def make_dataset(name, train_x, train_y, test_x, test_y, classes):
    """Validate arrays from a loader and wrap them (numpy or torch in, torch out, on the CPU)."""
    train_x, test_x = _as_images(train_x, "train"), _as_images(test_x, "test")
    train_y, test_y = _as_labels(train_y, "train"), _as_labels(test_y, "test")
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: {split} has {x.shape[0]} images but {y.shape[0]} labels")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= len(classes)):
            raise ValueError(f"{name}: {split} labels must lie in [0, {len(classes) - 1}], "
                             f"got [{int(y.min())}, {int(y.max())}]")
    if train_x.shape[0] == 0:
        raise ValueError(f"{name}: the training split is empty")
    if train_x.shape[1:] != test_x.shape[1:] and test_x.shape[0]:
        raise ValueError(f"{name}: train images {tuple(train_x.shape[1:])} and test images "
                         f"{tuple(test_x.shape[1:])} differ in shape")
    mean, std = channel_stats(train_x)
    return Dataset(name, train_x, train_y, test_x, test_y, [str(c) for c in classes], mean, std)


def _as_images(x, split):
    x = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"{split} images must be uint8 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    return x.contiguous()


def _as_labels(y, split):
    y = torch.as_tensor(np.asarray(y)).reshape(-1).to(torch.int64)
    return y
