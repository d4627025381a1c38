"""Catalogue, part 3 (issue 34): the Python API, part files, the pool identity, Ctrl-C inside a
pool-level selection, and the native `fdal-rank` tool. `refuse-*`: the exception type and the
fragment of its one-line message; `answer-*`: the result against a reference."""
from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fdal
from fdal import testing
from fdal.merge import merge_topk
from fdal.pool_identity import folder_identity, pool_identity
from fdal.testing.tools import find_fdal_rank

from .hardening_helpers import SHAPE, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(hard_files):
    return fdal.load(str(hard_files / "m.fdal"))


@pytest.fixture(scope="module")
def pool(hard_files):
    return np.load(hard_files / "pool.npy")


RANK_POOL_CASES = [
    *[({"k": v}, ValueError, "k") for v in (0, -1, 1.5, "3", None, True, 2**63, 2**64)],
    *[({"strategy": v}, ValueError, "strategy") for v in ("nope", "FDAL", "")],
    *[({"threads": v}, ValueError, "threads") for v in (0, 1025, 1.0, -1)],
    *[({"batch_size": v}, ValueError, "batch_size") for v in (0, -1, 1.5)],
    ({"seed": 1.5}, ValueError, "seed"), ({"cap": 0}, ValueError, "cap"), ({"cap": "x"}, ValueError, "cap"),
    ({"strategy": "classbalanced", "labeled_counts": [1, 2]}, ValueError, "labeled_counts"),
    ({"strategy": "classbalanced", "labeled_counts": [-1] * 10}, ValueError, "labeled_counts"),
    ({"strategy": "margin", "labeled_counts": [0] * 10}, ValueError, "labeled_counts"),
    ({"k": 41}, ValueError, "larger than the pool size 40"),
]


@pytest.mark.parametrize("kwargs, error, fragment", [
    pytest.param(kw, e, f, id=f"refuse-rank_pool-{'-'.join(f'{a}={b!r}' for a, b in kw.items())[:60]}")
    for kw, e, f in RANK_POOL_CASES])
def test_rank_pool_arguments(model, pool, kwargs, error, fragment):
    args = {"k": 3, **kwargs}
    with pytest.raises(error) as e:
        fdal.rank_pool(model, pool, **args)
    assert fragment in str(e.value) and "\n" not in str(e.value)


BAD_POOLS = {
    "path": ("pool.npy", TypeError, "pass an array"), "bytes": (b"\0" * 192, TypeError, ""),
    "float32": (np.zeros((2, 8, 8, 3), np.float32), ValueError, "uint8"),
    "int64": (np.zeros((2, 8, 8, 3), np.int64), ValueError, "uint8"),
    "3d": (np.zeros((8, 8, 3), np.uint8), ValueError, "shape"), "5d": (np.zeros((1, 2, 8, 8, 3), np.uint8),
                                                                       ValueError, "shape"),
    "wrong-hw": (np.zeros((2, 16, 16, 3), np.uint8), ValueError, "expects (N, 8, 8, 3)"),
    "empty": (np.zeros((0, 8, 8, 3), np.uint8), ValueError, "empty"),
    "ragged-list": ([np.zeros((8, 8, 3), np.uint8), np.zeros((4, 8, 3), np.uint8)], ValueError, "same shape"),
    "none": (None, (TypeError, ValueError), ""), "dict": ({"x": 1}, (TypeError, ValueError), ""),
}


@pytest.mark.parametrize("name", [pytest.param(n, id=f"refuse-pool-{n}") for n in BAD_POOLS])
def test_rank_pool_bad_pools(model, name):
    value, error, fragment = BAD_POOLS[name]
    with pytest.raises(error) as e:
        fdal.rank_pool(model, value, 1)
    assert fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("case", [pytest.param(c, id=f"answer-rank_pool-{c}") for c in
                                  ("list", "np-int-k", "huge-seed", "huge-cap", "chunks", "reversed-view")])
