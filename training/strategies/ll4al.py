"""Learning Loss for Active Learning (Yoo & Kweon, CVPR 2019).

A loss-prediction module (models.LossNet) reads the student's intermediate feature maps (the
outputs of its convolutions, captured with forward hooks so any student architecture works). It
is trained during the cycle with the margin ranking loss on pairs of samples; selection takes the
largest predicted loss.
"""
from contextlib import contextmanager

import torch
import torch.nn as nn

from .base import check_request, forward_pool, highest, trained_models


@contextmanager
def _capture_convs(model: nn.Module, sink: list):
    handles = [m.register_forward_hook(lambda _m, _i, o: sink.append(o))
               for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def conv_features(student: nn.Module, x: torch.Tensor):
    """Run the student; returns (z, logits, [conv outputs in call order])."""
    feats: list = []
    with _capture_convs(student, feats):
        z, logits = student(x)
    if not feats:
        raise ValueError("the student has no nn.Conv2d layers to read features from")
    return z, logits, feats


def loss_prediction_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """LL4AL's pairwise ranking loss: batch halves (i, N-1-i) form pairs; the predictor must order
    each pair like the true losses, by at least `margin`. An odd last sample is left out."""
    n = len(pred) - len(pred) % 2
    if n < 2:
        raise ValueError("the loss-prediction loss needs at least 2 samples")
    pred, target = pred[:n].float(), target[:n].detach().float()
    dp = (pred - pred.flip(0))[: n // 2]
    dt = (target - target.flip(0))[: n // 2]
    sign = 2 * torch.sign(torch.clamp(dt, min=0)) - 1
    return torch.clamp(margin - sign * dp, min=0).sum() / dp.shape[0]


def select_ll4al(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    student, lossnet = trained_models(ctx, "ll4al", student="the student", lossnet="a loss-prediction module")
    pred = forward_pool(ctx, cand, lambda x: lossnet(conv_features(student, x)[2]))
    return highest(pred.numpy(), cand, budget)
