"""The architecture zoo: seeded, calibrated random models shaped like the networks fdal deploys."""
from __future__ import annotations

from ..format import ModelSpec
from .builder import ModelBuilder

ARCHS = ("tiny", "vgg11_lite", "vgg11_lite_upsample", "alexnet_lite")


def _vgg11_lite(b: ModelBuilder, num_classes: int, with_sampler: bool, upsample: bool) -> None:
    b.conv2d(16, (3, 3), pad=(1, 1, 1, 1))
    b.maxpool((4, 4))
    b.conv2d(32, (3, 3), pad=(1, 1, 1, 1))
    b.maxpool((2, 2))
    b.conv2d(64, (3, 3), pad=(1, 1, 1, 1))
    z = b.maxpool((2, 2))
    if upsample:
        b.upsample((2, 2))  # AdaptiveAvgPool(4, 4) on a 2x2 map, unfolded
    classifier_in = b.flatten()
    b.fc(512)
    b.fc(num_classes, head="logits")
    if with_sampler:
        feat = b.flatten(input=z) if upsample else classifier_in  # the sampler reads the 256 features
        b.fc(64, input=feat)
        b.fc(1, head="score")


def _alexnet_lite(b: ModelBuilder, num_classes: int, with_sampler: bool) -> None:
    b.conv2d(24, (5, 5), stride=(2, 2), pad=(2, 2, 2, 2), relu=False)
    b.relu()
    b.maxpool((3, 3), stride=(2, 2), pad=(1, 1, 1, 1))
    b.conv2d(48, (3, 3), pad=(1, 1, 1, 1))
    b.conv2d(32, (3, 2), pad=(1, 0, 1, 1))  # asymmetric kernel and padding
    b.avgpool((2, 2))
    feat = b.flatten()
    b.fc(128)
    b.fc(num_classes, head="logits")
    if with_sampler:
        b.fc(32, input=feat)
        b.fc(1, head="score")


def _tiny(b: ModelBuilder, num_classes: int, with_sampler: bool) -> None:
    feat = b.conv2d(4, (3, 3), pad=(1, 1, 1, 1))
    b.fc(num_classes, head="logits", input=feat)
    if with_sampler:
        b.fc(1, head="score", input=feat)


def random_model(seed: int, arch: str = "vgg11_lite", num_classes: int = 10, with_sampler: bool = True,
                 input_shape=(32, 32, 3), n_calibration: int = 256) -> ModelSpec:
    """A seeded, calibrated random model of one of ARCHS."""
    b = ModelBuilder(input_shape, seed=seed)
    if arch == "vgg11_lite":
        _vgg11_lite(b, num_classes, with_sampler, upsample=False)
    elif arch == "vgg11_lite_upsample":
        _vgg11_lite(b, num_classes, with_sampler, upsample=True)
    elif arch == "alexnet_lite":
        _alexnet_lite(b, num_classes, with_sampler)
    elif arch == "tiny":
        _tiny(b, num_classes, with_sampler)
    else:
        raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
    return b.build(n_calibration=n_calibration)