def test_rank_pool_accepts_what_it_should(model, pool, case):
    want = fdal.rank_pool(model, pool, 5, strategy="random", seed=7)
    if case == "list":
        got = fdal.rank_pool(model, list(pool), 5, strategy="random", seed=7)
    elif case == "np-int-k":
        got = fdal.rank_pool(model, pool, np.int64(5), strategy="random", seed=7)
    elif case == "huge-seed":  # seeds are taken modulo 2^64
        got = fdal.rank_pool(model, pool, 5, strategy="random", seed=7 + 2**64)
    elif case == "huge-cap":  # a cap past int64 caps nothing
        got = fdal.rank_pool(model, pool, 5, strategy="random", seed=7, cap=2**70)
    elif case == "chunks":
        got = fdal.rank_pool(model, (pool[i:i + 7] for i in range(0, 40, 7)), 5, strategy="random", seed=7)
    else:  # a negative-stride view ranks as its contiguous copy
        got = fdal.rank_pool(model, pool[::-1], 5, strategy="margin")
        want = fdal.rank_pool(model, np.ascontiguousarray(pool[::-1]), 5, strategy="margin")
    np.testing.assert_array_equal(got, want)


LOAD_CASES = {"empty-bytes": b"", "missing": "missing.fdal", "int": 3, "truncated": "half"}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-load-{c}") for c in LOAD_CASES])
def test_load_bad_inputs(hard_files, tmp_path, case):
    value = LOAD_CASES[case]
    if value == "half":
        value = (hard_files / "m.fdal").read_bytes()[:500]
    if value == "missing.fdal":
        value = str(tmp_path / value)
    with pytest.raises((ValueError, OSError, TypeError)) as e:
        fdal.load(value)
    assert str(e.value) and "\n" not in str(e.value)


def parts_of(model, pool, strategy="margin", m=3, **kw):
    return [fdal.rank_shard(model, pool, 5, (i, m), strategy=strategy, cap=30, **kw) for i in range(m)]


@pytest.mark.parametrize("strategy", [pytest.param(s, id=f"answer-merge-{s}") for s in
                                      ("fdal", "margin", "entropy", "random", "kcenter", "power", "classbalanced")])
def test_merge_equals_one_ranking(model, pool, strategy):
    merged = merge_topk(parts_of(model, pool, strategy), 5)
    np.testing.assert_array_equal(merged.indices, fdal.rank_pool(model, pool, 5, strategy=strategy, cap=30))


MERGE_REFUSALS = ["other-pool", "reordered-pool", "other-seed", "other-strategy", "duplicate", "missing",
                  "old-format", "k-too-large", "cap-without-devices", "no-parts"]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-merge-{c}") for c in MERGE_REFUSALS])
def test_merge_refusals(model, pool, hard_files, tmp_path, case):
    parts = parts_of(model, pool)
    kw, fragment = {}, None
    if case == "other-pool":
        parts[1] = parts_of(model, np.load(hard_files / "other.npy"))[1]
        fragment = "parts from different pools"
    elif case == "reordered-pool":
        parts[2] = parts_of(model, pool[::-1].copy())[2]
        fragment = "parts from different pools"
    elif case == "other-seed":
        parts[0] = parts_of(model, pool, seed=1)[0]
        fragment = "different seeds"
    elif case == "other-strategy":
        parts[0] = parts_of(model, pool, "entropy")[0]
        fragment = "different strategies"
    elif case == "duplicate":
        parts = [parts[0], parts[0], parts[1], parts[2]]
        fragment = "duplicate shard"
    elif case == "missing":
        parts = parts[:2]
        fragment = "missing shard"
    elif case == "old-format":
        parts[0].save(tmp_path / "p.npz")
        z = dict(np.load(tmp_path / "p.npz"))
        z["format"] = np.str_("fdal-part-1")
        del z["pool_identity"]
        np.savez(tmp_path / "old.npz", **z)
        parts[0] = str(tmp_path / "old.npz")
        fragment = "older fdal"
    elif case == "k-too-large":
        kw["k"] = 999
        fragment = "k=999"
    elif case == "cap-without-devices":
        kw["per_device_cap"] = 2
        fragment = "device ids"
    else:
        parts = []
        fragment = "no parts"
    with pytest.raises(ValueError) as e:
        merge_topk(parts, kw.pop("k", 5), **kw)
    assert fragment in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_identity_answer_same_pool_same_identity(pool, hard_files):
    mm = np.load(hard_files / "pool.npy", mmap_mode="r")
    assert pool_identity(pool) == pool_identity(mm) == pool_identity(pool.transpose(0, 3, 1, 2).transpose(0, 2, 3, 1))


@pytest.mark.parametrize("change", [pytest.param(c, id=f"answer-identity-differs-{c}") for c in
                                    ("one-row", "reordered", "other-size", "other-shape")])
