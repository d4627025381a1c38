"""Core-set (Sener & Savarese 2018): greedy k-center on the student's z features.

The labeled set is the initial set of centers; each step picks the candidate farthest from its
nearest center. Distances are computed in batches so memory is O(batch * labeled), not O(N^2).
"""
import numpy as np
import torch

from .base import check_request, student_embedding


def min_distances(points: torch.Tensor, centers: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """For each point, the squared Euclidean distance to its nearest center (float64)."""
    out = torch.full((len(points),), float("inf"), dtype=torch.float64)
    for s in range(0, len(centers), batch):
        d = torch.cdist(points.double(), centers[s:s + batch].double()).pow(2)
        out = torch.minimum(out, d.min(1).values)
    return out


def k_center_greedy(points: torch.Tensor, centers: torch.Tensor, budget: int) -> np.ndarray:
    """Positions (into `points`) of `budget` greedy k-center picks."""
    if budget > len(points) or (len(centers) and centers.shape[1] != points.shape[1]):
        raise ValueError(f"k-center: budget {budget} for {len(points)} points, feature sizes "
                         f"{tuple(points.shape[1:])} vs centers {tuple(centers.shape[1:])}")
    dist = min_distances(points, centers) if len(centers) else torch.full((len(points),), float("inf"), dtype=torch.float64)
    picks = []
    p64 = points.double()
    for _ in range(budget):
        # argmax returns the first maximum: deterministic. Picked points have distance 0.
        i = int(torch.argmax(dist))
        picks.append(i)
        dist = torch.minimum(dist, (p64 - p64[i]).pow(2).sum(1))
        dist[i] = -1.0  # never pick twice, even among duplicate images
    return np.asarray(picks, dtype=np.int64)


def select_coreset(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    feats = student_embedding(ctx, cand)
    centers = student_embedding(ctx, np.asarray(ctx.labeled, dtype=np.int64))
    return cand[k_center_greedy(feats, centers, budget)]
