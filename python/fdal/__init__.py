"""fdal: FDAL active learning on small devices — int8 export, a C++ int8 runtime, pool ranking.

    import fdal
    model = fdal.load("student.fdal")
    out = model.forward(images)                     # uint8 (N, H, W, C)
    idx = fdal.rank_pool(model, pool, k, strategy="fdal")
"""
from .format import FormatError
from .runtime import Model, kernel_paths, load, rank_pool
from .strategies import STRATEGIES

__version__ = "0.1.0"
__all__ = ["FormatError", "Model", "STRATEGIES", "kernel_paths", "load", "rank_pool", "__version__"]
