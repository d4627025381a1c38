"""Variational Adversarial Active Learning (Sinha et al., ICCV 2019), scaled to 32x32 images.

A VAE (conv encoder to a latent of size L, deconv decoder) learns to reconstruct labeled and
unlabeled images while fooling a discriminator on its latent mean; the discriminator learns to
say 1 for labeled, 0 for unlabeled. Selection: the lowest discriminator "labeled" probability.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import check_request, forward_pool, lowest


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _up(cin, cout):
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class VAE(nn.Module):
    """x float (N,3,32,32) in [0,1] -> (reconstruction in [0,1], mu, logvar)."""

    def __init__(self, latent: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(_block(3, 32), _block(32, 64), _block(64, 128), nn.Flatten())  # 128x4x4
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


def vae_loss(x, rec, mu, logvar, beta: float = 1.0):
    """Reconstruction MSE + beta * KL(q(z|x) || N(0, I)), both averaged per element."""
    kld = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
    return F.mse_loss(rec, x) + beta * kld


class Discriminator(nn.Module):
    def __init__(self, latent: int = 32, width: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, 1))

    def logit(self, mu):
        return self.net(mu).squeeze(1)

    def forward(self, mu):
        return torch.sigmoid(self.logit(mu))


def select_vaal(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    vae, disc = ctx.models.vae, ctx.models.discriminator
    if vae is None or disc is None:
        raise ValueError("vaal selection needs a VAE and discriminator: train the cycle in 'vaal' mode")
    vae.eval()
    disc.eval()
    scores = forward_pool(ctx, cand, lambda x: disc.logit(vae.encode(x)[0]))
    return lowest(scores.numpy(), cand, budget)
