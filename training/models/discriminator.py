"""VAAL's discriminator (sinhasam/vaal model.py): says whether a VAE latent mean comes from a labeled image."""
import torch
import torch.nn as nn


class Discriminator(nn.Module):
    """mu (N, z_dim) -> probability "labeled" (N,): Linear z_dim -> 512, ReLU, Linear 512 -> 512, ReLU,
    Linear 512 -> 1, sigmoid, as the original. `logit` gives the pre-sigmoid value (the losses use
    it with BCE-with-logits: the original's BCELoss on the sigmoid, computed stably)."""

    def __init__(self, z_dim: int = 32, width: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, 1))
        with torch.no_grad():  # the original's weight_init: kaiming_normal, zero bias on every Linear
            for m in self.net:
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight)
                    m.bias.zero_()

    def logit(self, mu):
        return self.net(mu).squeeze(1)

    def forward(self, mu):
        return torch.sigmoid(self.logit(mu))
