"""rank_pool's pool-level strategies (kcenter, typiclust, probcover, power, classbalanced; docs/selection.md,
"Strategies") against oracle.rank, bit for bit: the `cap` candidates with the smallest seeded random
keys, the rule over them in pool-index order, pool indices in pick order; on every kernel path this
CPU runs, with 1 and 3 threads, pools larger and smaller than cap, batches that split them unevenly."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing
from fdal.strategies import BY_NAME, DEFAULT_CAP, POOL_STRATEGIES


@functools.lru_cache(maxsize=None)
def model_bytes(arch, embedding):
    shape = (8, 8, 3) if arch == "tiny" else (32, 32, 3)
    return fmt.write_model(testing.random_model(41, arch, n_calibration=32, embedding=embedding, input_shape=shape))


def test_pool_strategies_are_the_pool_rules():
    assert POOL_STRATEGIES == oracle.POOL_RULES == fdal._core.POOL_RULES
    assert DEFAULT_CAP == fdal._core.DEFAULT_CAP == 10000
    assert [s for s in POOL_STRATEGIES if BY_NAME[s].needs_embedding] == ["kcenter", "typiclust", "probcover"]


@pytest.mark.parametrize("path", fdal.kernel_paths())
@pytest.mark.parametrize("strategy", POOL_STRATEGIES)
def test_tiny_matches_oracle_on_every_path(path, strategy):
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data, kernels=path)
    pool = testing.random_images(42, 230, spec.input_shape)
    for cap, k, seed in ((70, 20, 0), (70, 70, 2**64 - 1), (500, 31, 7), (DEFAULT_CAP, 1, 3)):
        want = oracle.rank(spec, pool, k, strategy, seed=seed, cap=cap)
        assert want.dtype == np.int64 and len(set(want.tolist())) == k
        for threads in (1, 3):
            for batch_size in (37, 256):
                got = fdal.rank_pool(model, pool, k, strategy=strategy, seed=seed, cap=cap, threads=threads,
                                     batch_size=batch_size)
                np.testing.assert_array_equal(got, want, err_msg=f"{path} cap {cap} k {k} threads {threads} "
                                                                 f"batch {batch_size}")
        # Streamed in uneven chunks (with an empty one) as an iterable: the same picks.
        chunks = [pool[:13], pool[13:13], pool[13:150], pool[150:]]
        np.testing.assert_array_equal(fdal.rank_pool(model, iter(chunks), k, strategy=strategy, seed=seed,
                                                     cap=cap, batch_size=29), want)


@pytest.mark.parametrize("strategy", POOL_STRATEGIES)
@pytest.mark.parametrize("embedding", ["student", "decoder"])
def test_vgg_matches_oracle(strategy, embedding):
    data = model_bytes("vgg11_lite", embedding)
    spec, model = fmt.read_model(data), fdal.load(data)
    pool = testing.random_images(43, 150, spec.input_shape)
    for cap in (60, 1000):
        want = oracle.rank(spec, pool, 12, strategy, seed=5, cap=cap)
        for threads in (1, 3):
            got = fdal.rank_pool(model, pool, 12, strategy=strategy, seed=5, cap=cap, threads=threads, batch_size=41)
            np.testing.assert_array_equal(got, want, err_msg=f"{embedding} cap {cap} threads {threads}")


def test_candidates_are_the_random_strategys_first_cap():
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data)
    pool = testing.random_images(44, 120, spec.input_shape)
    first = set(oracle.rank(spec, pool, 40, "random", seed=9).tolist())
    for strategy in POOL_STRATEGIES:  # k = cap: every candidate is picked
        got = fdal.rank_pool(model, pool, 40, strategy=strategy, seed=9, cap=40)
        assert set(got.tolist()) == first, strategy
    # The picks depend on the seed through the candidates (and the rules' random keys).
    a = fdal.rank_pool(model, pool, 10, strategy="kcenter", seed=1, cap=40)
    assert not np.array_equal(a, fdal.rank_pool(model, pool, 10, strategy="kcenter", seed=2, cap=40))


def test_power_needs_no_embedding_and_the_others_name_the_fix(vgg, pool):
    for strategy in ("power", "classbalanced"):
        got = fdal.rank_pool(vgg.model, pool, 20, strategy=strategy, seed=3, cap=100)
        np.testing.assert_array_equal(got, oracle.rank(vgg.spec, pool, 20, strategy, seed=3, cap=100))
    for strategy in ("kcenter", "typiclust", "probcover"):
        with pytest.raises(ValueError, match=f"strategy '{strategy}' needs per-image embeddings.*`fdal export`"):
            fdal.rank_pool(vgg.model, pool, 5, strategy=strategy)
        with pytest.raises(ValueError, match="re-export it with `fdal export`"):
            oracle.rank(vgg.spec, pool, 5, strategy)
        with pytest.raises(ValueError, match="re-export it with `fdal export`"):  # the C++ check too
            fdal._core.Ranker(vgg.model._native, strategy, 5, 0)


def test_k_larger_than_the_candidates_is_an_error():
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data)
    pool = testing.random_images(45, 50, spec.input_shape)
    for strategy in POOL_STRATEGIES:
        with pytest.raises(ValueError, match="larger than the number of candidates 20"):
            fdal.rank_pool(model, pool, 21, strategy=strategy, cap=20)
        with pytest.raises(ValueError, match="larger than the number of candidates 20"):  # streamed: at the end
            fdal.rank_pool(model, iter([pool[:30], pool[30:]]), 21, strategy=strategy, cap=20)
        with pytest.raises(ValueError, match="larger than the number of candidates 20"):
            oracle.rank(spec, pool, 21, strategy, cap=20)
        with pytest.raises(ValueError, match="larger than the pool size 50"):
            fdal.rank_pool(model, pool, 51, strategy=strategy)
        with pytest.raises(ValueError, match="cap must be positive"):
            fdal.rank_pool(model, pool, 5, strategy=strategy, cap=0)
        with pytest.raises(ValueError, match=r"larger than the number of candidates 20 \(cap=20\)"):
            fdal._core.Ranker(model._native, strategy, 21, 0, 1, 20)
        ranker = fdal._core.Ranker(model._native, strategy, 21, 0, 1, 30)  # 30 may come; 20 came
        ranker.push(pool[:20])
        with pytest.raises(ValueError, match=r"larger than the number of candidates 20 \(pool size 20, cap 30\)"):
            ranker.finish()
        with pytest.raises(ValueError, match="cap must be at least 1"):
            fdal._core.Ranker(model._native, strategy, 5, 0, 1, 0)


def test_finish_twice_and_push_after_finish():
    # finish() reorders the candidates in place; the ranker stays valid for more images.
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data)
    pool = testing.random_images(46, 160, spec.input_shape)
    for strategy in POOL_STRATEGIES:
        ranker = fdal._core.Ranker(model._native, strategy, 9, 4, 1, 30)
        ranker.push(pool[:80])
        first = ranker.finish()
        np.testing.assert_array_equal(ranker.finish(), first)
        np.testing.assert_array_equal(first, oracle.rank(spec, pool[:80], 9, strategy, seed=4, cap=30))
        ranker.push(pool[80:])
        np.testing.assert_array_equal(ranker.finish(), oracle.rank(spec, pool, 9, strategy, seed=4, cap=30))


def _tied_logits_model():
    """The tiny model with classes 0 and 1 given the same logits row: argmax ties on every image."""
    spec = testing.random_model(41, "tiny", n_calibration=32, embedding="student", input_shape=(8, 8, 3))
    logits = spec.layers[spec.logits_layer]
    logits.weights[1] = logits.weights[0]
    logits.bias[1] = logits.bias[0]
    data = fmt.write_model(spec)
    return fmt.read_model(data), data


@pytest.mark.parametrize("path", fdal.kernel_paths())
def test_classbalanced_with_tied_logits_matches_oracle(path):
    spec, data = _tied_logits_model()
    model = fdal.load(data, kernels=path)
    pool = testing.random_images(47, 230, spec.input_shape)
    out = oracle.forward(spec, pool, 64)
    assert np.array_equal(out["logits_raw"][:, 0], out["logits_raw"][:, 1])  # the tie is real
    for cap, k, seed in ((70, 70, 1), (500, 40, 8), (30, 7, 2**64 - 1)):
        want = oracle.rank(spec, pool, k, "classbalanced", seed=seed, cap=cap)
        for threads in (1, 3):
            got = fdal.rank_pool(model, pool, k, strategy="classbalanced", seed=seed, cap=cap, threads=threads,
                                 batch_size=33)
            np.testing.assert_array_equal(got, want, err_msg=f"{path} cap {cap} k {k} threads {threads}")


def test_classbalanced_picks_round_robin_over_predicted_classes():
    """k = cap: the picks, in order, visit the predicted classes rarest first, one per class a round."""
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data)
    pool = testing.random_images(48, 300, spec.input_shape)
    cap = 120
    picks = fdal.rank_pool(model, pool, cap, strategy="classbalanced", seed=6, cap=cap)
    np.testing.assert_array_equal(picks, oracle.rank(spec, pool, cap, "classbalanced", seed=6, cap=cap))
    pred = np.argmax(oracle.forward(spec, pool[picks], 64)["logits_raw"], axis=1)
    labels, counts = np.unique(pred, return_counts=True)
    visit = labels[np.lexsort((labels, counts))]
    at, depth = 0, 0
    while at < cap:  # each round: one pick from every class still holding candidates, rarest first
        live = [c for c in visit if counts[labels == c][0] > depth]
        assert pred[at:at + len(live)].tolist() == live, (depth, pred[at:at + len(live)], live)
        at, depth = at + len(live), depth + 1


@pytest.mark.parametrize("path", fdal.kernel_paths())
def test_classbalanced_labeled_counts_match_oracle(path):
    """labeled_counts: the same picks as the oracle on every path, threads and batching; they
    change the picks toward the least labeled predicted classes."""
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data, kernels=path)
    pool = testing.random_images(49, 260, spec.input_shape)
    classes = spec.layers[spec.logits_layer].weights.shape[0]
    rng = np.random.default_rng(50)
    for cap, k, seed in ((90, 40, 3), (500, 25, 2**64 - 1)):
        counts = rng.integers(0, 30, size=classes).astype(np.int64)
        want = oracle.rank(spec, pool, k, "classbalanced", seed=seed, cap=cap, labeled_counts=counts)
        for threads, batch_size in ((1, 256), (3, 31)):
            got = fdal.rank_pool(model, pool, k, strategy="classbalanced", seed=seed, cap=cap, threads=threads,
                                 batch_size=batch_size, labeled_counts=counts.tolist())
            np.testing.assert_array_equal(got, want, err_msg=f"{path} cap {cap} k {k} threads {threads}")
    # One class labeled far ahead: no pick is predicted as that class while others have candidates.
    plain = fdal.rank_pool(model, pool, 30, strategy="classbalanced", seed=1, cap=200)
    pred = np.argmax(oracle.forward(spec, pool, 64)["logits_raw"], axis=1)
    top = int(np.bincount(pred[plain]).argmax())
    counts = np.zeros(classes, dtype=np.int64)
    counts[top] = 10**6
    filled = fdal.rank_pool(model, pool, 30, strategy="classbalanced", seed=1, cap=200, labeled_counts=counts)
    assert top in pred[plain] and top not in pred[filled]


@pytest.mark.parametrize("bad, message", [
    ({"strategy": "power", "labeled_counts": [0, 0]}, "labeled_counts is for strategy 'classbalanced' only"),
    ({"labeled_counts": [1, 2, 3]}, "labeled_counts has 3 entries; the model has"),
    ({"labeled_counts": "abc"}, "labeled_counts must be a 1-D sequence of integers"),
    ({"labeled_counts": [[1]]}, "labeled_counts must be a 1-D sequence of integers"),
    ({"labeled_counts": [0.5]}, "labeled_counts must be a 1-D sequence of integers"),
    ({"labeled_counts": "negative"}, "labeled_counts must be in 0..2^62"),
])
def test_labeled_counts_bad_inputs(bad, message):
    data = model_bytes("tiny", "student")
    spec, model = fmt.read_model(data), fdal.load(data)
    classes = spec.layers[spec.logits_layer].weights.shape[0]
    bad = dict(bad)
    if bad["labeled_counts"] == "negative":
        bad["labeled_counts"] = [-1] + [0] * (classes - 1)
    bad.setdefault("strategy", "classbalanced")
    pool = testing.random_images(51, 20, spec.input_shape)
    with pytest.raises(ValueError, match=message.replace("^", r"\^")):
        fdal.rank_pool(model, pool, 3, **bad)
    if bad["strategy"] == "power":  # the native ranker refuses it too
        with pytest.raises(ValueError, match="takes no labeled counts"):
            fdal._core.Ranker(model._native, "power", 3, 0, 1, 10, np.zeros(classes, np.int64))
