"""Deterministic CUDA training: FdalConfig.deterministic, `fdal al --deterministic`.

On the CPU a seeded run is already reproducible. On CUDA, cuDNN's autotuner (benchmark), TF32
matmuls and convolutions, and kernels that accumulate with atomic adds make two runs with the same
seed differ. enable_deterministic() switches those off for the whole process (the selection's
forward passes after training included) and is not undone.

Ops with no deterministic CUDA implementation warn instead of failing (warn_only=True): the
student's AdaptiveAvgPool2d backward is one, so a CUDA run is as deterministic as PyTorch allows,
and the warnings name what is not. A seeded run on CUDA still differs from the same seed on the CPU:
the two generators produce different random streams (data/augment.py).
"""
import os

import torch


def enable_deterministic() -> None:
    """cuDNN deterministic, cuDNN benchmark off, TF32 off, torch.use_deterministic_algorithms(True,
    warn_only=True). Call it before the process's first CUDA matmul: cuBLAS reads its workspace
    setting (needed for deterministic results) once."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
