"""VAAL's variational autoencoder (Sinha et al., ICCV 2019), scaled to 32x32 images."""
import torch
import torch.nn as nn


def _down(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _up(cin, cout):
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class VAE(nn.Module):
    """x float (N,3,32,32) in [0,1] -> (reconstruction in [0,1], mu, logvar); conv encoder to a
    latent of size `latent`, deconv decoder."""

    def __init__(self, latent: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(_down(3, 32), _down(32, 64), _down(64, 128), nn.Flatten())  # 128x4x4
        self.mu = nn.Linear(2048, latent)
        self.logvar = nn.Linear(2048, latent)
        self.expand = nn.Linear(latent, 2048)
        self.decoder = nn.Sequential(_up(128, 64), _up(64, 32), nn.ConvTranspose2d(32, 3, 4, 2, 1))

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        rec = torch.sigmoid(self.decoder(self.expand(z).view(-1, 128, 4, 4)))
        return rec, mu, logvar
