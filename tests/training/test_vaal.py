"""VAAL as the original (sinhasam/vaal): its VAE and discriminator layers, the summed KL, two VAE
steps and one discriminator step per iteration, the [-1, 1] input, selection on mu."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]

from torch import nn  # noqa: E402
from torch.optim.optimizer import register_optimizer_step_post_hook  # noqa: E402

from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.models import VAE, Discriminator  # noqa: E402
from fdal.training.strategies import SelectionContext, select  # noqa: E402
from fdal.training.strategies.base import forward_pool  # noqa: E402
from fdal.training.strategies.vaal import vae_loss  # noqa: E402
from fdal.training.student_training import CycleModels, FdalConfig, train_cycle  # noqa: E402

SEED = 5
NARROW = 8  # the VAE's first-layer width where a test trains it: the original's 128 is slow on CPU


def layers(module, kind):
    return [m for m in module.modules() if type(m) is kind]


def test_vae_layers_are_the_originals():
    vae = VAE()
    convs = layers(vae.encoder, nn.Conv2d)
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 128), (128, 256), (256, 512), (512, 1024)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) and c.bias is None
               for c in convs)
    assert [b.num_features for b in layers(vae.encoder, nn.BatchNorm2d)] == [128, 256, 512, 1024]
    assert (vae.fc_mu.in_features, vae.fc_mu.out_features) == (1024 * 2 * 2, 32)
    assert (vae.fc_logvar.in_features, vae.fc_logvar.out_features) == (1024 * 2 * 2, 32)
    expand = vae.decoder[0]
    assert isinstance(expand, nn.Linear) and (expand.in_features, expand.out_features) == (32, 1024 * 4 * 4)
    deconvs = layers(vae.decoder, nn.ConvTranspose2d)
    assert [(d.in_channels, d.out_channels, d.kernel_size, d.stride) for d in deconvs] == [
        (1024, 512, (4, 4), (2, 2)), (512, 256, (4, 4), (2, 2)), (256, 128, (4, 4), (2, 2)), (128, 3, (1, 1), (1, 1))]
    assert [b.num_features for b in layers(vae.decoder, nn.BatchNorm2d)] == [512, 256, 128]
    assert vae.decoder[-1] is deconvs[-1]  # no output activation: it reconstructs the normalized image
    rec, z, mu, logvar = vae(torch.rand(2, 3, 32, 32))
    assert rec.shape == (2, 3, 32, 32) and z.shape == mu.shape == logvar.shape == (2, 32)


def test_discriminator_is_the_originals():
    disc = Discriminator()
    assert [(m.in_features, m.out_features) for m in layers(disc, nn.Linear)] == [(32, 512), (512, 512), (512, 1)]
    assert len(layers(disc, nn.ReLU)) == 2
    mu = torch.randn(5, 32)
    torch.testing.assert_close(disc(mu), torch.sigmoid(disc.logit(mu)))


def test_vae_sees_images_in_minus_one_one():
    vae = VAE(width=NARROW)
    x = torch.stack([torch.zeros(3, 32, 32), torch.ones(3, 32, 32), torch.full((3, 32, 32), 0.5)])
    target = vae.normalize(x)
    assert torch.equal(target[0], -torch.ones(3, 32, 32)) and torch.equal(target[1], torch.ones(3, 32, 32))
    assert torch.equal(target[2], torch.zeros(3, 32, 32))


def test_kl_is_summed_over_batch_and_latent():
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # per element -0.5 * (1 + logvar - mu^2 - exp(logvar)): 0.5, 0.5 * (1 - ln 2), 0, 2
    kl = 0.5 + 0.5 * (1 - math.log(2.0)) + 0.0 + 2.0
    x = torch.rand(2, 3, 4, 4)
    assert float(vae_loss(x, x, mu, logvar, beta=2.0)) == pytest.approx(2 * kl, rel=1e-6)
    rec = x + 0.5  # the reconstruction term is the MSE averaged per element
    assert float(vae_loss(x, rec, mu, logvar, beta=0.0)) == pytest.approx(0.25, rel=1e-6)


def test_forward_always_samples_and_selection_scores_mu():
    torch.manual_seed(SEED)
    ds = make_synthetic(num_classes=3, n_train=60, n_test=6, seed=SEED)
    vae, disc = VAE(width=NARROW).eval(), Discriminator().eval()
    x = ds.train_x[:4].float() / 255
    with torch.no_grad():
        _, z1, mu1, _ = vae(x)
        _, z2, mu2, _ = vae(x)
    assert torch.equal(mu1, mu2) and not torch.equal(z1, z2)  # the original reparameterizes in eval mode too
    cycle = CycleModels(mode="vaal", student=None, vae=vae, discriminator=disc)
    ctx = SelectionContext(ds, np.arange(10), cycle, "cpu", batch_size=7)
    candidates = np.arange(10, 60)
    scores = forward_pool(ctx, candidates, lambda x: disc(vae.encode(x)[0])).numpy()
    picks = select("vaal", ctx, candidates, 9, seed=0)
    chosen = np.isin(candidates, picks)
    assert scores[chosen].max() <= scores[~chosen].min()  # the most unlabeled-looking means


class _StepCounter:
    """Counts optimizer.step() calls per optimizer (a global post-step hook)."""

    def __enter__(self):
        self.counts = {}
        self._handle = register_optimizer_step_post_hook(
            lambda opt, args, kwargs: self.counts.__setitem__(opt, self.counts.get(opt, 0) + 1))
        return self

    def __exit__(self, *exc):
        self._handle.remove()

    def of(self, module):
        first = next(module.parameters())
        return sum(n for opt, n in self.counts.items()
                   if any(p is first for g in opt.param_groups for p in g["params"]))


def test_cycle_takes_two_vae_steps_and_one_discriminator_step_per_student_step(narrow_vae):
    ds = make_synthetic(num_classes=3, n_train=80, n_test=6, seed=SEED)
    config = FdalConfig(batch_size=16).scaled(1)
    with _StepCounter() as steps:
        out = train_cycle("vaal", ds, np.arange(48), np.arange(48, 80), config, seed=SEED)
    student_steps = 3  # one epoch of 48 / 16 full batches (no partial batch, whether or not it is dropped)
    assert steps.of(out.student) == student_steps
    assert steps.of(out.vae) == 2 * student_steps
    assert steps.of(out.discriminator) == student_steps
    assert all(np.isfinite(e["vae"]) and np.isfinite(e["discriminator"]) for e in out.history)


def test_iteration_draws_a_fresh_pair_per_later_step_and_reconstructs_normalized_images(monkeypatch):
    from fdal.training.student_training import _vaal_iteration
    torch.manual_seed(SEED)
    out = CycleModels(mode="vaal", student=None, vae=VAE(width=NARROW), discriminator=Discriminator())
    first = (torch.zeros(4, 3, 32, 32), torch.ones(4, 3, 32, 32))
    later = (torch.full((4, 3, 32, 32), 0.25), torch.full((4, 3, 32, 32), 0.75))
    draws, targets, disc_inputs = [], [], []

    def next_batches():
        draws.append(1)
        return later

    def recording_loss(target, *args):
        targets.append(target)
        return vae_loss(target, *args)

    encode = out.vae.encode
    monkeypatch.setattr("fdal.training.strategies.vaal.vae_loss", recording_loss)
    monkeypatch.setattr(out.vae, "encode", lambda x: (disc_inputs.append(x) if not torch.is_grad_enabled()
                                                      else None) or encode(x))
    vae_opt = torch.optim.Adam(out.vae.parameters(), lr=5e-4)
    disc_opt = torch.optim.Adam(out.discriminator.parameters(), lr=5e-4)
    config = FdalConfig()
    terms = _vaal_iteration(out, first, next_batches, vae_opt, disc_opt, config,
                            lambda: torch.autocast("cpu", enabled=False))
    assert len(draws) == config.vaal_vae_steps - 1 == 1  # the second VAE step; the discriminator reuses it
    assert [float(t.mean()) for t in targets] == [-1.0, 1.0, -0.5, 0.5]  # 2 steps x (labeled, unlabeled), in [-1, 1]
    assert len(disc_inputs) == 2 and disc_inputs[0] is later[0] and disc_inputs[1] is later[1]
    assert set(terms) == {"vae", "discriminator"}
