"""Teachers: VGG19 with BatchNorm (the paper's), and a small CPU-friendly one.

Both end in a (N, 512, 1, 1) feature map followed by Linear 512 -> C, so the Decoder is the same.
"""
from torch import nn

from .normalize import CIFAR10_MEAN, CIFAR10_STD, NormalizedInput

# The pooled 512-d feature is non-negative with a large norm: unscaled, the classifier diverged in
# the first steps at lr 0.05-0.1. Scaling the logits, as the fast-CIFAR ResNets do, fixes that;
# 0.25 learned faster than 0.125 on short runs. A saved teacher stores its own scale (teacher.py).
DEFAULT_LOGIT_SCALE = 0.25

ARCHS = {
    # VGG19: [64,64,M,128,128,M,256x4,M,512x4,M,512x4,M]; 32 -> 1 after five pools.
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
    # ~6.3M MACs: one conv per resolution, pooled early, so a CPU can train it in minutes;
    # BatchNorm and a one-cycle schedule make it learn far faster per epoch than the student.
    "small": [16, "M", 32, "M", 64, "M", 128, "M", 512, "M"],
}


def _vgg_blocks(cfg, in_channels=3):
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(in_channels, v, 3, padding=1, bias=False),
                       nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class Teacher(NormalizedInput):
    """forward(x) -> (feature (N, 512, 1, 1), logits (N, C)); x float NCHW in [0, 1], 32x32."""

    feature_channels = 512

    def __init__(self, num_classes=10, arch="vgg19", mean=CIFAR10_MEAN, std=CIFAR10_STD,
                 logit_scale=DEFAULT_LOGIT_SCALE):
        super().__init__(mean, std)
        if arch not in ARCHS:
            raise ValueError(f"unknown teacher arch {arch!r}; choose one of {sorted(ARCHS)}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        if not logit_scale > 0:
            raise ValueError(f"logit_scale must be > 0, got {logit_scale}")
        self.arch = arch
        self.num_classes = num_classes
        self.features = _vgg_blocks(ARCHS[arch])
        self.classifier = nn.Linear(512, num_classes)
        self.logit_scale = float(logit_scale)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        feature = self.features(self.normalize(x))  # (N, 512, 1, 1) for 32x32 input
        if feature.shape[2:] != (1, 1):
            raise ValueError(f"teacher expects 32x32 input, got {tuple(x.shape[2:])} "
                             f"(feature map {tuple(feature.shape[2:])})")
        return feature, self.classifier(feature.flatten(1)) * self.logit_scale
