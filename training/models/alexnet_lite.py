"""A small AlexNet-style student with the same contract as Student.

Built only from Conv2d / ReLU / MaxPool2d / Flatten / Linear, so the int8 format can hold it.
Larger kernels first, like AlexNet; z is (N, 64, 2, 2) so the same Decoder and Sampler apply.
"""
from torch import nn

from .normalize import CIFAR10_MEAN, CIFAR10_STD
from .student_base import StudentBase


class AlexNetLite(StudentBase):
    """conv5x5 3->32, ReLU, maxpool 2; conv3x3 32->64, ReLU, maxpool 2; conv3x3 64->96, ReLU;
    conv3x3 96->64, ReLU, maxpool 4 -> z (N, 64, 2, 2); flatten 256, Linear 256, ReLU, Linear C.
    Its blocks end at each maxpool: (conv5, ReLU, pool), (conv3, ReLU, pool), (conv3, ReLU, conv3, ReLU, pool)."""

    block_slices = (slice(0, 3), slice(3, 6), slice(6, 11))

    def __init__(self, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__(num_classes, mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),    # 32 -> 16
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),   # 16 -> 8
            nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(4),   # 8 -> 2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 2 * 2, 256), nn.ReLU(inplace=True), nn.Linear(256, num_classes),
        )

    def forward(self, x):
        z = self.features(self.normalize(x))  # (N, 64, 2, 2)
        return z, self.head(z)

    def head(self, z):
        return self.classifier(z)
