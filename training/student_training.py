"""One active-learning cycle of training, in one of these modes:
    ce     plain cross-entropy
    kd     distillation only: CE + feature MSE (through the decoder) + logit MSE; no sampler,
           no adversarial term, no unlabeled batches
    fdal   kd + the adversarial sampler (Gaire & Roohi)
    ll4al  CE + loss-prediction module;  vaal  CE + VAE/discriminator

FDAL loss per labeled batch (Gaire & Roohi; the kd mode is this without the adversarial term):
    CE + 1.0 * MSE(decoder(z), teacher_feature) + 1.0 * MSE(student_logits, teacher_logits)
       + 0.1 * adversarial                       (adversarial only from `adv_start_epoch` on)
where `adversarial` asks the sampler to call both the labeled and an unlabeled batch
"labeled", through the student's z: the MEAN of the two BCEs. After the student's step the sampler
takes its own step to say 1 for labeled and 0 for unlabeled (again the mean of two BCEs), on the
student's z recomputed without gradient after that step. The sampler trains only from
`adv_start_epoch` on, with SGD (the student's lr, momentum, weight decay). Which unlabeled images
it sees, whether it also steps on the adversarial term's gradient, and its learning-rate schedule
follow FdalConfig.sampler_training: sampler_training.py ("reference" by default).
Unlabeled batches are not augmented (the reference's unlabeled set uses its test transform).
That is the reference code (rrgaire/FDAL: train_test.py, main.py, config.py), except: the decoder
is stepped (it shares the student's optimizer; the reference points it at the sampler's optimizer)
and the feature MSE compares tensors of identical shape (the reference broadcast 7x7 against 1x1).
FdalConfig.teacher_views > 0 computes the teacher's outputs once per (image, view): teacher_views.py.

Labeled batches: each epoch shuffles the labeled set and drops the partial last batch, in every
mode, as the reference's DataLoader(drop_last=True) does (its first cycle's loader; the later
cycles' loaders forget the flag, which we do not copy); a labeled set smaller than one batch is
trained as one batch, so a cycle always takes a step. Unlabeled batches are always full: they
cycle through the unlabeled pool.

Everything runs on tensors on `device` (no DataLoader); on CPU a run is deterministic given the seed,
on CUDA with FdalConfig.deterministic (as far as PyTorch allows: determinism.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from contextlib import nullcontext
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from fdal.training.sampler_training import (SAMPLER_TRAININGS, _bce, adversarial_loss,  # noqa: F401
                                            reference_sampler_lr, sampler_loss, sampler_step)

MODES = ("ce", "kd", "fdal", "ll4al", "vaal")
# The modes that distill from a teacher (train_cycle needs one).
TEACHER_MODES = ("kd", "fdal")


@dataclass(frozen=True)
class FdalConfig:
    """Hyper-parameters of one cycle's training; defaults are the paper's."""

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple = (80, 150)
    lr_gamma: float = 0.1
    feature_weight: float = 1.0
    logit_weight: float = 1.0
    adversarial_weight: float = 0.1
    adv_start_epoch: int = 20
    # LL4AL (Yoo & Kweon 2019): lambda 1, margin 1, features detached after 120 of 200 epochs.
    ll4al_weight: float = 1.0
    ll4al_margin: float = 1.0
    ll4al_detach_epoch: int = 120
    # VAAL (sinhasam/vaal arguments.py, solver.py): Adam 5e-4 for VAE and discriminator, latent 32,
    # beta 1, adversary weight 1, two VAE steps and one discriminator step per iteration.
    vaal_lr: float = 5e-4
    vaal_latent: int = 32
    vaal_beta: float = 1.0
    vaal_adversary_weight: float = 1.0
    vaal_vae_steps: int = 2
    vaal_adv_steps: int = 1
    student_arch: str = "vgg11lite"  # or "alexnetlite"
    augment: bool = True
    bf16: bool = False  # bf16 autocast (GPU); losses are computed in float32 either way
    deterministic: bool = False  # deterministic CUDA kernels, no TF32, no cuDNN autotuning (determinism.py)
    eval_batch_size: int = 1000
    # fdal mode: "reference" or "whole-pool" (the recipe before 2026-12-08): sampler_training.py
    sampler_training: str = "reference"
    # > 0: the teacher's outputs are computed once per (image, view), K fixed views per image, and a
    # step draws one of them (teacher_views.py); 0: a fresh crop and a teacher forward every step.
    teacher_views: int = 0
    decoder_hidden: int = 256  # the decoder's hidden channels (kd and fdal modes)

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}")
        if self.student_arch not in ("vgg11lite", "alexnetlite"):
            raise ValueError(f"student_arch must be 'vgg11lite' or 'alexnetlite', got {self.student_arch!r}")
        if any(m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing positive epochs, got {self.milestones}")
        if self.vaal_vae_steps < 1 or self.vaal_adv_steps < 1:
            raise ValueError(f"vaal_vae_steps and vaal_adv_steps must be >= 1, "
                             f"got {self.vaal_vae_steps}, {self.vaal_adv_steps}")
        if self.sampler_training not in SAMPLER_TRAININGS:
            raise ValueError(f"sampler_training must be one of {', '.join(SAMPLER_TRAININGS)}, "
                             f"got {self.sampler_training!r}")
        if self.teacher_views < 0 or self.decoder_hidden < 1:
            raise ValueError(f"teacher_views must be >= 0 and decoder_hidden >= 1, "
                             f"got {self.teacher_views}, {self.decoder_hidden}")

    def scaled(self, epochs: int, **overrides) -> "FdalConfig":
        """The same schedule over `epochs`: milestones, adv_start_epoch and the LL4AL detach epoch
        keep their fraction of the run (20/200 -> 2/20)."""
        f = epochs / self.epochs
        ms = tuple(sorted({max(1, round(m * f)) for m in self.milestones}))
        return dataclasses.replace(
            self, epochs=epochs, milestones=ms,
            adv_start_epoch=max(0, round(self.adv_start_epoch * f)),
            ll4al_detach_epoch=max(0, round(self.ll4al_detach_epoch * f)), **overrides)


@dataclass
class CycleModels:
    """What one cycle's training produced; the strategies read from it."""

    mode: str
    student: torch.nn.Module
    decoder: Optional[torch.nn.Module] = None
    sampler: Optional[torch.nn.Module] = None
    lossnet: Optional[torch.nn.Module] = None
    vae: Optional[torch.nn.Module] = None
    discriminator: Optional[torch.nn.Module] = None
    history: list = field(default_factory=list)  # one dict of mean losses per epoch


