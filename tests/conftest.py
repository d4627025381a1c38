"""Shared fixtures for the runtime tests: seeded random models (written to .fdal bytes and loaded by
the native runtime next to their numpy-oracle spec) and seeded images."""
from __future__ import annotations

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing


def pytest_sessionstart(session):
    """CI's requirements (tests/ci_requirements.py): stop before any test if one is unmet."""
    from ci_requirements import problems

    unmet = problems()
    if unmet:
        pytest.exit("; ".join(unmet), returncode=3)


class Pair:
    """A ModelSpec (for the oracle), its file bytes and the loaded native fdal.Model."""

    def __init__(self, spec):
        self.spec = spec
        self.data = fmt.write_model(spec)
        self.model = fdal.load(self.data)


def make_pair(seed: int, arch: str, **kwargs) -> Pair:
    return Pair(testing.random_model(seed, arch, n_calibration=64, **kwargs))


@pytest.fixture(scope="session")
def vgg() -> Pair:
    return make_pair(11, "vgg11_lite")


@pytest.fixture(scope="session")
def alexnet() -> Pair:
    return make_pair(12, "alexnet_lite")


@pytest.fixture(scope="session")
def tiny_no_sampler() -> Pair:
    return make_pair(13, "tiny", with_sampler=False)


@pytest.fixture(scope="session")
def tiny() -> Pair:
    return make_pair(14, "tiny", input_shape=(8, 6, 3))


@pytest.fixture(scope="session")
def pool() -> np.ndarray:
    """128 seeded 32x32x3 images."""
    return testing.random_images(2024, 128)


@pytest.fixture
def one_torch_thread():
    """One torch thread: on a shared 2-core machine two threads run tiny models ~10x slower."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def narrow_vae():
    """Train VAAL cycles with a VAE of first-layer width 8: the original's 128 (22.8M parameters)
    takes minutes per cycle on CPU. Yields the width."""
    pytest.importorskip("torch")
    import functools

    from fdal.training import models
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "VAE", functools.partial(models.VAE, width=8))
        yield 8


class _CountingCore:
    """fdal._core with every Ranker recorded (its `forwarded` counts the images the native ranker
    ran) and every Python-level Model.forward counted: proves that a ranking runs each image once."""

    def __init__(self, core):
        self._core = core
        self.rankers = []
        self.python_forwards = 0

    def __getattr__(self, name):
        return getattr(self._core, name)

    def Ranker(self, *args):
        ranker = self._core.Ranker(*args)
        self.rankers.append(ranker)
        return ranker

    @property
    def forwarded(self) -> int:
        return sum(r.forwarded for r in self.rankers)


@pytest.fixture
def counting_core(monkeypatch):
    from fdal import _core, runtime
    counting = _CountingCore(_core)
    monkeypatch.setattr(runtime, "_core", lambda: counting)
    original = fdal.Model.forward

    def forward(self, *args, **kwargs):
        counting.python_forwards += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fdal.Model, "forward", forward)
    return counting
