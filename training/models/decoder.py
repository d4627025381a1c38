"""Decoder: maps the student's z (N, 64, 2, 2) to the teacher's feature shape (N, 512, 1, 1)."""
from torch import nn


class Decoder(nn.Module):
    """conv3x3 64->256, ReLU, conv3x3 256->512, ReLU, global average pool to 1x1.

    The output has exactly the teacher feature's shape, so the feature MSE never broadcasts
    (the public reference code compared a 7x7 map against 1x1).
    """

    def __init__(self, in_channels=64, out_channels=512, hidden_channels=256):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )

    def forward(self, z):
        if z.dim() != 4 or z.shape[1] != self.in_channels:
            raise ValueError(f"expected z of shape (N, {self.in_channels}, H, W), got {tuple(z.shape)}")
        return self.net(z)  # (N, out_channels, 1, 1)
