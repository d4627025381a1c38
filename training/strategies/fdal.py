"""FDAL selection: the candidates the sampler finds least "labeled"-like.

Ranked on the pre-sigmoid value (`Sampler.logit`), not the probability: same order, no ties from
saturation, and the int8 runtime ranks on the same quantity.
"""
from .base import check_request, forward_pool, lowest, trained_models


def select_fdal(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    student, sampler = trained_models(ctx, "fdal", student="the student", sampler="a sampler")
    scores = forward_pool(ctx, cand, lambda x: sampler.logit(student(x)[0]))
    return lowest(scores.numpy(), cand, budget)
