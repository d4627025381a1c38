"""Uncertainty sampling on the student's softmax: highest entropy, smallest top-1/top-2 margin."""
import torch

from .base import check_request, highest, lowest, student_logits


def select_entropy(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    logp = torch.log_softmax(student_logits(ctx, cand).double(), dim=1)
    entropy = -(logp.exp() * logp).sum(1)
    return highest(entropy.numpy(), cand, budget)


def select_margin(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    p = torch.softmax(student_logits(ctx, cand).double(), dim=1)
    top2 = p.topk(2, dim=1).values
    return lowest((top2[:, 0] - top2[:, 1]).numpy(), cand, budget)
