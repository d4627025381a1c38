"""The FDAL sampler: flatten z -> Linear 64, ReLU, Linear 1, sigmoid = P("labeled")."""
from torch import nn


class Sampler(nn.Module):
    """forward(z) -> probability that z comes from the labeled set, shape (N,).
    logit(z) -> the pre-sigmoid value (N,), which the int8 runtime ranks on (no 256-level ties)."""

    def __init__(self, in_features=256, hidden=64):
        super().__init__()
        self.in_features = in_features
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, 1))

    def logit(self, z):
        if z.dim() < 2 or z[0].numel() != self.in_features:
            raise ValueError(f"expected z with {self.in_features} values per item, got shape {tuple(z.shape)}")
        return self.net(z).squeeze(1)

    def forward(self, z):
        return self.logit(z).sigmoid()
