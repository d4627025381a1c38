"""Teacher outputs computed once per (image, augmentation view), for FdalConfig.teacher_views = K > 0.

Today's recipe (K = 0) draws a fresh random crop + flip of every labeled image at every step and
runs the frozen teacher on it: 30 epochs x (500 + 1,000 + 1,500 + 2,000) = 150,000 teacher
forwards per cpu-research trial, a third of a kd step. With K views, each pool image has K FIXED
views (crop offsets and flip drawn from a generator seeded by (seed, image index), so they do not
depend on which cycle or batch first needs them), a training step draws one of its K views per
image, and the student trains on that view and distils from the teacher's outputs for that view.
Those outputs are computed the first time the image is needed and kept for the rest of the trial
(at most 2,000 images x K in a cpu-research trial).

Why this is exact for what it computes: the teacher is frozen and in eval mode (no dropout, fixed
BatchNorm statistics), so its output for a given view is a fixed function of the view (the views
of a batch's new images go through the teacher together; its eval forward gave bit-identical
outputs for an image at batch sizes 8 to 512 on the EPYC, so a resumed run, whose batches meet
new images in other company, reproduces an uninterrupted one there: tests/training). What
changes against K = 0 is the augmentation: K views per image instead of a fresh one of the
(2 * 4 + 1)^2 x 2 = 162 possible views at every step. That is a recipe change (a new preset name).
"""
from __future__ import annotations

import numpy as np
import torch

from fdal.training.data.augment import crop_flip


class TeacherViews:
    def __init__(self, teacher: torch.nn.Module, train_x: torch.Tensor, views: int, seed: int,
                 padding: int = 4, augment: bool = True):
        if views < 1:
            raise ValueError(f"teacher views must be >= 1, got {views}")
        self.teacher, self.train_x, self.views, self.seed = teacher, train_x, views, seed
        self.padding = padding if augment else 0
        self.augment = augment
        self.row = torch.full((len(train_x),), -1, dtype=torch.int64)  # image -> row of the store
        self.filled = 0
        self.params = self.feature = self.logits = None  # (rows, K, ...) stores, grown on demand
        self.forwards = 0  # teacher images computed so far (for tests and the profile)

    def _views_of(self, index: int) -> torch.Tensor:
        """(K, 3) int64: dy, dx, flip of image `index`'s K views, seeded by (seed, index)."""
        if not self.augment:
            return torch.zeros(self.views, 3, dtype=torch.int64)
        rng = np.random.default_rng([self.seed, 3, index])
        crop = rng.integers(0, 2 * self.padding + 1, size=(self.views, 2))
        flip = rng.random(self.views) < 0.5
        return torch.as_tensor(np.column_stack([crop, flip]), dtype=torch.int64)

    def _view_images(self, index_per_view: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        x = self.train_x[index_per_view.to(self.train_x.device)]
        p = params.to(x.device)
        return crop_flip(x, p[:, 0], p[:, 1], p[:, 2].bool(), self.padding)

    def _grow(self, need: int, feature: torch.Tensor, logits: torch.Tensor) -> None:
        cap = 0 if self.params is None else len(self.params)
        if need <= cap:
            return
        new_cap = max(need, 2 * cap, 64)

        def grown(old, shape, dtype, device):
            out = torch.zeros((new_cap, self.views, *shape), dtype=dtype, device=device)
            if old is not None:
                out[:cap] = old
            return out
        self.params = grown(self.params, (3,), torch.int64, "cpu")
        self.feature = grown(self.feature, feature.shape[1:], feature.dtype, feature.device)
        self.logits = grown(self.logits, logits.shape[1:], logits.dtype, logits.device)

    @torch.no_grad()
    def _fill(self, indices: torch.Tensor) -> None:
        from fdal.training.data import pixels_to_unit_float
        missing = torch.unique(indices.cpu())
        missing = missing[self.row[missing] < 0]
        if len(missing) == 0:
            return
        params = torch.cat([self._views_of(i) for i in missing.tolist()])           # (M * K, 3)
        x = self._view_images(missing.repeat_interleave(self.views), params)
        feature, logits = self.teacher(pixels_to_unit_float(x))
        m = len(missing)
        self._grow(self.filled + m, feature, logits)
        rows = slice(self.filled, self.filled + m)
        self.params[rows] = params.view(m, self.views, 3)
        self.feature[rows] = feature.view(m, self.views, *feature.shape[1:])
        self.logits[rows] = logits.view(m, self.views, *logits.shape[1:])
        self.row[missing] = torch.arange(self.filled, self.filled + m)
        self.filled += m
        self.forwards += m * self.views

    def batch(self, indices: torch.Tensor, generator: torch.Generator, timer=None):
        """(uint8 views, teacher feature, teacher logits) of `indices`, one view drawn per image
        with `generator`; the teacher runs only for images seen for the first time."""
        if timer is None:
            self._fill(indices)
        else:
            with timer.phase("teacher"):
                self._fill(indices)
        rows = self.row[indices.cpu()]
        pick = torch.randint(0, self.views, (len(indices),), generator=generator,
                             device=generator.device).cpu()
        x = self._view_images(indices.cpu(), self.params[rows, pick])
        dev_rows, dev_pick = rows.to(self.feature.device), pick.to(self.feature.device)
        return (x.to(indices.device), self.feature[dev_rows, dev_pick], self.logits[dev_rows, dev_pick])
