"""What every student shares: normalized input, a class count, forward(x) -> (z, logits)."""
from .normalize import CIFAR10_MEAN, CIFAR10_STD, NormalizedInput


class StudentBase(NormalizedInput):
    """Base of the students: x float NCHW in [0, 1] -> (z, logits); z has `feature_channels`
    channels (the Decoder and Sampler read it)."""

    feature_channels = 64  # channels of z, for Decoder(in_channels=...)
    # The blocks, as consecutive slices covering `features`; each ends with a ReLU and a pooling.
    block_slices: tuple = ()

    def __init__(self, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__(mean, std)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes

    def head(self, z):
        """logits (N, C) from z; forward(x) is (z, head(z))."""
        raise NotImplementedError

    def forward_blocks(self, x):
        """(z, logits, [each block's output]) in one pass, without hooks. A block output is read
        after the block's ReLU and pooling (LL4AL reads its ResNet's stage outputs so); the last
        one is z."""
        h, outputs = self.normalize(x), []
        for block in self.block_slices:
            h = self.features[block](h)
            outputs.append(h)
        return h, self.head(h), outputs
