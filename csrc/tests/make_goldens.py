"""Regenerate the golden files of the C++ tests (csrc/tests/golden/) with the numpy oracle.

    python csrc/tests/make_goldens.py               # rewrites csrc/tests/golden/*
    python csrc/tests/make_goldens.py --out DIR     # writes them elsewhere (tests compare the bytes)

Everything is seeded: running it twice gives identical bytes. Files:
  *.fdal            models: ops_mix (every op, odd shapes), vgg11_lite and alexnet_lite (16x16x3),
                    tiny (8x8x1, no sampler): format 1.0 files (no embedding; old files must load);
                    embedding_branch (16x16x3, format 2.0): a VGG-like student whose embedding is a
                    decoder-like branch no other layer reads; ties (6x6x5, format 2.0): exact
                    rounding ties on most accumulators, accumulators next to +-2^31, zero points
                    -128 and 127 (fdal.testing.ties)
  <model>.layers.gold   per-layer oracle outputs for 2 images (kernel tests)
  <model>.forward.gold  raw and float heads (and the embedding, int8 and float) for 4 images
  pool.npy, rank.gold   a 32-image pool for alexnet_lite and oracle top-k for every per-image strategy
  rank_pool.gold        the pool-level strategies' picks on embedding_branch for the same pool, with
                        the default cap and with cap POOL_CAP (seeded candidates)
  tiny_pool.raw         a raw 40-image pool for the tiny model
  int16_pool.npy        a pool of the wrong dtype (error test)
  rank_*.txt            the exact stdout fdal-rank must print (end-to-end tests)

.gold archive (read by csrc/tests/golden.h): "FDALGOLD", u32 count, then per array:
u16 name length, name, u8 dtype code, u8 ndim, u32 dims[ndim], little-endian data.
"""
from __future__ import annotations

import argparse
import dataclasses
import struct
from pathlib import Path

import numpy as np

from fdal import oracle, testing
from fdal.testing import ties
from fdal.format import write_model
from fdal.strategies import DEFAULT_CAP, PER_IMAGE_STRATEGIES, POOL_STRATEGIES

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
DTYPES = {np.dtype(np.int8): 1, np.dtype(np.uint8): 2, np.dtype(np.int32): 3, np.dtype(np.int64): 4,
          np.dtype(np.uint64): 5, np.dtype(np.float32): 6, np.dtype(np.float64): 7}
RANK_K = 6
RANDOM_SEED = 12345678901234567
POOL_CAP = 20  # < the 32-image pool: the pool-level goldens with it pick from seeded candidates


def write_gold(path: Path, arrays: dict) -> None:
    out = bytearray(b"FDALGOLD" + struct.pack("<I", len(arrays)))
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        raw = name.encode()
        out += struct.pack("<H", len(raw)) + raw + struct.pack("<BB", DTYPES[arr.dtype], arr.ndim)
        out += struct.pack(f"<{arr.ndim}I", *arr.shape) + arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    path.write_bytes(bytes(out))


def ops_mix_model():
    """Every op with odd shapes, asymmetric kernels, strides and padding."""
    b = testing.ModelBuilder((7, 6, 2), seed=21)
    b.conv2d(5, kernel=(3, 2), stride=(2, 1), pad=(1, 0, 1, 1))            # (4, 6, 5), fused relu
    b.maxpool((2, 3), stride=(1, 2), pad=(1, 1, 0, 1))                     # (4, 3, 5)
    b.conv2d(4, kernel=(1, 1), relu=False)                                 # (4, 3, 4)
    b.relu()
    b.upsample((2, 3))                                                     # (8, 9, 4)
    b.avgpool((3, 2), stride=(2, 3))                                       # (3, 3, 4)
    feat = b.flatten()                                                     # (1, 1, 36)
    b.fc(6, relu=False)
    b.fc(3, head="logits")
    b.fc(1, head="score", input=feat)
    return b.build(n_calibration=64)


def embedding_branch_model():
    """A small VGG-like student + sampler whose embedding is a decoder-shaped branch reading z
    (conv3x3, conv3x3, global average pool) that no other layer reads: the planner must keep it."""
    b = testing.ModelBuilder((16, 16, 3), seed=22)
    b.conv2d(8, (3, 3), pad=(1, 1, 1, 1))
    b.maxpool((4, 4))
    b.conv2d(16, (3, 3), pad=(1, 1, 1, 1))
    z = b.maxpool((2, 2))                                                  # (2, 2, 16)
    feat = b.flatten()
    b.fc(32)
    b.fc(5, head="logits")
    b.fc(1, head="score", input=feat)
    b.conv2d(24, (3, 3), pad=(1, 1, 1, 1), input=z)
    b.conv2d(40, (3, 3), pad=(1, 1, 1, 1))
    b.embedding(b.avgpool((2, 2)))                                         # (1, 1, 40)
    return b.build(n_calibration=64)


def as_format_1_0(spec):
    """The golden models that predate the embedding stay format 1.0 files."""
    return dataclasses.replace(spec, version=(1, 0))


def layer_arrays(spec, images) -> dict:
    arrays = {"images": images, "input_q": oracle.apply_lut(spec.lut, images)}
    for i, out in enumerate(oracle.run_layers(spec, images)):
        arrays[f"layer{i}"] = out
    return arrays


