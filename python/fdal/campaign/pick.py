"""`fdal cycle pick`: the next round's images.

Round 1 has no student: a seeded random draw of k images as `fdal al` draws its first labeled
set (numpy default_rng(seed).choice over the pool), or typicality over the teacher's embedding
(`--first typicality`, fdal.training.campaign.first_round). Every later round ranks the pool
with the last trained student's int8 .fdal through the native runtime (fdal.rank_pool), seeded
with that student's cycle seed (seed * 1000 + cycle, the runner's), leaving out every image
already labeled, skipped or still with the annotators. classbalanced is given the labeled
images' class counts.

classbalanced ranks every candidate, seeded by pool index (fdal.classbalanced), as `fdal al` does.
Candidates: every such image (the other pool-level rules then rank a seeded candidate set of at
most --cap, and say so), or with --candidates N a random subset of N drawn by the campaign's candidate RNG
(default_rng([seed, 1]), its state kept between rounds), which is `fdal al`'s per-cycle subset.
"""
from __future__ import annotations

import csv
import inspect
import os
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .labelstudio_format import IMAGE_URL_PREFIX, tasks_for_round
from .pixel_cache import key_digests, sync_pool
from .pool import locate
from .state import labeled_in_order, pending, round_dir, write_json_atomic


def default_strategy() -> str:
    """The project's default rule: fdal.rank_pool's (and so `fdal rank`'s) default."""
    import fdal
    return inspect.signature(fdal.rank_pool).parameters["strategy"].default


def cycle_seed(state: dict, cycle: int) -> int:
    """The runner's seed of cycle `cycle` (trial 0): training, calibration and ranking use it."""
    return int(state["seed"]) * 1000 + int(cycle)


def _available(pixels, state) -> np.ndarray:
    taken = set(state["labels"]) | set(state["skipped"]) | set(pending(state))
    out = np.fromiter((i for i, key in enumerate(pixels.keys) if key not in taken), np.int64)
    return out


def _candidate_rng(state):
    rng = np.random.default_rng([int(state["seed"]), 1])
    if state.get("candidate_rng") is not None:
        rng.bit_generator.state = state["candidate_rng"]
    return rng


def first_draw(state: dict, available: np.ndarray, k: int) -> np.ndarray:
    """`fdal al`'s first labeled set: default_rng(seed).choice of k of the pool, without replacement."""
    return available[np.random.default_rng(int(state["seed"])).choice(len(available), size=k, replace=False)]


def rank_round(state, pixels, model, cand, k, strategy, seed, cap, threads, say) -> tuple:
    """(picks as pool indices best first, their scores, ranking seconds) by the native runtime."""
    import fdal
    from fdal.strategies import BY_NAME, check_strategy
    try:
        check_strategy(strategy, model.has_sampler)
    except ValueError as exc:
        hint = " (train with `fdal cycle train --method fdal`, or pick with another --strategy)" \
            if strategy in BY_NAME else ""
        raise ValueError(f"{exc}{hint}") from None
    counts = None
    if strategy == "classbalanced":
        index = {c: i for i, c in enumerate(state["classes"])}
        counts = np.bincount([index[c] for c in state["labels"].values()], minlength=len(index)).astype(np.int64)
    t0 = time.perf_counter()
    if strategy == "classbalanced":
        # Every candidate, seeded by pool index (not by position among the candidates), as `fdal al`
        # ranks it (training/strategies/on_device.py): a campaign picks what the research runs picked.
        pos, scores = fdal.rank_pool(model, pixels.images(cand), k, strategy=strategy, seed=seed, cap=len(cand),
                                     threads=threads, pool_indices=cand, labeled_counts=counts,
                                     return_scores=True)
        pos = np.searchsorted(cand, pos)  # rank_pool returned pool indices; cand is ascending
    else:
        if BY_NAME[strategy].pool_level and len(cand) > cap:
            say(f"{strategy} is a pool-level rule: it ranks a seeded candidate set of {cap:,} of the "
                f"{len(cand):,} unlabeled images (--cap)")
        pos, scores = fdal.rank_pool(model, pixels.batches(cand), k, strategy=strategy, seed=seed, cap=cap,
                                     threads=threads, return_scores=True)
    seconds = time.perf_counter() - t0
    return cand[pos], scores, seconds


