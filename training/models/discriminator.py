"""VAAL's discriminator: says whether a VAE latent mean comes from a labeled image."""
import torch
import torch.nn as nn


class Discriminator(nn.Module):
    """mu (N, latent) -> probability "labeled" (N,); `logit` gives the pre-sigmoid value."""

    def __init__(self, latent: int = 32, width: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, 1))

    def logit(self, mu):
        return self.net(mu).squeeze(1)

    def forward(self, mu):
        return torch.sigmoid(self.logit(mu))