def forward_arrays(spec, images) -> dict:
    out = oracle.forward(spec, images)
    arrays = {"images": images, "logits_raw": out["logits_raw"], "logits": out["logits"]}
    if out["score_raw"] is not None:
        arrays.update(score_raw=out["score_raw"], score=out["score"])
    if out["embedding_q"] is not None:
        arrays.update(embedding_q=out["embedding_q"], embedding=out["embedding"])
    return arrays


def tool_stdout(spec, pool, k, strategy, seed=0, scores=False, cap=DEFAULT_CAP) -> str:
    """What `fdal-rank MODEL POOL -k k --strategy s --seed seed [--scores] [--cap cap]` prints
    (pool-level strategies' keys: each pick's margin key)."""
    idx = oracle.rank(spec, pool, k, strategy, seed=seed, cap=cap)
    if not scores:
        return "".join(f"{i}\n" for i in idx)
    keys = oracle.keys(oracle.forward(spec, pool), strategy, seed=seed)[idx]
    if strategy == "entropy":
        return "".join(f"{i}\t{float(v):.17g}\n" for i, v in zip(idx, keys))
    return "".join(f"{i}\t{int(v)}\n" for i, v in zip(idx, keys))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the C++ tests' golden files with the numpy oracle.")
    parser.add_argument("--out", type=Path, default=GOLDEN_DIR, help=f"folder to write (default {GOLDEN_DIR})")
    out = parser.parse_args(argv).out
    out.mkdir(exist_ok=True)
    models = {
        "ops_mix": as_format_1_0(ops_mix_model()),
        "vgg11_lite": as_format_1_0(testing.random_model(11, "vgg11_lite", input_shape=(16, 16, 3), n_calibration=64)),
        "alexnet_lite": as_format_1_0(testing.random_model(12, "alexnet_lite", input_shape=(16, 16, 3),
                                                           n_calibration=64)),
        "tiny": as_format_1_0(testing.random_model(13, "tiny", num_classes=4, with_sampler=False, input_shape=(8, 8, 1),
                                                   n_calibration=64)),
        "embedding_branch": embedding_branch_model(),
        "ties": ties.tie_model(31),
    }
    for name, spec in models.items():
        write_model(spec, out / f"{name}.fdal")
        shape = spec.input_shape
        write_gold(out / f"{name}.layers.gold", layer_arrays(spec, testing.random_images(100, 2, shape)))
        if name != "ops_mix" and name != "tiny":
            write_gold(out / f"{name}.forward.gold", forward_arrays(spec, testing.random_images(101, 4, shape)))

    alex = models["alexnet_lite"]
    pool = testing.random_images(102, 32, alex.input_shape)
    np.save(out / "pool.npy", pool)
    ranks = {}
    for strategy in PER_IMAGE_STRATEGIES:
        ranks[strategy] = oracle.rank(alex, pool, RANK_K, strategy, seed=RANDOM_SEED)
        # the whole order, for tests that rank with other k
        ranks[strategy + "_all"] = oracle.rank(alex, pool, len(pool), strategy, seed=RANDOM_SEED)
    ranks["random_seed"] = np.array([RANDOM_SEED], dtype=np.uint64)
    write_gold(out / "rank.gold", ranks)
    for strategy in PER_IMAGE_STRATEGIES:
        (out / f"rank_{strategy}.txt").write_text(tool_stdout(alex, pool, RANK_K, strategy, RANDOM_SEED))
        (out / f"rank_{strategy}_scores.txt").write_text(
            tool_stdout(alex, pool, RANK_K, strategy, RANDOM_SEED, scores=True))
    # Pool-level strategies on the model with an embedding, same pool (16x16x3).
    emb = models["embedding_branch"]
    picks = {"cap": np.array([POOL_CAP], dtype=np.int64)}
    for strategy in POOL_STRATEGIES:
        picks[strategy] = oracle.rank(emb, pool, RANK_K, strategy, seed=RANDOM_SEED)
        picks[strategy + "_cap"] = oracle.rank(emb, pool, RANK_K, strategy, seed=RANDOM_SEED, cap=POOL_CAP)
        (out / f"rank_{strategy}.txt").write_text(
            tool_stdout(emb, pool, RANK_K, strategy, RANDOM_SEED, cap=POOL_CAP))
        (out / f"rank_{strategy}_scores.txt").write_text(
            tool_stdout(emb, pool, RANK_K, strategy, RANDOM_SEED, scores=True))
    write_gold(out / "rank_pool.gold", picks)

    tiny = models["tiny"]
    tiny_pool = testing.random_images(103, 40, tiny.input_shape)
    tiny_pool.tofile(out / "tiny_pool.raw")
    (out / "rank_tiny_margin.txt").write_text(tool_stdout(tiny, tiny_pool, 10, "margin", scores=True))
    (out / "rank_tiny_entropy.txt").write_text(tool_stdout(tiny, tiny_pool, 40, "entropy"))
    np.save(out / "int16_pool.npy", np.zeros((2, 8, 8, 1), np.int16))  # fdal-rank must refuse: not uint8
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(list(out.iterdir()))} files, {total} bytes, to {out}")


if __name__ == "__main__":
    main()
