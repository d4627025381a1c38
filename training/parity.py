"""Parity between a float PyTorch student+sampler and its int8 .fdal file run by the native runtime.

    report = fdal.training.compare(student, sampler, "student.fdal", images, labels)
    print(fdal.training.parity.format_report(report))

Command line (a checkpoint written by `fdal al`, exported, then compared on its test split):

    fdal export runs/cpu-small/models/fdal-trial0.pt --data-dir data --out fdal.fdal
    fdal compare runs/cpu-small/models/fdal-trial0.pt fdal.fdal --data-dir data
"""
from __future__ import annotations

import os

import numpy as np
import torch

import fdal

from .data.model_input import nhwc_pixels_to_unit_float

TOP_FRACTION = 0.10


def _rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="stable")
    sx = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(sx[1:] != sx[:-1]) + 1]
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def spearman(a, b) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks); nan if a side is constant."""
    ra, rb = _rankdata(np.asarray(a, np.float64)), _rankdata(np.asarray(b, np.float64))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def float_outputs(student, sampler, images: np.ndarray, batch_size: int = 500, decoder=None) -> dict:
    """Float logits, sampler pre-sigmoid values and the embedding (decoder(z) with a decoder, else
    z; (N, D) in the runtime's NHWC memory order) of uint8 NHWC images."""
    logits, score, embedding = [], [], []
    with torch.no_grad():
        for s in range(0, len(images), batch_size):
            z, lg = student(nhwc_pixels_to_unit_float(images[s:s + batch_size]))
            logits.append(lg.float().numpy())
            if sampler is not None:
                score.append((sampler.logit(z) if hasattr(sampler, "logit") else sampler(z)).float().numpy())
            e = decoder(z) if decoder is not None else z
            embedding.append(e.permute(0, 2, 3, 1).reshape(len(e), -1).float().numpy())
    return {"logits": np.concatenate(logits), "score": np.concatenate(score) if score else None,
            "embedding": np.concatenate(embedding)}


def cosine_per_row(a, b) -> np.ndarray:
    """Cosine similarity of each row of a with the same row of b (float64); 1.0 where both are zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    dot, norms = (a * b).sum(1), np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = (norms == 0) & (np.abs(a).sum(1) == 0) & (np.abs(b).sum(1) == 0)
    return np.where(both_zero, 1.0, dot / np.where(norms == 0, 1.0, norms))


def compare(student, sampler, path, images, labels=None, *, top_fraction=TOP_FRACTION, decoder=None) -> dict:
    """Parity report (dict) of float (student, sampler) against the int8 model at `path` (or bytes).

    Keys: n, float_accuracy / int8_accuracy (with labels), top1_agreement, logit_mae, logit_max_error,
    and with a sampler: score_spearman (float pre-sigmoid vs int8 raw accumulator), top_k and
    fdal_topk_overlap (fdal.rank_pool(..., "fdal") vs the float ranking by lowest sampler logit),
    score_mae (float pre-sigmoid vs dequantized int8). Also file_bytes when path is a file, and
    when the file has an embedding: embedding_cosine_mean / embedding_cosine_min, the cosine of the
    dequantized int8 embedding with the float one (z, or decoder(z) when decoder is given).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty uint8 (N, H, W, C) array, got {images.dtype} {images.shape}")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    model = fdal.load(path)
    if (sampler is not None) != model.has_sampler:
        raise ValueError(f"the float model {'has' if sampler is not None else 'has no'} sampler but the file "
                         f"{'has' if model.has_sampler else 'has no'} score layer")
    f = float_outputs(student, sampler, images, decoder=decoder)
    q = model.forward(images)
    err = np.abs(f["logits"].astype(np.float64) - q["logits"].astype(np.float64))
    report = {"n": int(len(images)),
              "top1_agreement": float(np.mean(f["logits"].argmax(1) == q["logits"].argmax(1))),
              "logit_mae": float(err.mean()), "logit_max_error": float(err.max()),
              "logit_range": float(np.abs(f["logits"]).max())}
    if isinstance(path, (str, os.PathLike)):
        report["file_bytes"] = os.path.getsize(path)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"labels has {len(labels)} entries for {len(images)} images")
        report["float_accuracy"] = float(np.mean(f["logits"].argmax(1) == labels))
        report["int8_accuracy"] = float(np.mean(q["logits"].argmax(1) == labels))
    if sampler is not None:
        k = max(1, int(round(top_fraction * len(images))))
        int8_top = fdal.rank_pool(model, images, k, strategy="fdal")
        float_top = np.argsort(f["score"], kind="stable")[:k]
        report.update(score_spearman=spearman(f["score"], q["score_raw"]), top_k=k,
                      fdal_topk_overlap=len(np.intersect1d(int8_top, float_top)) / k)
        report["score_sigmoid_mae"] = float(np.mean(np.abs(1 / (1 + np.exp(-f["score"].astype(np.float64)))
                                                           - q["score"])))
    if model.has_embedding:
        if f["embedding"].shape != q["embedding"].shape:
            raise ValueError(f"the file's embedding has {q['embedding'].shape[1]} values per image but the float "
                             f"{'decoder output' if decoder is not None else 'z'} has {f['embedding'].shape[1]}: "
                             f"pass decoder= for a file exported with embedding='decoder'")
        cos = cosine_per_row(f["embedding"], q["embedding"])
        report.update(embedding_dim=int(q["embedding"].shape[1]), embedding_cosine_mean=float(cos.mean()),
                      embedding_cosine_min=float(cos.min()))
    return report


_ROWS = (
    ("n", "images", "{:d}"),
    ("float_accuracy", "float accuracy", "{:.2%}"),
    ("int8_accuracy", "int8 accuracy", "{:.2%}"),
    ("top1_agreement", "top-1 agreement (float vs int8)", "{:.2%}"),
    ("score_spearman", "Spearman, sampler pre-sigmoid (float vs int8 raw)", "{:.4f}"),
    ("fdal_topk_overlap", "overlap of the 'fdal' top-k", "{:.3f}"),
    ("top_k", "k (top-10%)", "{:d}"),
    ("score_sigmoid_mae", "mean abs sampler probability error", "{:.5f}"),
    ("logit_mae", "mean abs logit error", "{:.4f}"),
    ("logit_max_error", "max abs logit error", "{:.4f}"),
    ("logit_range", "max abs float logit", "{:.3f}"),
    ("embedding_dim", "embedding values per image", "{:d}"),
    ("embedding_cosine_mean", "mean cosine, embedding (float vs int8)", "{:.5f}"),
    ("embedding_cosine_min", "min cosine, embedding (float vs int8)", "{:.5f}"),
    ("file_bytes", ".fdal file size", "{:,d} bytes"),
)


def format_report(report: dict) -> str:
    """The report as a two-column markdown table (rows for the keys present)."""
    lines = ["| metric | value |", "|---|---|"]
    for key, title, fmt_ in _ROWS:
        if key in report and report[key] is not None:
            value = fmt_.format(report[key])
            if key == "file_bytes":
                value += f" ({report[key] / 1024:.1f} KiB)"
            lines.append(f"| {title} | {value} |")
    return "\n".join(lines)
