"""BADGE (Ash et al., ICLR 2020): k-means++ seeding on gradient embeddings.

A candidate's gradient embedding is the gradient of the cross-entropy at the student's own
predicted label w.r.t. the last linear layer's weights: (onehot(argmax p) - p) outer h, with p the
softmax and h the input of that layer (for VGG11-lite the 512-d activation after the ReLU). The
picks are k-means++ seeds over these embeddings, as JordanAsh/badge's init_centers: the first is
the embedding of largest norm, each next one is drawn with probability proportional to its squared
distance to the nearest pick so far (seeded by the strategy's `seed`).

Like the original's current code (the speed-up of Zhang et al., arXiv 2306.09910, appendix D) the
N x (D*C) embeddings are never formed: <g_i, g_j> = <a_i, a_j> <h_i, h_j> with a = onehot - p, so
each step costs O(N (C + D)) time and memory.
"""
import numpy as np
import torch

from .base import check_request, penultimate_and_logits

# Squared distances below this fraction of the two squared norms are rounding error of the
# factored form (a point equal to a pick), taken as 0: such a point is never drawn.
_RELATIVE_ZERO = 1e-10


def gradient_factors(penultimate: torch.Tensor, logits: torch.Tensor):
    """(a, h): float64 numpy factors of the gradient embeddings g = a outer h, a = onehot(argmax) - p."""
    p = torch.softmax(logits.double(), dim=1)
    a = -p
    a[torch.arange(len(p)), p.argmax(1)] += 1.0
    return a.numpy(), penultimate.double().numpy()


def kmeans_pp_seeds(a: np.ndarray, h: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Positions of `budget` k-means++ seeds over the embeddings a_i outer h_i (init_centers).

    Departure: the original divides by zero when every unpicked embedding equals a pick (all
    D^2 = 0); then the next pick is drawn uniformly from the unpicked ones.
    """
    n = len(a)
    if not 1 <= budget <= n:
        raise ValueError(f"BADGE: budget {budget} for {n} embeddings")
    rng = np.random.default_rng(seed)
    a_sq, h_sq = (a * a).sum(1), (h * h).sum(1)
    norm_sq = a_sq * h_sq
    picks = [int(np.argmax(norm_sq))]  # the largest-norm embedding (first one on ties)
    chosen = np.zeros(n, dtype=bool)
    chosen[picks[0]] = True
    d2 = np.full(n, np.inf)
    while len(picks) < budget:
        c = picks[-1]
        to_c = norm_sq + norm_sq[c] - 2.0 * (a @ a[c]) * (h @ h[c])
        to_c[to_c <= _RELATIVE_ZERO * (norm_sq + norm_sq[c])] = 0.0
        d2 = np.minimum(d2, to_c)
        d2[chosen] = 0.0
        total = d2.sum()
        if total > 0:
            nxt = int(rng.choice(n, p=d2 / total))
        else:
            nxt = int(rng.choice(np.flatnonzero(~chosen)))
        picks.append(nxt)
        chosen[nxt] = True
    return np.asarray(picks, dtype=np.int64)


def select_badge(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    a, h = gradient_factors(*penultimate_and_logits(ctx, cand))
    return cand[kmeans_pp_seeds(a, h, budget, seed)]