def make_student(arch: str, dataset) -> torch.nn.Module:
    """A fresh student normalized with the dataset's own channel statistics."""
    from fdal.training import models
    student = models.make_student(arch, num_classes=dataset.num_classes)
    return student.set_normalization(dataset.mean, dataset.std)


class _Cycler:
    """Endless shuffled batches of indices from a pool (the unlabeled batches for the sampler)."""

    def __init__(self, indices: torch.Tensor, batch_size: int, generator: torch.Generator):
        self.indices, self.batch_size, self.g = indices, batch_size, generator
        self.order, self.pos = None, 0

    def next(self) -> torch.Tensor:
        n = len(self.indices)
        out = []
        need = min(self.batch_size, n)
        while need > 0:
            if self.order is None or self.pos >= n:
                self.order = self.indices[torch.randperm(n, generator=self.g, device=self.g.device)]
                self.pos = 0
            take = self.order[self.pos:self.pos + need]
            self.pos += len(take)
            need -= len(take)
            out.append(take)
        return torch.cat(out)


def labeled_batches(order: torch.Tensor, batch_size: int) -> list:
    """An epoch's labeled batches from the shuffled indices `order`: full batches only (drop_last),
    or all of `order` as one batch when it is shorter than a batch."""
    if len(order) < batch_size:
        return [order]
    return list(order[:len(order) // batch_size * batch_size].split(batch_size))


_sampler_step = sampler_step  # the name before sampler_training.py


def train_cycle(mode: str, dataset, labeled, unlabeled, config: FdalConfig, seed: int,
                teacher: Optional[torch.nn.Module] = None, device="cpu",
                progress: bool = False, timer=None, teacher_views=None) -> CycleModels:
    """Train freshly initialized (seeded) models on `labeled` pool indices for one cycle.

    `dataset` must already live on `device`. `unlabeled` (pool indices) feeds the sampler (fdal)
    and the VAE/discriminator (vaal). Returns the trained models in eval mode.
    timer: a phase_timer.PhaseTimer that receives the seconds per phase. teacher_views: the
    trial's teacher_views.TeacherViews cache when config.teacher_views > 0 (else one is made for
    this cycle, seeded by `seed`).
    """
    from fdal.training import data as fdata
    from fdal.training import models
    from fdal.training.strategies.ll4al import loss_prediction_loss

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode in TEACHER_MODES and teacher is None:
        raise ValueError(f"mode {mode!r} needs a teacher")
    device = torch.device(device)
    labeled_t = torch.as_tensor(np.asarray(labeled, dtype=np.int64), device=device)
    unlabeled_t = torch.as_tensor(np.asarray(unlabeled, dtype=np.int64), device=device)
    if len(labeled_t) < 2:
        raise ValueError(f"need at least 2 labeled images, got {len(labeled_t)}")
    if mode in ("fdal", "vaal") and len(unlabeled_t) == 0:
        raise ValueError(f"mode {mode!r} needs a non-empty unlabeled pool")

    if config.deterministic:
        from fdal.training.determinism import enable_deterministic
        enable_deterministic()
    torch.manual_seed(seed)
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    out = CycleModels(mode=mode, student=make_student(config.student_arch, dataset).to(device))
    student = out.student
    params = list(student.parameters())
    if mode in TEACHER_MODES:
        out.decoder = models.Decoder(in_channels=64, out_channels=512,
                                     hidden_channels=config.decoder_hidden).to(device)
        params += list(out.decoder.parameters())  # the decoder IS stepped (reference bug)
        teacher.eval()
        if config.teacher_views and teacher_views is None:
            from fdal.training.teacher_views import TeacherViews
            teacher_views = TeacherViews(teacher, dataset.train_x, config.teacher_views, seed, augment=config.augment)
        if timer is not None:
            hooks = timer.time_module(out.decoder, "decoder")
    reference_sampler = mode == "fdal" and config.sampler_training == "reference"
    if mode == "fdal":
        out.sampler = models.Sampler(in_features=256).to(device)
        # The reference's sampler optimizer: SGD with the student's lr, momentum and weight decay;
        # its lr is set per epoch below (sampler_training.py).
        sampler_opt = torch.optim.SGD(out.sampler.parameters(), lr=config.lr, momentum=config.momentum,
                                      weight_decay=config.weight_decay)
    elif mode == "ll4al":
        with torch.no_grad():
            feats = student.forward_blocks(torch.zeros(2, 3, 32, 32, device=device))[2]
        out.lossnet = models.LossNet([f.shape[1] for f in feats]).to(device)
        params += list(out.lossnet.parameters())
    elif mode == "vaal":
        out.vae = models.VAE(config.vaal_latent).to(device)
        out.discriminator = models.Discriminator(config.vaal_latent).to(device)
        vae_opt = torch.optim.Adam(out.vae.parameters(), lr=config.vaal_lr)
        disc_opt = torch.optim.Adam(out.discriminator.parameters(), lr=config.vaal_lr)
        vaal_labeled = _Cycler(labeled_t, config.batch_size, g)  # the later VAAL steps' labeled batches
    opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.milestones), gamma=config.lr_gamma)
    unl_batches = _Cycler(unlabeled_t, config.batch_size, g) if len(unlabeled_t) else None

    def batch_input(idx, augment=config.augment):
        x = dataset.train_x[idx]
        if augment:
            x = fdata.augment(x, g)
        return fdata.pixels_to_unit_float(x)

    def vaal_input(idx):  # the original's CIFAR transform for VAAL: a horizontal flip only
        x = dataset.train_x[idx]
        return fdata.pixels_to_unit_float(fdata.augment(x, g, padding=0) if config.augment else x)

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=config.bf16)

    def phase(name):
        return nullcontext() if timer is None else timer.phase(name)

    epochs = range(config.epochs)
    if progress:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc=f"train[{mode}] n={len(labeled_t)}", leave=False, unit="ep")
    for module in (student, out.decoder, out.sampler, out.lossnet, out.vae, out.discriminator):
        if module is not None:
            module.train()
    for epoch in epochs:
        sums: dict = {}
        nb = 0
        order = labeled_t[torch.randperm(len(labeled_t), generator=g, device=device)]
        if reference_sampler:
            for group in sampler_opt.param_groups:
                group["lr"] = reference_sampler_lr(config, epoch)
        for idx in labeled_batches(order, config.batch_size):
            with phase("data"):
                if teacher_views is not None and mode in TEACHER_MODES:
                    x, t_feat, t_logits = teacher_views.batch(idx, g, timer)
                    x = fdata.pixels_to_unit_float(x)
                else:
                    x = batch_input(idx)
                y = dataset.train_y[idx]
            terms = {}
            with phase("student"):  # the teacher and the decoder are timed apart (nested phases)
                with autocast():
                    if mode == "ll4al":
                        z, logits, feats = student.forward_blocks(x)
                    else:
                        z, logits = student(x)
                    ce_each = F.cross_entropy(logits.float(), y, reduction="none")
                    terms["ce"] = ce_each.mean()
                    loss = terms["ce"]
                    if mode in TEACHER_MODES and teacher_views is None:
                        with torch.no_grad(), phase("teacher"):
                            t_feat, t_logits = teacher(x)
                    if mode in TEACHER_MODES:
                        s_feat = out.decoder(z)
                        if s_feat.shape != t_feat.shape:  # the reference code broadcast 7x7 against 1x1
                            raise ValueError(f"decoder output {tuple(s_feat.shape)} != teacher feature {tuple(t_feat.shape)}")
                        terms["feature"] = F.mse_loss(s_feat.float(), t_feat.float())
                        terms["logit"] = F.mse_loss(logits.float(), t_logits.float())
                        loss = loss + config.feature_weight * terms["feature"] + config.logit_weight * terms["logit"]
                    adversarial_on = mode == "fdal" and epoch >= config.adv_start_epoch
                    if adversarial_on:
                        with phase("data"):
                            xu = batch_input(unl_batches.next(), augment=False)
                        terms["adversarial"] = adversarial_loss(out.sampler, z, student(xu)[0],
                                                                freeze_sampler=not reference_sampler)
                        loss = loss + config.adversarial_weight * terms["adversarial"]
                    elif mode == "ll4al":
                        if epoch >= config.ll4al_detach_epoch:
                            feats = [f.detach() for f in feats]
                        pred = out.lossnet(feats)
                        terms["loss_prediction"] = loss_prediction_loss(pred, ce_each, config.ll4al_margin)
                        loss = loss + config.ll4al_weight * terms["loss_prediction"]
                opt.zero_grad(set_to_none=True)
                if adversarial_on and reference_sampler:
                    sampler_opt.zero_grad(set_to_none=True)  # the last own step's gradient
                loss.backward()
                opt.step()
            if adversarial_on:
                with phase("sampler"):
                    if reference_sampler:  # the reference's first step: the adversarial term's gradient
                        sampler_opt.step()
                    terms["sampler"] = sampler_step(out.sampler, sampler_opt, student, x, xu, autocast)
            elif mode == "vaal":
                with phase("vaal"):
                    terms.update(_vaal_iteration(
                        out, (vaal_input(idx), vaal_input(unl_batches.next())),
                        lambda: (vaal_input(vaal_labeled.next()), vaal_input(unl_batches.next())),
                        vae_opt, disc_opt, config, autocast))
            terms["total"] = loss
            for k, v in terms.items():  # summed on device: no host sync per batch
                sums[k] = sums.get(k, 0.0) + v.detach().double()
            nb += 1
        sched.step()
        if mode == "fdal" and not reference_sampler:  # "whole-pool": the student's lr (set after each epoch)
            for group in sampler_opt.param_groups:
                group["lr"] = sched.get_last_lr()[0]
        out.history.append({"epoch": epoch, **{k: float(v) / max(nb, 1) for k, v in sums.items()}})
    for module in (student, out.decoder, out.sampler, out.lossnet, out.vae, out.discriminator):
        if module is not None:
            module.eval()
    if mode in TEACHER_MODES and timer is not None:
        for h in hooks:
            h.remove()
    return out


