"""The shared interface of the acquisition strategies.

A strategy is `fn(ctx, candidates, budget, seed) -> np.ndarray[int64]`: `budget` distinct pool
indices, all from `candidates` (the cycle's random subset of the unlabeled pool), none labeled.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SelectionContext:
    """What a strategy may look at: the dataset (on `device`), the labeled pool indices, the
    models trained this cycle (a student_training.CycleModels) and the run's teacher, if any."""

    dataset: object
    labeled: np.ndarray
    models: object
    device: object = "cpu"
    batch_size: int = 1000
    # The run's teacher (eval mode) when it has one; TypiClust and ProbCover embed with it.
    teacher: object = None


def check_request(ctx: SelectionContext, candidates, budget: int) -> np.ndarray:
    """Validate a selection request; returns the candidates as int64."""
    cand = np.asarray(candidates)
    if cand.ndim != 1 or not (cand.size == 0 or np.issubdtype(cand.dtype, np.integer)):
        raise ValueError(f"candidates must be a 1-D integer array, got shape {cand.shape} dtype {cand.dtype}")
    cand = cand.astype(np.int64)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    if budget > len(cand):
        raise ValueError(f"budget {budget} exceeds the {len(cand)} candidates")
    if len(np.unique(cand)) != len(cand):
        raise ValueError("candidates contain duplicates")
    n = len(ctx.dataset.train_y)
    if cand.min() < 0 or cand.max() >= n:
        raise ValueError(f"candidates must index the pool [0, {n})")
    if np.intersect1d(cand, np.asarray(ctx.labeled, dtype=np.int64)).size:
        raise ValueError("candidates include already labeled images")
    return cand


def lowest(scores: np.ndarray, cand: np.ndarray, budget: int) -> np.ndarray:
    """The `budget` candidates with the lowest scores (ties: earlier candidate first)."""
    return cand[np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")[:budget]].astype(np.int64)


def highest(scores: np.ndarray, cand: np.ndarray, budget: int) -> np.ndarray:
    return lowest(-np.asarray(scores, dtype=np.float64), cand, budget)


def trained_models(ctx: SelectionContext, mode: str, **wanted: str) -> list:
    """The cycle's models named by `wanted` (attribute -> what it is, for the error), in eval mode
    and in the order given; a ValueError naming the training mode when one was not trained."""
    models = [getattr(ctx.models, name) for name in wanted]
    missing = [what for what, m in zip(wanted.values(), models) if m is None]
    if missing:
        raise ValueError(f"{mode} selection needs {' and '.join(missing)}: train the cycle in {mode!r} mode")
    for m in models:
        m.eval()
    return models


@torch.no_grad()
def forward_pool(ctx: SelectionContext, indices: np.ndarray, fn) -> torch.Tensor:
    """Apply `fn(x_float)` to pool images in batches (no augmentation); concatenates on CPU."""
    from fdal.training import data as fdata
    idx = torch.as_tensor(indices, dtype=torch.int64, device=ctx.dataset.train_x.device)
    outs = []
    for s in range(0, len(idx), ctx.batch_size):
        outs.append(fn(fdata.pixels_to_unit_float(ctx.dataset.train_x[idx[s:s + ctx.batch_size]])).float().cpu())
    return torch.cat(outs) if outs else torch.empty(0)


def student_logits(ctx: SelectionContext, indices: np.ndarray) -> torch.Tensor:
    student = ctx.models.student.eval()
    return forward_pool(ctx, indices, lambda x: student(x)[1])


def student_embedding(ctx: SelectionContext, indices: np.ndarray) -> torch.Tensor:
    """The student's z flattened: (N, 256) for VGG11-lite."""
    student = ctx.models.student.eval()
    return forward_pool(ctx, indices, lambda x: student(x)[0].flatten(1))


def penultimate_and_logits(ctx: SelectionContext, indices: np.ndarray):
    """(the input of the student's last nn.Linear, the logits), both (N, .) on CPU: for VGG11-lite
    the 512-d activation after the ReLU. Read with a forward hook, so any student works."""
    student = ctx.models.student.eval()
    linears = [m for m in student.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("the student has no nn.Linear layer to read the penultimate activation from")
    seen = []
    handle = linears[-1].register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    try:
        both = forward_pool(ctx, indices, lambda x: torch.cat([student(x)[1], seen.pop().flatten(1)], 1))
    finally:
        handle.remove()
    c = linears[-1].out_features
    return both[:, c:], both[:, :c]


# What TypiClust and ProbCover embed with: they call for a self-supervised embedding (SimCLR in
# the originals); the run's teacher stands in for it when there is one (docs/baselines.md).
PRETRAINED_EMBEDDINGS = {
    "teacher": "the teacher's 512-d feature (Teacher.forward()[0], flattened)",
    "student": "the student's z, flattened (256-d for VGG11-lite): no teacher in the context",
}


def pretrained_embedding(ctx: SelectionContext, indices: np.ndarray):
    """(features (N, D) on CPU, the PRETRAINED_EMBEDDINGS key used): the teacher's feature when
    the context has a teacher, else the student's z."""
    if ctx.teacher is None:
        return student_embedding(ctx, indices), "student"
    teacher = ctx.teacher.eval()
    return forward_pool(ctx, indices, lambda x: teacher(x)[0].flatten(1)), "teacher"
