"""The architecture zoo: seeded, calibrated random models shaped like the networks fdal deploys."""
from __future__ import annotations

from ..format import ModelSpec
from .builder import ModelBuilder

ARCHS = ("tiny", "vgg11_lite", "vgg11_lite_upsample", "alexnet_lite")
EMBEDDINGS = (None, "student", "decoder")
DECODER_CHANNELS = (256, 512)  # training/models/decoder.py: conv3x3 64->256, ReLU, conv3x3 256->512, ReLU, pool


def _decoder(b: ModelBuilder, z: int, channels) -> int:
    """The exported decoder branch reading z: two conv3x3 + ReLU, then a global average pool."""
    hidden, out = channels
    b.conv2d(hidden, (3, 3), pad=(1, 1, 1, 1), input=z)
    b.conv2d(out, (3, 3), pad=(1, 1, 1, 1))
    h, w, _ = b.output_shape()
    return b.avgpool((h, w))


def _vgg11_lite(b: ModelBuilder, num_classes: int, with_sampler: bool, upsample: bool) -> int:
    """Adds the layers; returns z (the last conv block's pool, the student's feature map)."""
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
    return z


def _alexnet_lite(b: ModelBuilder, num_classes: int, with_sampler: bool) -> int:
    b.conv2d(24, (5, 5), stride=(2, 2), pad=(2, 2, 2, 2), relu=False)
    b.relu()
    b.maxpool((3, 3), stride=(2, 2), pad=(1, 1, 1, 1))
    b.conv2d(48, (3, 3), pad=(1, 1, 1, 1))
    b.conv2d(32, (3, 2), pad=(1, 0, 1, 1))  # asymmetric kernel and padding
    z = b.avgpool((2, 2))
    feat = b.flatten()
    b.fc(128)
    b.fc(num_classes, head="logits")
    if with_sampler:
        b.fc(32, input=feat)
        b.fc(1, head="score")
    return z


def _tiny(b: ModelBuilder, num_classes: int, with_sampler: bool) -> int:
    feat = b.conv2d(4, (3, 3), pad=(1, 1, 1, 1))
    b.fc(num_classes, head="logits", input=feat)
    if with_sampler:
        b.fc(1, head="score", input=feat)
    return feat


def random_model(seed: int, arch: str = "vgg11_lite", num_classes: int = 10, with_sampler: bool = True,
                 input_shape=(32, 32, 3), n_calibration: int = 256, embedding=None,
                 decoder_channels=DECODER_CHANNELS) -> ModelSpec:
    """A seeded, calibrated random model of one of ARCHS. embedding: None (no embedding output),
    "student" (the feature map the sampler reads) or "decoder" (vgg11_lite only: a decoder branch
    of decoder_channels = (hidden, out) reading it, as training/models/decoder.py)."""
    if embedding not in EMBEDDINGS:
        raise ValueError(f"embedding must be one of {EMBEDDINGS}, got {embedding!r}")
    b = ModelBuilder(input_shape, seed=seed)
    if arch == "vgg11_lite":
        z = _vgg11_lite(b, num_classes, with_sampler, upsample=False)
    elif arch == "vgg11_lite_upsample":
        z = _vgg11_lite(b, num_classes, with_sampler, upsample=True)
    elif arch == "alexnet_lite":
        z = _alexnet_lite(b, num_classes, with_sampler)
    elif arch == "tiny":
        z = _tiny(b, num_classes, with_sampler)
    else:
        raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
    if embedding == "decoder":
        if not arch.startswith("vgg11_lite"):
            raise ValueError(f"embedding='decoder' needs a vgg11_lite arch (the decoder reads its 64-channel z), "
                             f"got {arch!r}")
        b.embedding(_decoder(b, z, decoder_channels))
    elif embedding == "student":
        b.embedding(z)
    return b.build(n_calibration=n_calibration)
