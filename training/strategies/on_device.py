"""Selection by the int8 runtime itself: the cycle's student (+ sampler) is exported to a .fdal
file in memory, loaded with fdal.load and the candidates are ranked with fdal.rank_pool, so a
research run measures exactly the picks a device would make.

Runner method names: "<training mode>+<strategy>[@<embedding>]", e.g. "kd+typiclust@decoder":
train the cycle in that mode (student_training.MODES), export with that embedding ("student",
the default, or "decoder", which needs a mode that trains one), and pick `budget` candidates
with the fdal.STRATEGIES strategy of that name. "@labeled" (classbalanced only) instead gives the
rule the labeled set's class counts (labeled_counts=; a device knows the labels it was sent back),
so that it balances the whole labeled set, not only the new picks. The candidates are all ranked (cap = their
number) with the cycle's seed, and calibration uses the images `fdal export` would use.
"""
from __future__ import annotations

import numpy as np

from .base import check_request

EMBEDDINGS = ("student", "decoder")
LABELED = "labeled"  # the "@" suffix that hands classbalanced the labeled set's class counts
CALIBRATION_IMAGES = 1000  # `fdal export --calibration`'s default


def parse_method(name: str):
    """(mode, strategy, embedding) of an on-device method name, or None when `name` is not one."""
    if "+" not in name:
        return None
    mode, _, rest = name.partition("+")
    strategy, _, embedding = rest.partition("@")
    return mode, strategy, embedding or "student"


def check_method(name: str, modes) -> tuple:
    """Validated parse_method(name); ValueError naming the part that is wrong."""
    from fdal.strategies import STRATEGIES
    mode, strategy, embedding = parse_method(name)
    if mode not in modes:
        raise ValueError(f"method {name!r}: unknown training mode {mode!r}; modes: {', '.join(modes)}")
    if strategy not in STRATEGIES:
        raise ValueError(f"method {name!r}: unknown on-device strategy {strategy!r}; "
                         f"fdal.STRATEGIES: {', '.join(STRATEGIES)}")
    if embedding == LABELED:
        if strategy != "classbalanced":
            raise ValueError(f"method {name!r}: '@{LABELED}' (the labeled set's class counts) is for "
                             f"strategy 'classbalanced' only")
        return mode, strategy, embedding
    if embedding not in EMBEDDINGS:
        raise ValueError(f"method {name!r}: unknown embedding {embedding!r}; embeddings: {', '.join(EMBEDDINGS)}")
    if strategy == "fdal" and mode != "fdal":
        raise ValueError(f"method {name!r}: strategy 'fdal' ranks by the sampler, which only mode 'fdal' trains")
    if embedding == "decoder" and mode not in ("kd", "fdal"):
        raise ValueError(f"method {name!r}: the decoder embedding needs mode 'kd' or 'fdal' (they train a decoder)")
    return mode, strategy, embedding


def export_cycle_model(ctx, embedding: str, seed: int):
    """The cycle's models as the device would get them: an fdal.Model loaded from .fdal bytes."""
    import fdal
    from fdal.format import write_model
    from fdal.training.data import calibration_images
    from fdal.training.int8_export import export
    models = ctx.models
    calib = calibration_images(ctx.dataset, CALIBRATION_IMAGES, seed)
    decoder = models.decoder if embedding == "decoder" else None
    if embedding == "decoder" and decoder is None:
        raise ValueError(f"embedding 'decoder' needs a decoder: the cycle trained in mode {models.mode!r} has none")
    spec = export(models.student.eval(), None if models.sampler is None else models.sampler.eval(), calib,
                  embedding=embedding, decoder=None if decoder is None else decoder.eval())
    return fdal.load(write_model(spec)), spec


def select_on_device(ctx, candidates, budget, seed, *, strategy: str, embedding: str = "student"):
    import fdal
    from fdal.training.data.runtime_images import images_nhwc
    import torch
    cand = check_request(ctx, candidates, budget)
    labeled_counts = None
    if embedding == LABELED:
        y = np.asarray(ctx.dataset.train_y.cpu() if hasattr(ctx.dataset.train_y, "cpu") else ctx.dataset.train_y)
        labeled_counts = np.bincount(y[np.asarray(ctx.labeled, dtype=np.int64)].astype(np.int64)).astype(np.int64)
        embedding = "student"
    model, spec = export_cycle_model(ctx, embedding, seed)
    x = ctx.dataset.train_x
    order = np.argsort(cand, kind="stable")  # rank_pool's candidates come in pool-index order
    images = images_nhwc(x[torch.as_tensor(cand[order], device=x.device)])
    if strategy == "classbalanced":
        picks = _classbalanced(model, spec, images, budget, seed, cand[order], labeled_counts)
    else:
        picks = fdal.rank_pool(model, images, budget, strategy=strategy, seed=seed, cap=len(cand), threads=1)
    return cand[order][picks].astype(np.int64)


def _classbalanced(model, spec, images, budget, seed, pool_indices, labeled_counts=None):
    """rank_pool's classbalanced rule (native), seeded by the candidates' indices in the whole
    training pool (rank_pool seeds by position among the candidates): the runs in
    docs/results-data were made this way, first through the numpy oracle, which this equals.
    labeled_counts: the labeled set's images per class ("@labeled"), or None.
    fdal.classbalanced is the one implementation; `fdal cycle pick` ranks with it too."""
    from fdal.classbalanced import classbalanced_by_pool_index
    return classbalanced_by_pool_index(model, [images], budget, seed, pool_indices, labeled_counts)
