"""What every student shares: normalized input, a class count, forward(x) -> (z, logits)."""
from .normalize import CIFAR10_MEAN, CIFAR10_STD, NormalizedInput


class StudentBase(NormalizedInput):
    """Base of the students: x float NCHW in [0, 1] -> (z, logits); z has `feature_channels`
    channels (the Decoder and Sampler read it)."""

    feature_channels = 64  # channels of z, for Decoder(in_channels=...)

    def __init__(self, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__(mean, std)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