def _vaal_iteration(out: CycleModels, first, next_batches, vae_opt, disc_opt, config: FdalConfig,
                    autocast) -> dict:
    """One iteration of the original's solver.train after its task-model step: `vaal_vae_steps`
    VAE steps (reconstruct both batches, KL to N(0, I), make the discriminator say "labeled" for
    both), then `vaal_adv_steps` discriminator steps (1 for labeled, 0 for unlabeled).

    `first` is the (labeled, unlabeled) input pair of the first VAE step: the student's batch.
    Like the original, each later VAE step draws a fresh pair (next_batches()), the first
    discriminator step reuses the last VAE step's pair, and each later one draws a fresh pair.
    Departure: the original's later labeled batches come from the task model's own stream (which
    then skips them); here they come from a separate shuffled stream, so the student still sees
    every labeled batch each epoch. Departure: one iteration per student batch (epochs x labeled /
    batch size); the original runs 50,000 x 100 / 128 = 39,062 iterations whatever the labeled size.
    """
    from fdal.training.strategies.vaal import vae_loss
    vae, disc = out.vae, out.discriminator
    xl, xu = first
    for step in range(config.vaal_vae_steps):
        if step:
            xl, xu = next_batches()
        with autocast():
            rec_l, _, mu_l, logvar_l = vae(xl)
            rec_u, _, mu_u, logvar_u = vae(xu)
            disc.requires_grad_(False)  # the VAE's step leaves the discriminator as it is
            adversarial = _bce(disc.logit(mu_l), 1.0) + _bce(disc.logit(mu_u), 1.0)
            disc.requires_grad_(True)
            v_loss = (vae_loss(vae.normalize(xl), rec_l, mu_l, logvar_l, config.vaal_beta)
                      + vae_loss(vae.normalize(xu), rec_u, mu_u, logvar_u, config.vaal_beta)
                      + config.vaal_adversary_weight * adversarial)
        vae_opt.zero_grad(set_to_none=True)
        v_loss.backward()
        vae_opt.step()
    for step in range(config.vaal_adv_steps):
        if step:
            xl, xu = next_batches()
        with autocast():
            # The original runs the whole VAE here (train mode, no grad); only mu is used, and the
            # encoder alone updates the same BatchNorm statistics that selection reads.
            with torch.no_grad():
                mu_l, mu_u = vae.encode(xl)[0], vae.encode(xu)[0]
            d_loss = _bce(disc.logit(mu_l), 1.0) + _bce(disc.logit(mu_u), 0.0)
        disc_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        disc_opt.step()
    return {"vae": v_loss, "discriminator": d_loss}


@torch.no_grad()
def accuracy(model: torch.nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, batch_size: int = 1000,
             amp: bool = False) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of a model whose forward returns (features, logits),
    on uint8 images; batches are moved to the model's device. amp: bf16 autocast."""
    from fdal.training import data as fdata
    if x_uint8.shape[0] != y.shape[0]:
        raise ValueError(f"{x_uint8.shape[0]} images but {y.shape[0]} labels")
    if len(x_uint8) == 0:
        raise ValueError("accuracy of an empty test set")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for s in range(0, len(x_uint8), batch_size):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(fdata.pixels_to_unit_float(x_uint8[s:s + batch_size].to(device)))[1]
        correct += int((logits.argmax(1) == y[s:s + batch_size].to(device)).sum())
    model.train(was_training)
    return correct / len(x_uint8)
