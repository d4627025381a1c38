"""A small generated image dataset for tests and the no-download quickstart.

Each class is a (shape, colour, stripe texture) triple; every image jitters position, size,
colour and background and adds noise, so a CNN must learn shape and texture, not one pixel.
"""
import math

import torch

from .dataset import make_dataset

SHAPES = ("disk", "square", "ring", "cross", "diamond")


def make_synthetic(num_classes=10, n_train=2000, n_test=500, seed=0, image_size=32):
    """Deterministic for a given seed. Classes are balanced (round-robin labels)."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if n_train < num_classes or n_test < 0:
        raise ValueError(f"need n_train >= num_classes and n_test >= 0, got {n_train}, {n_test}")
    g = torch.Generator().manual_seed(seed)
    protos = _prototypes(num_classes, g)
    train_x, train_y = _render(n_train, protos, image_size, g)
    test_x, test_y = _render(n_test, protos, image_size, g)
    classes = [f"{SHAPES[c % len(SHAPES)]}-{c // len(SHAPES)}" for c in range(num_classes)]
    ds = make_dataset("synthetic", train_x, train_y, test_x, test_y, classes)
    return ds


def _prototypes(num_classes, g):
    return {
        "shape": torch.arange(num_classes) % len(SHAPES),
        "colour": 0.25 + 0.65 * torch.rand(num_classes, 3, generator=g),
        "angle": torch.rand(num_classes, generator=g) * math.pi,
        "freq": 0.6 + 0.9 * torch.rand(num_classes, generator=g),
    }


def _render(n, p, size, g):
    num_classes = p["shape"].shape[0]
    y = torch.arange(n) % num_classes
    y = y[torch.randperm(n, generator=g)]
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    cx = size / 2 + (r(n) - 0.5) * 10
    cy = size / 2 + (r(n) - 0.5) * 10
    radius = size * (0.22 + 0.12 * r(n))
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    u = (xx[None] - cx[:, None, None]) / radius[:, None, None]  # (N, H, W)
    v = (yy[None] - cy[:, None, None]) / radius[:, None, None]
    d = (u * u + v * v).sqrt()
    masks = torch.stack([
        d <= 1.0,                                                                   # disk
        torch.maximum(u.abs(), v.abs()) <= 0.8,                                     # square
        (d >= 0.55) & (d <= 1.0),                                                   # ring
        ((u.abs() <= 0.3) & (v.abs() <= 1)) | ((v.abs() <= 0.3) & (u.abs() <= 1)),  # cross
        u.abs() + v.abs() <= 1.0,                                                   # diamond
    ])  # (5, N, H, W)
    mask = masks[p["shape"][y], torch.arange(n)].float()[:, None]                   # (N, 1, H, W)
    angle, freq = p["angle"][y][:, None, None], p["freq"][y][:, None, None]
    phase = r(n)[:, None, None] * 2 * math.pi
    stripes = 0.5 + 0.5 * torch.sin(freq * (angle.cos() * xx + angle.sin() * yy) + phase)
    fg = (p["colour"][y] + (r(n, 3) - 0.5) * 0.3)[:, :, None, None] * (0.6 + 0.4 * stripes[:, None])
    bg = (r(n, 3) * 0.7)[:, :, None, None].expand(n, 3, size, size)
    img = bg * (1 - mask) + fg * mask + 0.08 * torch.randn(n, 3, size, size, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8), y
