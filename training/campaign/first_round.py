"""`fdal cycle pick --first typicality`: round 1 without a student, by TypiClust's typicality over
the teacher's embedding (strategies/typiclust.py's TPC-RP with no labeled images: k clusters,
the most typical image of each), on at most `cap` seeded candidates of the unlabeled pool."""
from __future__ import annotations

import numpy as np
import torch

BATCH = 500


@torch.no_grad()
def teacher_features(teacher, pixels, indices) -> np.ndarray:
    from fdal.training.data import nhwc_pixels_to_unit_float
    out = [teacher(nhwc_pixels_to_unit_float(pixels.images(indices[s:s + BATCH])))[0].flatten(1).float().numpy()
           for s in range(0, len(indices), BATCH)]
    return np.concatenate(out)


def typicality_picks(state: dict, pixels, available: np.ndarray, k: int, cap: int) -> np.ndarray:
    from fdal.training.strategies.clustering import unit_rows
    from fdal.training.strategies.typiclust import typiclust_picks
    from fdal.training.teacher import load_teacher
    seed = int(state["seed"])
    cand = available
    if len(cand) > cap:
        cand = np.sort(np.random.default_rng([seed, 2]).choice(available, size=cap, replace=False))
    teacher = load_teacher(state["teacher"])
    feats = unit_rows(teacher_features(teacher, pixels, cand))
    return cand[typiclust_picks(feats, 0, k, seed)]
