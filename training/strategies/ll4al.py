"""Learning Loss for Active Learning (Yoo & Kweon, CVPR 2019).

A loss-prediction module (models.LossNet) reads the outputs of the student's blocks, after each
block's ReLU and pooling (StudentBase.forward_blocks), as the original reads its ResNet-18's four
stage outputs. It is trained during the cycle with the margin ranking loss on pairs of samples;
selection takes the largest predicted loss.
"""
import torch

from .base import check_request, forward_pool, highest, trained_models


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
    pred = forward_pool(ctx, cand, lambda x: lossnet(student.forward_blocks(x)[2]))
    return highest(pred.numpy(), cand, budget)
