"""What TypiClust and ProbCover share: unit-normalized features and the originals' k-means.

Both originals (avihu111/TypiClust, deep-al/pycls) load their embedding L2-normalized
(datasets/utils/features.py: load_features(normalized=True)) and cluster it with scikit-learn.
"""
import warnings

import numpy as np


def unit_rows(features) -> np.ndarray:
    """The rows scaled to unit L2 norm (float64); an all-zero row stays zero."""
    x = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def kmeans_labels(features: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Cluster labels (int64), as typiclust.py's kmeans(): KMeans for <= 50 clusters, else
    MiniBatchKMeans with batch 5000. Departures: seeded (the original is not), and n_init given
    explicitly as the scikit-learn defaults the original ran with (10 and 3; newer versions run 1)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    n_clusters = min(int(n_clusters), len(features))
    if n_clusters <= 50:
        km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed)
    else:
        km = MiniBatchKMeans(n_clusters=n_clusters, batch_size=5000, n_init=3, random_state=seed)
    with warnings.catch_warnings():
        # Duplicate images make fewer distinct clusters than asked: expected, not an error.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return km.fit_predict(np.asarray(features, dtype=np.float64)).astype(np.int64)


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, float64, clipped at 0."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)
