"""Variational Adversarial Active Learning (Sinha et al., ICCV 2019; sinhasam/vaal), for 32x32 images.

A VAE (models.VAE) learns to reconstruct labeled and unlabeled images while fooling a
discriminator (models.Discriminator) on its latent mean; the discriminator learns to say 1 for
labeled, 0 for unlabeled (the training loop: student_training._vaal_iteration). Selection, as the
original's AdversarySampler: the lowest discriminator "labeled" probability of the latent MEAN mu.
"""
import torch
import torch.nn.functional as F

from .base import check_request, forward_pool, lowest, trained_models


def vae_loss(target, rec, mu, logvar, beta: float = 1.0):
    """The original's solver.vae_loss: MSE(rec, target) averaged per element
    + beta * KL(q(z|x) || N(0, I)) SUMMED over the batch and the latent dimensions."""
    mu, logvar = mu.float(), logvar.float()
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return F.mse_loss(rec.float(), target.float()) + beta * kld


def select_vaal(ctx, candidates, budget, seed):
    cand = check_request(ctx, candidates, budget)
    # Departure: the original scores with the VAE still in train mode (BatchNorm on each batch's
    # own statistics); here it is in eval mode (running statistics), so an image's score does not
    # depend on which images share its batch.
    vae, disc = trained_models(ctx, "vaal", vae="a VAE", discriminator="a discriminator")
    scores = forward_pool(ctx, cand, lambda x: disc.logit(vae.encode(x)[0]))
    return lowest(scores.numpy(), cand, budget)
