"""TypiClust, the TPC-RP variant (Hacohen et al., ICML 2022): the most typical point of each of
the clusters that hold the fewest labeled points.

As avihu111/TypiClust deep-al/pycls/al/typiclust.py: the L2-normalized embeddings of the labeled
images and the candidates are clustered into min(|L| + budget, MAX_NUM_CLUSTERS) clusters
(clustering.kmeans_labels). Clusters of MIN_CLUSTER_SIZE points or fewer are dropped (the
original keeps size > 5); the rest are ordered ONCE by their labeled count (fewest first), then
by size (largest first), then by cluster id, and visited round robin, one pick per visit. Each
visit takes the cluster's most typical point among its candidates not yet picked: typicality =
1 / (mean SQUARED distance to its k nearest such points + 1e-5) (the original's faiss IndexFlatL2
returns squared distances), k = min(K_NN, m // 2) for m such points; a lone point is taken.

Embedding: base.pretrained_embedding (the teacher's feature when the run has one, else the
student's z); the original's is SimCLR's. Departures where the original fails (an empty visit
order, or a visited cluster with no candidate left, both crash it): a cluster with no candidate
left is passed over, and once every kept cluster is used up the dropped small ones join the
rotation in the same order, so the budget is always met.
"""
import numpy as np

from .base import check_request, pretrained_embedding
from .clustering import kmeans_labels, squared_distances, unit_rows

MAX_NUM_CLUSTERS = 500
MIN_CLUSTER_SIZE = 5
K_NN = 20
_ROWS = 1024  # distance rows per batch
EMBEDDING = "base.pretrained_embedding: the teacher's 512-d feature if the run has a teacher, else the student's z"


def typicality(features: np.ndarray) -> np.ndarray:
    """1 / (mean squared distance to the k = min(K_NN, n // 2) nearest other points + 1e-5);
    all ones for a single point (its k is 0)."""
    n = len(features)
    k = min(K_NN, n // 2)
    if k == 0:
        return np.ones(n)
    mean_d2 = np.empty(n)
    for s in range(0, n, _ROWS):  # memory O(_ROWS * n) however large the cluster
        d2 = squared_distances(features[s:s + _ROWS], features)
        d2[np.arange(len(d2)), np.arange(s, s + len(d2))] = np.inf  # the self match the original drops
        mean_d2[s:s + _ROWS] = np.partition(d2, k - 1, axis=1)[:, :k].mean(1)
    return 1.0 / (mean_d2 + 1e-5)


def visit_order(clusters: np.ndarray, n_labeled: int):
    """(the kept cluster ids in the original's order, the dropped small ones in the same order)."""
    ids, sizes = np.unique(clusters, return_counts=True)
    labeled_counts = np.bincount(clusters[:n_labeled], minlength=ids.max() + 1)[ids]
    order = np.lexsort((ids, -sizes, labeled_counts))  # last key sorts first
    kept = [int(ids[i]) for i in order if sizes[i] > MIN_CLUSTER_SIZE]
    small = [int(ids[i]) for i in order if sizes[i] <= MIN_CLUSTER_SIZE]
    return kept, small


def typiclust_picks(features: np.ndarray, n_labeled: int, budget: int, seed: int) -> np.ndarray:
    """Positions (into the candidate rows, features[n_labeled:]) of `budget` TPC-RP picks.
    `features`: the labeled rows first, then the candidates', already normalized."""
    n_cand = len(features) - n_labeled
    if not 1 <= budget <= n_cand:
        raise ValueError(f"TypiClust: budget {budget} for {n_cand} candidates")
    clusters = kmeans_labels(features, min(n_labeled + budget, MAX_NUM_CLUSTERS), seed)
    free = clusters.copy()
    free[:n_labeled] = -1  # labeled and picked points are marked -1, as in the original
    kept, small = visit_order(clusters, n_labeled)
    rotation, turn, passed = kept, 0, 0
    picks = []
    while len(picks) < budget:
        if passed == len(rotation):  # every cluster of this rotation is used up
            rotation, turn, passed = kept + small, 0, 0
        cluster = rotation[turn % len(rotation)]
        turn += 1
        members = np.flatnonzero(free == cluster)
        if len(members) == 0:
            passed += 1
            continue
        passed = 0
        best = int(members[np.argmax(typicality(features[members]))])
        picks.append(best - n_labeled)
        free[best] = -1
    return np.asarray(picks, dtype=np.int64)


def select_typiclust(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    labeled = np.asarray(ctx.labeled, dtype=np.int64)
    feats, _source = pretrained_embedding(ctx, np.concatenate([labeled, cand]))
    return cand[typiclust_picks(unit_rows(feats.numpy()), len(labeled), budget, seed)]
