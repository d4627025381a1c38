"""Active-learning protocols: how many images to start with, add per cycle, and train how long.

Presets:
  paper-table2         CIFAR-10, 5,000 initial + 5,000 per cycle -> 30,000 (10%..60%), 200 epochs
  paper-fig2           CIFAR-10, 1,000 + 1,000 -> 10,000, 200 epochs
  paper-fig2-cifar100  CIFAR-100, 2,000 + 2,000 -> 20,000, 200 epochs
  cpu-small            CIFAR-10, 500 + 500 -> 2,000, 15 epochs of batch 32, small teacher (4 epochs on 10,000
                       images): sized for a CPU (its end-to-end time is not measured)
  cpu-research[-imbalanced|-redundant]
                       the no-leak research protocol (teacher on a disjoint half; balanced, long-tailed or
                       burst pools), 500 + 500 -> 2,000, 30 epochs: docs/results.md
  cpu-research-v2[-imbalanced|-redundant]
                       the same protocol with a cheaper recipe (teacher outputs cached per view, a
                       narrower decoder) and fdal's sampler trained as the reference does
  smoke                synthetic data, tiny everything: for tests
Every cycle scores a random subset of `subset` unlabeled images (min with the pool size).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fdal.training.student_training import FdalConfig


POOLS = ("balanced", "imbalanced", "redundant")
# cpu-research-v2's recipe (measured in docs/results.md, "A cheaper trial")
V2_VIEWS = 8
V2_DECODER_HIDDEN = 64


@dataclass(frozen=True)
class Protocol:
    name: str
    dataset: str            # a name for fdal.training.data.load_dataset, or "synthetic"
    initial: int            # size of the random initial labeled set
    step: int               # images labeled per cycle
    final: int              # labeled-set size of the last cycle
    subset: int = 10_000    # unlabeled candidates scored per cycle
    train: FdalConfig = field(default_factory=FdalConfig)
    teacher_arch: str = "vgg19"
    teacher_epochs: int = 200
    # Train the teacher on a seeded random subset of this many training images (0: all). Only the
    # CPU preset uses it, to fit teacher training into minutes; the paper's teacher sees everything.
    teacher_subset: int = 0
    seed: int = 0           # trial t uses seed + t
    synthetic: tuple = (10, 2000, 500)  # (num_classes, n_train, n_test) when dataset == "synthetic"
    # Label leakage: 0 -> the teacher trains on the whole training split, which is also the pool
    # (the paper's setting: the teacher saw every label the students later "buy"). f in (0, 1) ->
    # a stratified fraction f of the training split is the teacher's source and the pool is the
    # disjoint rest, whose labels are revealed only when chosen (data/pools.py).
    teacher_source: float = 0.0
    # The pool's shape (data/pools.py): "balanced" (as split), "imbalanced" (long-tailed, largest /
    # smallest class = imbalance_ratio; the test set stays balanced) or "redundant" (each base image
    # as `burst` near-duplicate frames).
    pool: str = "balanced"
    imbalance_ratio: float = 10.0
    burst: int = 5

    def __post_init__(self):
        if self.initial < 2 or self.step < 1 or self.subset < 1:
            raise ValueError(f"{self.name}: initial must be >= 2, step and subset >= 1")
        if not 0.0 <= self.teacher_source < 1.0:
            raise ValueError(f"{self.name}: teacher_source must lie in [0, 1), got {self.teacher_source}")
        if self.pool not in POOLS:
            raise ValueError(f"{self.name}: pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if self.imbalance_ratio < 1 or self.burst < 1:
            raise ValueError(f"{self.name}: imbalance_ratio and burst must be >= 1")
        if self.final < self.initial or (self.final - self.initial) % self.step:
            raise ValueError(f"{self.name}: final ({self.final}) must be initial ({self.initial}) "
                             f"plus a whole number of steps ({self.step})")

    @property
    def cycles(self) -> int:
        return (self.final - self.initial) // self.step + 1

    def budgets(self) -> list:
        """The labeled-set size at each cycle."""
        return [self.initial + c * self.step for c in range(self.cycles)]

    def replace(self, **changes) -> "Protocol":
        return dataclasses.replace(self, **changes)


PRESETS = {
    "paper-table2": Protocol("paper-table2", "cifar10", 5000, 5000, 30000),
    "paper-fig2": Protocol("paper-fig2", "cifar10", 1000, 1000, 10000),
    "paper-fig2-cifar100": Protocol("paper-fig2-cifar100", "cifar100", 2000, 2000, 20000),
    "cpu-small": Protocol(
        "cpu-small", "cifar10", 500, 500, 2000, subset=2000,
        # batch 32: with 500 images, batch 128 gives 4 steps per epoch and the student stays at chance
        train=FdalConfig(batch_size=32).scaled(15), teacher_arch="small", teacher_epochs=4, teacher_subset=10_000),
    # The CPU research protocol (no label leakage): the teacher trains on a stratified half of the
    # training split, active learning runs on the other half; three pool shapes. The three presets
    # share one teacher (same split, seed and recipe): train it once, pass it with --teacher.
    # Their recorded results trained fdal's sampler on the whole pool: pinned to that recipe.
    **{name: Protocol(
        name, "cifar10", 500, 500, 2000, subset=5000, teacher_source=0.5, pool=pool,
        train=FdalConfig(batch_size=32, sampler_training="whole-pool").scaled(30), teacher_arch="small",
        teacher_epochs=15)
       for name, pool in (("cpu-research", "balanced"), ("cpu-research-imbalanced", "imbalanced"),
                          ("cpu-research-redundant", "redundant"))},
    # cpu-research-v2: the same protocol and teacher, a cheaper recipe (docs/results.md, "A cheaper
    # trial"): the teacher's outputs once per (image, view) with VIEWS fixed views per image, a
    # decoder of DECODER_HIDDEN hidden channels; fdal's sampler trained as the reference trains it.
    **{name: Protocol(
        name, "cifar10", 500, 500, 2000, subset=5000, teacher_source=0.5, pool=pool,
        train=FdalConfig(batch_size=32, teacher_views=V2_VIEWS, decoder_hidden=V2_DECODER_HIDDEN).scaled(30),
        teacher_arch="small", teacher_epochs=15)
       for name, pool in (("cpu-research-v2", "balanced"), ("cpu-research-v2-imbalanced", "imbalanced"),
                          ("cpu-research-v2-redundant", "redundant"))},
    "smoke": Protocol(
        "smoke", "synthetic", 40, 40, 120, subset=200,
        train=FdalConfig(batch_size=32).scaled(3), teacher_arch="small", teacher_epochs=2,
        synthetic=(4, 400, 100)),
}


def teacher_and_pool(p: Protocol, dataset):
    """(the teacher's training data, the active-learning dataset) of protocol `p` from the full
    dataset: the pool is the whole training split, or its disjoint non-source part
    (teacher_source > 0), then shaped as p.pool says. Seeded by p.seed only, so every trial and
    every method sees the same pool."""
    from fdal.training.data import pools
    teacher_set, pool = dataset, dataset
    if p.teacher_source > 0:
        (teacher_set, _), (pool, _) = pools.split_source_pool(dataset, p.teacher_source, p.seed)
    if p.pool == "imbalanced":
        pool, _ = pools.long_tailed(pool, p.imbalance_ratio, p.seed)
    elif p.pool == "redundant":
        pool, _ = pools.bursts(pool, p.burst, p.seed)
    return teacher_set, pool


def get_protocol(name_or_protocol) -> Protocol:
    if isinstance(name_or_protocol, Protocol):
        return name_or_protocol
    if name_or_protocol not in PRESETS:
        raise ValueError(f"unknown preset {name_or_protocol!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name_or_protocol]
