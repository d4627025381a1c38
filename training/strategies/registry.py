"""Method name -> (training mode, selection function)."""
from .badge import select_badge
from functools import partial

from .coreset import select_coreset
from .fdal import select_fdal
from .on_device import check_method, parse_method, select_on_device
from .ll4al import select_ll4al
from .probcover import select_probcover
from .random import select_random
from .typiclust import select_typiclust
from .uncertainty import select_entropy, select_margin
from .vaal import select_vaal
from ..student_training import MODES, TEACHER_MODES

METHODS = {
    "random": ("ce", select_random),
    "entropy": ("ce", select_entropy),
    "margin": ("ce", select_margin),
    "coreset": ("ce", select_coreset),
    "ll4al": ("ll4al", select_ll4al),
    "vaal": ("vaal", select_vaal),
    "fdal": ("fdal", select_fdal),
    # Ablations that separate FDAL's three effects:
    #   distillation                 kd_random   vs random      (kd: CE + feature + logit MSE only)
    #   adversarial regularisation   fdal_random vs kd_random   (fdal training, the sampler unused)
    #   the sampler's choice         fdal        vs fdal_random
    "kd_random": ("kd", select_random),
    "kd_entropy": ("kd", select_entropy),
    "fdal_random": ("fdal", select_random),
    "badge": ("ce", select_badge),
    "typiclust": ("ce", select_typiclust),
    "probcover": ("ce", select_probcover),
}

# Methods that select with the teacher's embedding (base.pretrained_embedding): the runner loads
# or trains a teacher for them even though they train the student with CE alone.
EMBEDS_WITH_TEACHER = {"typiclust", "probcover"}


def training_mode(name: str) -> str:
    return _lookup(name)[0]


def needs_teacher(name: str) -> bool:
    """Whether a run of method `name` needs the teacher: to train (modes kd, fdal) or to select."""
    return training_mode(name) in TEACHER_MODES or name in EMBEDS_WITH_TEACHER


def _lookup(name: str):
    """(training mode, selection function) of a METHODS name or of an on-device method
    "<mode>+<strategy>[@embedding]" (on_device.py: the int8 runtime's own rule picks)."""
    if name in METHODS:
        return METHODS[name]
    if isinstance(name, str) and parse_method(name) is not None:
        mode, strategy, embedding = check_method(name, MODES)
        return mode, partial(select_on_device, strategy=strategy, embedding=embedding)
    raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}, or <mode>+<fdal strategy>"
                     f"[@student|@decoder] to pick with the int8 runtime (e.g. kd+typiclust@decoder)")


def select(name: str, ctx, candidates, budget: int, seed: int):
    """Pick `budget` distinct pool indices from `candidates` with method `name` (int64 array)."""
    return _lookup(name)[1](ctx, candidates, budget, seed)