def predictions(model, images: np.ndarray, classes: list) -> tuple:
    """(class name, softmax probability) per image from the int8 model's logits."""
    logits = np.asarray(model.forward(images)["logits"], dtype=np.float64)
    logits -= logits.max(1, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(1, keepdims=True)
    top = prob.argmax(1)
    return [classes[i] for i in top], prob[np.arange(len(top)), top]


def image_urls(proj, state, keys, pixels, out_dir: Path) -> dict:
    """The URL Label Studio loads for each key: image files as they are; .npy rows written as PNG
    under out_dir/images/. Paths relative to the campaign's document root."""
    root = state["document_root"]
    urls = {}
    for key in keys:
        pool, source = locate(state["pools"], key)
        if pool["kind"] == "npy":
            from PIL import Image
            path = out_dir / "images" / f"{key}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            img = pixels.images([pixels.index[key]])[0]
            Image.fromarray(img[..., 0] if img.shape[2] == 1 else img).save(path)
            source = str(path)
        rel = os.path.relpath(os.path.abspath(source), root)
        urls[key] = IMAGE_URL_PREFIX + quote(rel.replace(os.sep, "/"))  # as Label Studio's own local storage quotes
    return urls


def pick(proj, state: dict, k: int, *, strategy=None, first: str = "random", candidates=None, cap=None,
         workers=None, threads: int = 1, progress: bool = False, say=print) -> dict:
    """Pick round R = len(rounds) + 1 and record it in `state` (the caller saves it). Writes
    rounds/round-R/picks.csv and tasks.json. Returns a summary for the command line."""
    from fdal.strategies import DEFAULT_CAP
    rnd = len(state["rounds"]) + 1
    pixels, stats = sync_pool(proj, state, workers, progress, warn=lambda m: say(f"warning: {m}"))
    if stats["decoded"]:
        say(f"decoded {stats['decoded']:,} new or changed image files in {stats['seconds']:.2f} s "
            f"({stats['decoded'] / max(stats['seconds'], 1e-9):,.0f} images/s, {stats['processes']} processes); "
            f"pool {len(pixels):,} images")
    else:
        say(f"pool {len(pixels):,} images, all decoded before ({stats['seconds']:.2f} s to check)")
    available = _available(pixels, state)
    if len(available) < k:
        raise ValueError(f"only {len(available):,} pool images are neither labeled, skipped nor waiting for "
                         f"labels; cannot pick {k}")
    summary = {"round": rnd, "pool": len(pixels), "available": int(len(available))}
    model_rec, model = None, None
    if state["models"]:
        model_rec = state["models"][-1]
    if rnd == 1 or model_rec is None:
        if rnd > 1:
            raise ValueError(f"round {rnd} ranks with a student and none is trained yet: import the labels, "
                             f"then run `fdal cycle train {proj}`")
        if strategy is not None:
            raise ValueError("round 1 has no student to rank with; --strategy applies from round 2 "
                             "(use --first random|typicality for round 1)")
        if first == "random":
            picks = first_draw(state, available, k)
        elif first == "typicality":
            from fdal.training.campaign.first_round import typicality_picks
            picks = typicality_picks(state, pixels, available, k, cap or DEFAULT_CAP)
        else:
            raise ValueError(f"--first must be 'random' or 'typicality', got {first!r}")
        scores = np.zeros(len(picks))
        names, probs = [None] * len(picks), [None] * len(picks)
        rec = {"first": first, "seed": int(state["seed"]), "model": None}
    else:
        import fdal
        if first != "random":
            raise ValueError("--first applies to round 1 only")
        if len(state["rounds"]) - 1 != model_rec["cycle"]:
            say(f"note: the latest student was trained after round {model_rec['cycle'] + 1} of {len(state['rounds'])}; "
                f"run `fdal cycle train {proj}` to include the newer labels")
        strategy = strategy or default_strategy()
        model_path = Path(proj) / model_rec["dir"] / "student.fdal"
        model = fdal.load(str(model_path))
        if tuple(model.input_shape) != tuple(state["image_shape"]):
            raise ValueError(f"{model_path}: input {model.input_shape} differs from the campaign's images")
        seed = cycle_seed(state, model_rec["cycle"])
        if candidates is not None:
            rng = _candidate_rng(state)
            cand = np.sort(rng.choice(available, size=min(candidates, len(available)), replace=False))
            state["candidate_rng"] = rng.bit_generator.state
            rank_cap = len(cand)
        else:
            cand, rank_cap = available, cap or DEFAULT_CAP
        picks, scores, seconds = rank_round(state, pixels, model, cand, k, strategy, seed, rank_cap, threads, say)
        say(f"ranked {len(cand):,} images with {model_path.name} ({strategy}) in {seconds:.2f} s "
            f"({len(cand) / max(seconds, 1e-9):,.0f} images/s, {threads} thread{'s' * (threads > 1)})")
        names, probs = predictions(model, pixels.images(picks), state["classes"])
        rec = {"strategy": strategy, "seed": seed, "model": model_rec["dir"], "candidates": int(len(cand)),
               "candidate_rule": "all" if candidates is None else f"random {candidates}"}
        summary["ranked"] = int(len(cand))
    keys = [pixels.keys[i] for i in picks]
    out_dir = round_dir(proj, rnd)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [{"key": key, "rank": i + 1, "score": float(s), "predicted": n,
             "probability": None if p is None else float(p)}
            for i, (key, s, n, p) in enumerate(zip(keys, scores, names, probs))]
    with open(out_dir / "picks.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "rank", "score", "predicted", "probability"])
        w.writerows([r["key"], r["rank"], repr(r["score"]), r["predicted"] or "",
                     "" if r["probability"] is None else f"{r['probability']:.4f}"] for r in rows)
    version = None if model_rec is None else f"{model_rec['dir']}/student.fdal sha256 {model.sha256[:12]}"
    tasks = tasks_for_round(state["id"], rnd, rows, image_urls(proj, state, keys, pixels, out_dir), version)
    write_json_atomic(out_dir / "tasks.json", tasks, indent=1)
    state["digests"].update(key_digests(proj, pixels, state, keys))
    state["rounds"].append({"round": rnd, "picked": keys, **rec})
    summary.update(picked=len(keys), picks=str(out_dir / "picks.csv"), tasks=str(out_dir / "tasks.json"),
                   labeled=len(labeled_in_order(state)))
    return summary
