"""VAAL as the original (sinhasam/vaal): the summed KL."""
import math

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training.strategies.vaal import vae_loss  # noqa: E402


def test_kl_is_summed_over_batch_and_latent():
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # per element -0.5 * (1 + logvar - mu^2 - exp(logvar)): 0.5, 0.5 * (1 - ln 2), 0, 2
    kl = 0.5 + 0.5 * (1 - math.log(2.0)) + 0.0 + 2.0
    x = torch.rand(2, 3, 4, 4)
    assert float(vae_loss(x, x, mu, logvar, beta=2.0)) == pytest.approx(2 * kl, rel=1e-6)
    rec = x + 0.5  # the reconstruction term is the MSE averaged per element
    assert float(vae_loss(x, rec, mu, logvar, beta=0.0)) == pytest.approx(0.25, rel=1e-6)
