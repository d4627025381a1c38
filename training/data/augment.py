"""Batch augmentation on uint8 tensors: random crop (zero padding) + horizontal flip, vectorized."""
import torch


def augment(x, generator, padding=4, flip=True):
    """Random crop of the original size from the image padded with `padding` zero pixels on each
    side, then a horizontal flip with probability 1/2. x: uint8 (N, C, H, W) on any device.

    One gather for the whole batch (no per-image loop). Random draws come from `generator` (on its
    own device): the same seed gives the same batch on every run on one device type, but not the
    same batch on CPU and on CUDA (their generators produce different random streams).
    """
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"augment expects uint8 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    n, c, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    flips = torch.rand(n, generator=generator, device=gdev).to(x.device) < 0.5 if flip else \
        torch.zeros(n, dtype=torch.bool, device=x.device)
    return crop_flip(x, dy, dx, flips, padding)


def crop_flip(x, dy, dx, flips, padding=4):
    """The views (dy, dx, flips) of the uint8 batch x: rows dy.. and columns dx.. of the image padded
    with `padding` zero pixels on each side, mirrored where flips is True (augment's draws, or the
    fixed views of teacher_views.py). dy, dx: int tensors in [0, 2 * padding], one per image."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))  # zeros
    rows = dy[:, None] + torch.arange(h, device=x.device)          # (N, H)
    cols = torch.arange(w, device=x.device).expand(n, w)
    cols = torch.where(flips[:, None], cols.flip(1), cols) + dx[:, None]  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]      # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()