def test_identity_changes_with_the_pool(change):
    big = testing.random_images(3, 1000, SHAPE)
    other = big.copy()
    if change == "one-row":  # every stratum is sampled: change a whole stratum of 1000/64 rows
        other[500:520] ^= 1
    elif change == "reordered":
        other = big[::-1]
    elif change == "other-size":
        other = big[:999]
    else:
        other = big.reshape(1000, 4, 16, 3)
    assert pool_identity(big) != pool_identity(other)


def test_identity_answer_folder_rename(tmp_path):
    files = []
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(bytes([i]) * 10)
        files.append(str(tmp_path / f"{i}.png"))
    names = ["0.png", "1.png", "2.png"]
    assert folder_identity(files, names) == folder_identity(files, names)
    assert folder_identity(files, ["0.png", "1.png", "3.png"]) != folder_identity(files, names)


@pytest.mark.parametrize("strategy", [pytest.param(s, id=f"answer-ctrl-c-{s}") for s in
                                      ("kcenter", "typiclust", "probcover")])
def test_ctrl_c_reaches_python_inside_a_selection(strategy):
    """A SIGALRM handler that raises KeyboardInterrupt fires 0.2 s into a selection of 5,000 of
    40,000 candidates (seconds of work even on a fast quiet core: typiclust with its default cell cap
    took 0.07 s on 20,000, so it gets 10,000 cells): the selection must stop and let it through,
    not finish first."""
    from fdal.runtime import _core
    emb = np.random.default_rng(0).integers(-128, 128, (40_000, 64), dtype=np.int8)
    params = {"max_cells": 10_000} if strategy == "typiclust" else {}

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    finished = False
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            _core().pool_select(strategy, emb, None, 5000, seed=0, **params)
            finished = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not finished


@pytest.fixture(scope="module")
def tool():
    """fdal-rank; built here when missing, into the build folder and configuration of
    tests/runtime/test_ctest.py (which runs later in CI and then only builds the rest)."""
    found = find_fdal_rank(ROOT)
    if found is None and shutil.which("cmake") and shutil.which("c++"):
        build = ROOT / "build" / ("ctest-native" if shutil.which("ninja") else "pytest-ctest")
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
                        "-DFDAL_BUILD_TOOLS=ON", "-DFDAL_BUILD_TESTS=ON"], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", str(build), "-j", "2", "--target", "fdal-rank"], check=True,
                       capture_output=True)
        found = find_fdal_rank(ROOT)
    if found is None:
        pytest.skip("fdal-rank not built and cmake or a C++ compiler missing (cmake -DFDAL_BUILD_TOOLS=ON)")
    return found


TOOL_REFUSALS = [(["-k", "0"], 6, "in 1..40"), (["-k", "x"], 6, "in 1..40"), (["-k", "41"], 6, "in 1..40"),
                 (["-k", "2", "--strategy", "nope"], 2, "nope"), (["-k", "2", "--threads", "0"], 2, "--threads"),
                 (["-k", "2", "--raw", "9x9x3"], 5, "--raw 9x9x3"), (["-k", "2", "--batch", "0"], 2, "--batch")]


@pytest.mark.parametrize("flags, code, fragment", [
    pytest.param(f, c, fr, id="refuse-tool-" + "_".join(f)) for f, c, fr in TOOL_REFUSALS])
def test_fdal_rank_tool_refusals(tool, hard_files, flags, code, fragment):
    proc = subprocess.run([tool, hard_files / "m.fdal", hard_files / "pool.npy", *flags], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = proc.stderr.splitlines()
    assert proc.returncode == code and len(lines) == 1 and fragment in lines[0], proc.stderr


@pytest.mark.parametrize("strategy", [pytest.param(s, id=f"answer-tool-{s}") for s in
                                      ("fdal", "margin", "entropy", "random", "kcenter", "power")])
@pytest.mark.parametrize("source", ["npy", "raw"])
def test_fdal_rank_tool_equals_rank_pool(tool, hard_files, model, pool, strategy, source):
    extra = ["--raw", "8x8x3"] if source == "raw" else []
    proc = subprocess.run([tool, hard_files / "m.fdal", hard_files / f"pool.{source}", "-k", "5", "--strategy",
                           strategy, "--cap", "30", *extra], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [int(v) for v in proc.stdout.split()] == fdal.rank_pool(model, pool, 5, strategy=strategy, cap=30).tolist()
