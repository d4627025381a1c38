"""Issue 18: sharded ranking merges exactly. For every strategy, the merge of 5 uneven shards (and of
shards from mixed splits) equals one fdal.rank_pool over the whole pool; parts round-trip through
their .npz files; parts that do not belong together are refused with a message naming why; and a
fleet of devices' parts follows the global order with a per-device cap computed by hand."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing
from fdal.merge import merge_topk
from fdal.part import load_part
from fdal.shard import parse_shard, rank_shard, shard_range
from fdal.strategies import PER_IMAGE_STRATEGIES, POOL_STRATEGIES, STRATEGIES

SEED = 18
N = 233  # not a multiple of 5: shards of 46 and 47 images


@functools.lru_cache(maxsize=None)
def model_bytes(seed=SEED):
    return fmt.write_model(testing.random_model(seed, "tiny", n_calibration=32, embedding="student",
                                                input_shape=(8, 8, 3)))


@pytest.fixture(scope="module")
def model():
    return fdal.load(model_bytes())


@pytest.fixture(scope="module")
def pool():
    return testing.random_images(SEED + 1, N, (8, 8, 3))


def test_shard_ranges_cover_the_pool():
    for n in (0, 1, 4, 233, 1000):
        for m in (1, 2, 5, 7, 1001):
            ranges = [shard_range(n, i, m) for i in range(m)]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            sizes = [b - a for a, b in ranges]
            assert max(sizes) - min(sizes) <= 1, (n, m, sizes)


@pytest.mark.parametrize("text, want", [("0/1", (0, 1)), ("3/5", (3, 5)), (" 2 / 4 ", (2, 4)), ((1, 3), (1, 3))])
def test_parse_shard(text, want):
    assert parse_shard(text) == want


@pytest.mark.parametrize("text, fragment", [("3/2", "I must be in 0..1"), ("2/2", "I must be in 0..1"),
                                            ("0/0", "at least 1"), ("a/b", "must be I/M"),
                                            ("-1/3", "I must be in 0..2"), ("1", "must be I/M"),
                                            ("1/2/3", "must be I/M"), ("", "must be I/M")])
def test_bad_shard_specs(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_shard(text)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("k", [1, 30, 60])  # 60: more than a shard holds (parts keep their whole shard)
def test_five_shards_merge_to_one_ranking(model, pool, strategy, k, tmp_path):
    seed, cap = SEED * 7 + k, 90  # cap below N: the candidates are a strict subset of the pool
    if BY(strategy).pool_level and k > cap:
        pytest.skip("k > cap")
    want = fdal.rank_pool(model, pool, k, strategy=strategy, seed=seed, cap=cap)
    paths = []
    for i in range(5):
        part = rank_shard(model, pool, k, (i, 5), strategy=strategy, seed=seed, cap=cap, batch_size=19)
        part.save(tmp_path / f"part-{i}.npz")
        paths.append(tmp_path / f"part-{i}.npz")
    merged = merge_topk(paths[::-1], k)  # the order of the parts does not matter
    np.testing.assert_array_equal(merged.indices, want, err_msg=f"{strategy} seed {seed} k {k}")
    assert merged.files is None and merged.devices is None
    if strategy in PER_IMAGE_STRATEGIES:
        _, scores = fdal.rank_pool(model, pool, k, strategy=strategy, seed=seed, return_scores=True)
        np.testing.assert_array_equal(merged.scores, scores)
    else:  # pool-level picks are reported with their margin keys, as rank_pool's scores
        _, scores = fdal.rank_pool(model, pool, k, strategy=strategy, seed=seed, cap=cap, return_scores=True)
        np.testing.assert_array_equal(merged.keys.astype(np.float64), scores)


def BY(name):
    return fdal.strategies.BY_NAME[name]


@pytest.mark.parametrize("strategy", ["margin", "random", "kcenter", "classbalanced"])
def test_mixed_splits_and_ties(pool, strategy):
    # Shards of different splits that still tile the pool (0/2, 2/4, 3/4), on a pool of repeated
    # images: many equal keys, so ties must go to the lower global index as in the runtime.
    model = fdal.load(model_bytes())
    tied = np.concatenate([pool[:40]] * 5 + [pool[:33]])
    rng = np.random.default_rng(SEED)
    tied = tied[rng.permutation(len(tied))]
    counts = [3] * model.num_classes if strategy == "classbalanced" else None
    want = fdal.rank_pool(model, tied, 25, strategy=strategy, seed=SEED, cap=120, labeled_counts=counts)
    parts = [rank_shard(model, tied, 25, s, strategy=strategy, seed=SEED, cap=120, labeled_counts=counts)
             for s in ("0/2", "2/4", "3/4")]
    np.testing.assert_array_equal(merge_topk(parts, 25).indices, want, err_msg=f"seed {SEED}")


def test_missing_shard_is_refused_unless_allowed(model, pool):
    parts = [rank_shard(model, pool, 10, (i, 5), strategy="margin") for i in (0, 1, 3, 4)]
    with pytest.raises(ValueError, match=r"missing shard: rows \[93, 139\) of the pool of 233"):
        merge_topk(parts, 10)
    # allowed: the exact top 10 of the shards given (rank_pool over them, with their global indices)
    keep = np.r_[0:93, 139:233]
    want = keep[fdal.rank_pool(model, pool[keep], 10, strategy="margin")]
    np.testing.assert_array_equal(merge_topk(parts, 10, allow_missing=True).indices, want)


def test_refusals(model, pool, tmp_path):
    part = functools.partial(rank_shard, model, pool, 10, strategy="margin")
    a, b = part((0, 2)), part((1, 2))
    other = fdal.load(model_bytes(SEED + 5))
    cases = [
        ([a, rank_shard(other, pool, 10, (1, 2), strategy="margin")], "parts from different models"),
        ([a, part((1, 2), strategy="entropy")], "parts from different strategies"),
        ([a, rank_shard(model, pool, 10, (1, 2), strategy="random", seed=1),
          rank_shard(model, pool, 10, (0, 2), strategy="random", seed=2)], "different strategies"),
        ([a, a, b], "duplicate shard"),
        ([a, part((1, 3)), b], "overlapping shards"),
        ([a, rank_shard(model, pool[:200], 10, (1, 2), strategy="margin")], "pool sizes"),
        ([a, b, part((1, 2), device_id="cam")], "has device id 'cam' but"),
    ]
    for parts, fragment in cases:
        with pytest.raises(ValueError, match=fragment):
            merge_topk(parts, 10)
    r0 = rank_shard(model, pool, 10, (0, 2), strategy="random", seed=1)
    r1 = rank_shard(model, pool, 10, (1, 2), strategy="random", seed=2)
    with pytest.raises(ValueError, match="parts from different seeds"):
        merge_topk([r0, r1], 10)
    with pytest.raises(ValueError, match=r"k=11 is larger than .* holds: 10 picks \(ranked with -k 10\)"):
        merge_topk([a, b], 11)
    small = [rank_shard(model, pool[:6], 10, (i, 3), strategy="margin") for i in range(3)]
    with pytest.raises(ValueError, match="k=7 is larger than the 6 picks the parts hold"):
        merge_topk(small, 7)
    with pytest.raises(ValueError, match="per_device_cap .* needs parts with device ids"):
        merge_topk([a, b], 5, per_device_cap=2)
    k1 = rank_shard(model, pool, 10, (0, 2), strategy="kcenter", cap=50)
    k2 = rank_shard(model, pool, 10, (1, 2), strategy="kcenter", cap=60)
    with pytest.raises(ValueError, match="parts from different caps"):
        merge_topk([k1, k2], 10)
    with pytest.raises(ValueError, match="no parts"):
        merge_topk([], 3)
    for k in (0, -1, 2.0):
        with pytest.raises(ValueError, match="k"):
            merge_topk([a, b], k)


def test_corrupted_part_files(model, pool, tmp_path):
    good = tmp_path / "good.npz"
    rank_shard(model, pool, 5, (0, 1), strategy="fdal").save(good)
    loaded, made = load_part(good), rank_shard(model, pool, 5, (0, 1), strategy="fdal")
    for name, value in vars(made).items():
        if name != "source":
            assert np.array_equal(getattr(loaded, name), value) if isinstance(value, np.ndarray) \
                else getattr(loaded, name) == value, name
    assert loaded.keys.dtype == np.int32
    (tmp_path / "text.npz").write_text("hello")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    z = dict(np.load(good))
    z["indices"] = z["indices"] + 10_000
    np.savez(tmp_path / "outside.npz", **z)
    z = dict(np.load(good))
    z["keys"] = z["keys"].astype(np.float64)
    np.savez(tmp_path / "dtype.npz", **z)
    for name, fragment in [("text.npz", "not an fdal part"), ("array.npy", "single .npy array"),
                           ("other.npz", "not an fdal part .no 'format'"),
                           ("outside.npz", "indices outside the shard"), ("dtype.npz", "'keys' is float64")]:
        with pytest.raises(ValueError, match=fragment):
            load_part(tmp_path / name)


def test_pool_level_parts_run_only_their_candidates(model, pool):
    part = rank_shard(model, pool, 10, (1, 5), strategy="typiclust", cap=20)
    assert len(part.indices) == 20 and part.embeddings.shape == (20, model.embedding_dim)
    assert np.all(np.diff(part.indices) > 0)
    with pytest.raises(ValueError, match="k=30 is larger than the number of candidates 20"):
        rank_shard(model, pool, 30, (1, 5), strategy="typiclust", cap=20)


def test_pool_level_across_devices_is_refused(model, pool):
    parts = [rank_shard(model, pool, 5, (0, 1), strategy="power", device_id=d) for d in ("a", "b")]
    with pytest.raises(ValueError, match="pool-level: it picks by a rule over one pool's candidates"):
        merge_topk(parts, 5)


def fleet_by_hand(pools_keys, k, cap):
    """The cap rule written out: all (key, device, index) rows of the concatenated pools sorted,
    taken in order unless the row's device has `cap` picks already."""
    rows = sorted((key, device, index) for device, keys in pools_keys.items() for index, key in enumerate(keys))
    taken, out = {}, []
    for key, device, index in rows:
        if cap is None or taken.get(device, 0) < cap:
            taken[device] = taken.get(device, 0) + 1
            out.append((device, index))
        if len(out) == k:
            break
    return out


