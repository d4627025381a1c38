"""The FDAL student "VGG11-lite" (about 553k parameters, 1.56M MACs for 32x32 input)."""
from torch import nn

from .normalize import CIFAR10_MEAN, CIFAR10_STD
from .student_base import StudentBase


class Student(StudentBase):
    """conv3x3 3->16, ReLU, maxpool 4; conv3x3 16->32, ReLU, maxpool 2; conv3x3 32->64, ReLU,
    maxpool 2 -> z (N, 64, 2, 2); AdaptiveAvgPool(4, 4) (replicates each value 2x2), flatten 1024,
    Linear 512, ReLU, Linear C.

    forward(x) -> (z, logits) with x float NCHW in [0, 1]; normalization is done inside.
    The layers are plain attributes (`features`, `pool`, `classifier`) so an exporter can walk them.
    Its three blocks (conv, ReLU, maxpool) are `block_slices` of `features`.
    """

    block_slices = (slice(0, 3), slice(3, 6), slice(6, 9))

    def __init__(self, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__(num_classes, mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(4),    # 32 -> 8
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),   # 8 -> 4
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),   # 4 -> 2
        )
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 4 * 4, 512), nn.ReLU(inplace=True), nn.Linear(512, num_classes),
        )

    def forward(self, x):
        z = self.features(self.normalize(x))  # (N, 64, 2, 2)
        return z, self.head(z)

    def head(self, z):
        return self.classifier(self.pool(z))  # (N, C)
