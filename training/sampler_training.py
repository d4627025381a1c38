"""How the fdal mode trains its sampler (the labeled-vs-unlabeled discriminator on the student's z).

FdalConfig.sampler_training picks one of two recipes:

"reference" (the default) as rrgaire/FDAL trains it (main.py, train_test.py, config.py):
  - the unlabeled batches come from the cycle's candidate subset, the images the sampler will rank
    (the reference's SUBSET loader; the runner passes the candidates as train_cycle's `unlabeled`);
  - two sampler steps per labeled batch, both with the sampler's SGD optimizer: the reference hands
    that optimizer to the decoder's slot too, so after the student's step it steps the sampler on
    the gradient the student's loss left there, i.e. the 0.1-weighted "call everything labeled"
    adversarial term; then the sampler's own step (1 for labeled, 0 for unlabeled);
  - the sampler's learning rate drops on its own schedule: the reference's scheduler is stepped
    twice per epoch (once through the decoder's slot) from adv_start_epoch on, so the milestones
    count scheduler steps, not epochs (200 epochs: drops after epochs 59 and 94, not 79 and 149).

"whole-pool" (this project's recipe until 2026-12-08; the cpu-research presets' recorded results):
  the unlabeled batches come from the whole unlabeled pool, the sampler is frozen in the student's
  adversarial term (one sampler step per batch, its own) and follows the student's learning rate.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SAMPLER_TRAININGS = ("reference", "whole-pool")


def _bce(logit: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logit.float(), torch.full_like(logit.float(), target))


def adversarial_loss(sampler, z_labeled: torch.Tensor, z_unlabeled: torch.Tensor,
                     freeze_sampler: bool = True) -> torch.Tensor:
    """The student's adversarial term: the sampler should call both batches "labeled"; the mean of
    the two BCEs, as in the reference. freeze_sampler: the term leaves no gradient on the sampler
    ("whole-pool"); the reference lets it through and steps the sampler on it."""
    if not freeze_sampler:
        return (_bce(sampler.logit(z_labeled), 1.0) + _bce(sampler.logit(z_unlabeled), 1.0)) / 2
    sampler.requires_grad_(False)
    loss = (_bce(sampler.logit(z_labeled), 1.0) + _bce(sampler.logit(z_unlabeled), 1.0)) / 2
    sampler.requires_grad_(True)
    return loss


def sampler_loss(sampler, z_labeled: torch.Tensor, z_unlabeled: torch.Tensor) -> torch.Tensor:
    """The sampler's own loss: 1 for labeled, 0 for unlabeled; the mean of the two BCEs."""
    return (_bce(sampler.logit(z_labeled), 1.0) + _bce(sampler.logit(z_unlabeled), 0.0)) / 2


def sampler_step(sampler, opt, student, x_labeled, x_unlabeled, autocast) -> torch.Tensor:
    """The sampler's own step, on the student's features recomputed (no grad) after the student's step."""
    with torch.no_grad(), autocast():
        z_labeled, z_unlabeled = student(x_labeled)[0], student(x_unlabeled)[0]
    with autocast():
        loss = sampler_loss(sampler, z_labeled, z_unlabeled)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def reference_sampler_lr(config, epoch: int) -> float:
    """The reference sampler's learning rate during `epoch`: its MultiStepLR has been stepped twice
    after each finished epoch from adv_start_epoch on."""
    steps = 2 * max(0, epoch - config.adv_start_epoch)
    return config.lr * config.lr_gamma ** sum(m <= steps for m in config.milestones)