@pytest.mark.parametrize("strategy", ["margin", "fdal", "entropy"])
@pytest.mark.parametrize("k, cap", [(12, None), (8, 3), (12, 5), (20, 7)])
def test_fleet_budget(model, strategy, k, cap):
    # Three devices with pools of different sizes; device "b" holds near-copies of "a"'s best images
    # so the cap decides. Each device is ranked in 2 or 3 shards.
    rng = np.random.default_rng(SEED + k)
    pools = {"a": testing.random_images(SEED + 2, 70, (8, 8, 3)), "c": testing.random_images(SEED + 3, 31, (8, 8, 3))}
    pools["b"] = np.concatenate([pools["a"][:20], testing.random_images(SEED + 4, 25, (8, 8, 3))])[rng.permutation(45)]
    splits = {"a": 3, "b": 2, "c": 3}
    parts = [rank_shard(model, pools[d], 20, (i, m), strategy=strategy, device_id=d)
             for d, m in splits.items() for i in range(m)]
    merged = merge_topk(parts[::-1], k, per_device_cap=cap)
    from fdal.oracle.keys import keys as oracle_keys
    keys = {}
    for d, p in pools.items():
        out = model.forward(p)
        out["logits_unit"] = model.info["layers"][model.info["logits_layer"]]["out_scale"]
        keys[d] = oracle_keys(out, strategy).tolist()
    want = fleet_by_hand(keys, k, cap)
    assert list(zip(merged.devices, merged.indices.tolist())) == want, f"seed {SEED + k}"
    if cap is not None:
        assert max(merged.devices.count(d) for d in pools) <= cap
    # Without the cap, the fleet's top k is the top k of the pools concatenated in device-id order.
    if cap is None:
        concat = np.concatenate([pools[d] for d in sorted(pools)])
        offsets = np.cumsum([0] + [len(pools[d]) for d in sorted(pools)])
        got = [offsets[sorted(pools).index(d)] + i for d, i in zip(merged.devices, merged.indices)]
        np.testing.assert_array_equal(got, fdal.rank_pool(model, concat, k, strategy=strategy))


