"""Seeded random but realistic int8 models and images for tests, fuzz seeds and benchmarks.

One concept per module, each importing only those above it:
    images.py   random_images: structured synthetic uint8 images
    builder.py  ModelBuilder (layers, weights, calibration through the oracle), build_with_identity_head
    archs.py    ARCHS and random_model: the architecture zoo (tiny, VGG11-lite, AlexNet-lite)
    scores.py   pick_scores: the oracle's ranking keys of picked images (rank_pool's scores' ground truth)

    b = ModelBuilder((9, 7, 2), seed=3)
    b.conv2d(5, kernel=(5, 3), stride=(2, 2), pad=(2, 1, 1, 0))
    b.fc(4, head="logits")
    spec = b.build()
"""
from .archs import ARCHS, random_model
from .builder import CIFAR_MEAN, CIFAR_STD, ModelBuilder, build_with_identity_head
from .images import random_images

__all__ = ["random_images", "ModelBuilder", "build_with_identity_head", "CIFAR_MEAN", "CIFAR_STD",
           "ARCHS", "random_model"]
