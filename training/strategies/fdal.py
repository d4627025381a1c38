"""FDAL selection: the candidates the sampler finds least "labeled"-like.

Ranked on the pre-sigmoid value (`Sampler.logit`), not the probability: same order, no ties from
saturation, and the int8 runtime ranks on the same quantity.
"""
from .base import check_request, forward_pool, lowest


def select_fdal(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    student, sampler = ctx.models.student, ctx.models.sampler
    if sampler is None:
        raise ValueError("fdal selection needs a sampler: train the cycle in 'fdal' mode")
    student.eval()
    sampler.eval()
    scores = forward_pool(ctx, cand, lambda x: sampler.logit(student(x)[0]))
    return lowest(scores.numpy(), cand, budget)
