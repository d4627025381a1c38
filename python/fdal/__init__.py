"""fdal: FDAL active learning on small devices — int8 export, a C++ int8 runtime, pool ranking.

    import fdal
    model = fdal.load("student.fdal")
    out = model.forward(images)                     # uint8 (N, H, W, C)
    idx = fdal.rank_pool(model, pool, k, strategy="fdal")
    part = fdal.rank_shard(model, pool, k, shard=(i, m)); fdal.merge_topk(parts, k)   # docs/scale-out.md
"""
from importlib.metadata import PackageNotFoundError, version

from .format import FormatError
from .merge import merge_topk
from .part import load_part
from .runtime import Model, kernel_paths, load, rank_pool
from .shard import rank_shard
from .strategies import STRATEGIES

try:
    # pyproject.toml's [project].version is the one source; CMake gets it from scikit-build-core.
    __version__ = version("fdal")
except PackageNotFoundError:  # pragma: no cover - run from a source tree that was never installed
    __version__ = "0+unknown"
__all__ = ["FormatError", "Model", "STRATEGIES", "kernel_paths", "load", "load_part", "merge_topk", "rank_pool",
           "rank_shard", "__version__"]