def test_fleet_cap_too_small_and_truncated_parts(model):
    pools = {d: testing.random_images(SEED + j, 30, (8, 8, 3)) for j, d in enumerate("abc")}
    parts = [rank_shard(model, pools[d], 4, (0, 1), strategy="margin", device_id=d) for d in pools]
    with pytest.raises(ValueError, match=r"k=10 is larger than the 12 picks the parts hold \(9 with at most 3"):
        merge_topk(parts, 10, per_device_cap=3)
    # a part truncated at 4 picks answers a cap of 4 exactly, not of 5
    assert len(merge_topk(parts, 12, per_device_cap=4).indices) == 12
    with pytest.raises(ValueError, match="rank the shards with -k 5 or more"):
        merge_topk(parts, 12, per_device_cap=5)


@pytest.mark.parametrize("strategy", ["margin", "random", "kcenter", "power"])
def test_more_shards_than_images(model, pool, strategy, tmp_path):
    # 3 images in 5 shards: two shards are empty; their parts hold nothing and still count as present.
    small = pool[:3]
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"p{i}.npz")
        rank_shard(model, small, 2, (i, 5), strategy=strategy, seed=SEED).save(paths[-1])
    assert sum(len(load_part(p).indices) == 0 for p in paths) == 2
    np.testing.assert_array_equal(merge_topk(paths, 2).indices,
                                  fdal.rank_pool(model, small, 2, strategy=strategy, seed=SEED))
