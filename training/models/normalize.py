"""Per-channel input normalization kept inside the model as buffers.

Every model here takes raw pixels / 255 (float NCHW in [0, 1]) and normalizes itself, so the
statistics travel with the weights (state_dict) and the int8 exporter can turn them into the
file's input lookup table.
"""
import torch
from torch import nn

# CIFAR-10 training-set statistics in [0, 1] pixel units.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class NormalizedInput(nn.Module):
    """Base class: holds `mean` and `std` buffers of shape (C,) and normalizes NCHW input."""

    def __init__(self, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__()
        mean_t, std_t = _stats_tensor(mean, "mean"), _stats_tensor(std, "std")
        if mean_t.shape != std_t.shape:
            raise ValueError(f"mean has {mean_t.numel()} channels but std has {std_t.numel()}")
        if not bool((std_t > 0).all()):
            raise ValueError(f"std must be > 0 in every channel, got {std_t.tolist()}")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def set_normalization(self, mean, std):
        """Replace the statistics in place (e.g. with a dataset's own)."""
        mean_t, std_t = _stats_tensor(mean, "mean"), _stats_tensor(std, "std")
        if mean_t.shape != self.mean.shape or std_t.shape != self.std.shape:
            raise ValueError(f"expected {self.mean.numel()} channels, got mean {mean_t.numel()}, "
                             f"std {std_t.numel()}")
        if not bool((std_t > 0).all()):
            raise ValueError(f"std must be > 0 in every channel, got {std_t.tolist()}")
        self.mean.copy_(mean_t)
        self.std.copy_(std_t)
        return self

    def normalize(self, x):
        if x.dim() != 4 or x.shape[1] != self.mean.numel():
            raise ValueError(f"expected float input (N, {self.mean.numel()}, H, W) in [0, 1], "
                             f"got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"expected float input in [0, 1] (pixels / 255), got dtype {x.dtype}")
        mean = self.mean.to(x.dtype).view(1, -1, 1, 1)
        std = self.std.to(x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std


def _stats_tensor(values, name):
    t = torch.as_tensor(values, dtype=torch.float32).reshape(-1).clone()
    if t.numel() == 0 or not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be a non-empty list of finite floats, got {values!r}")
    return t
