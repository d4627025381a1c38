"""Issue 18 on the command line: `fdal rank --shard I/M --out part.npz` then `fdal merge` writes the
same file `fdal rank` writes over the whole pool (.npy indices, csv, jsonl, text), for .npy pools,
raw pools and image folders; fleets of device parts with a per-device cap; and every bad input is
one line `fdal: error: ...` (argparse refusals: exit 2, the error as the last line)."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing
from fdal.cli import main
from fdal.strategies import STRATEGIES

SEED = 1806
N = 61  # 5 shards of 12 or 13 images


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    fmt.write_model(testing.random_model(SEED, "tiny", n_calibration=32, embedding="student",
                                         input_shape=(8, 8, 3)), d / "m.fdal")
    fmt.write_model(testing.random_model(SEED + 1, "tiny", n_calibration=32, input_shape=(8, 8, 3)), d / "other.fdal")
    pool = testing.random_images(SEED, N, (8, 8, 3))
    np.save(d / "pool.npy", pool)
    (d / "pool.raw").write_bytes(pool.tobytes())
    for j, dev in enumerate(("cam-a", "cam-b", "cam-c")):
        np.save(d / f"{dev}.npy", testing.random_images(SEED + 10 + j, 20 + 7 * j, (8, 8, 3)))
    return d


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def ok(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 0, (argv, err)
    return out


def shards(capsys, d, out_dir, pool, m, k, *extra, prefix="part"):
    """`fdal rank --shard i/m` for every i: the part files."""
    paths = []
    for i in range(m):
        path = out_dir / f"{prefix}-{i}.npz"
        ok(capsys, "rank", d / "m.fdal", pool, "-k", k, "--shard", f"{i}/{m}", "--out", path, *extra)
        paths.append(path)
    return paths


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_merge_writes_what_rank_writes(d, capsys, strategy, tmp_path):
    extra = ["--strategy", strategy, "--seed", SEED, "--cap", 40]
    parts = shards(capsys, d, tmp_path, d / "pool.npy", 5, 9, *extra)
    for ext in ("npy", "csv", "jsonl", "txt"):
        ok(capsys, "rank", d / "m.fdal", d / "pool.npy", "-k", 9, *extra, "--out", tmp_path / f"want.{ext}")
        ok(capsys, "merge", *parts, "-k", 9, "--out", tmp_path / f"got.{ext}")
        assert (tmp_path / f"got.{ext}").read_bytes() == (tmp_path / f"want.{ext}").read_bytes(), (strategy, ext)
    # stdout, and a raw pool ranked in 2 shards
    want = ok(capsys, "rank", d / "m.fdal", d / "pool.npy", "-k", 9, *extra)
    assert ok(capsys, "merge", *parts, "-k", 9) == want
    raw = shards(capsys, d, tmp_path, d / "pool.raw", 2, 9, "--raw", "8x8x3", *extra, prefix="raw")
    assert ok(capsys, "merge", *raw, "-k", 9) == want


def test_image_folder_shards(d, capsys, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(SEED)
    folder = tmp_path / "photos"
    for i in range(23):
        (folder / ("sub" if i % 4 == 0 else "")).mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, (int(rng.integers(6, 30)), int(rng.integers(6, 30)), 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / ("sub" if i % 4 == 0 else "") / f"img{i:02d}.png")
    for strategy in ("margin", "random", "probcover"):
        extra = ["--strategy", strategy, "--seed", SEED, "--cap", 15]
        parts = []
        for i in range(3):
            parts.append(tmp_path / f"f{strategy}{i}.npz")
            ok(capsys, "rank", d / "m.fdal", folder, "-k", 6, "--shard", f"{i}/3", "--out", parts[-1], *extra)
        ok(capsys, "rank", d / "m.fdal", folder, "-k", 6, *extra, "--out", tmp_path / "want.csv")
        ok(capsys, "merge", *parts, "-k", 6, "--out", tmp_path / "got.csv")
        assert (tmp_path / "got.csv").read_text() == (tmp_path / "want.csv").read_text(), strategy
        assert fdal.load_part(parts[0]).files  # parts name their files
    # Two devices holding the same folder: equal keys tie across devices by device id, so with a cap of
    # 2 the fleet's top 4 alternate x, y over the folder's top 2.
    for dev in ("y", "x"):
        ok(capsys, "rank", d / "m.fdal", folder, "-k", 3, "--strategy", "margin", "--shard", "0/1",
           "--device-id", dev, "--out", tmp_path / f"dev-{dev}.npz")
    top = [r["file"] for r in csv.DictReader(io.StringIO(ok(capsys, "rank", d / "m.fdal", folder, "-k", 2,
                                                            "--strategy", "margin")))]
    out = ok(capsys, "merge", tmp_path / "dev-y.npz", tmp_path / "dev-x.npz", "-k", 4, "--per-device-cap", 2,
             "--format", "csv")
    assert [(r["device"], r["file"]) for r in csv.DictReader(io.StringIO(out))] == \
        [("x", top[0]), ("y", top[0]), ("x", top[1]), ("y", top[1])]
    # an unreadable file: a shard refuses it (indices are positions in the sorted file list)
    (folder / "img99.png").write_bytes(b"not a png")
    code, _, err = run(capsys, "rank", d / "m.fdal", folder, "-k", 3, "--shard", "2/3", "--out", tmp_path / "x.npz")
    assert code == 1 and err.count("\n") == 1 and "img99.png: unreadable image file in shard 2/3" in err


def test_fleet(d, capsys, tmp_path):
    devices = ("cam-a", "cam-b", "cam-c")
    parts = []
    for dev in devices:
        for i in range(2):
            parts.append(tmp_path / f"{dev}-{i}.npz")
            ok(capsys, "rank", d / "m.fdal", d / f"{dev}.npy", "-k", 8, "--strategy", "margin", "--shard",
               f"{i}/2", "--device-id", dev, "--out", parts[-1])
    out = ok(capsys, "merge", *parts, "-k", 12, "--per-device-cap", 5, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 13)]
    got = [(r["device"], int(r["file"])) for r in rows]
    # By hand: every device's margin keys, sorted by (key, device, index), at most 5 per device.
    model = fdal.load(str(d / "m.fdal"))
    from fdal.oracle.keys import keys as oracle_keys
    allrows = sorted((int(key), dev, i) for dev in devices
                     for i, key in enumerate(oracle_keys(model.forward(np.load(d / f"{dev}.npy")), "margin")))
    taken, want = {}, []
    for key, dev, i in allrows:
        if taken.get(dev, 0) < 5 and len(want) < 12:
            taken[dev] = taken.get(dev, 0) + 1
            want.append((dev, i))
    assert got == want
    assert [float(r["score"]) for r in rows] == [float(k) for k, dev, i in allrows if (dev, i) in want]
    text = ok(capsys, "merge", *parts, "-k", 12, "--per-device-cap", 5)
    assert text.splitlines() == [f"{dev}\t{i}" for dev, i in want]
    ok(capsys, "merge", *parts, "-k", 12, "--per-device-cap", 5, "--out", tmp_path / "fleet.npy")
    arr = np.load(tmp_path / "fleet.npy")
    assert list(zip(arr["device"].tolist(), arr["file"].astype(int).tolist())) == want


def assert_error(capsys, argv, *fragments, code=1):
    got, out, err = run(capsys, *argv)
    assert got == code, (argv, err)
    lines = err.strip().splitlines()
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("fdal: error: "), err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


@pytest.mark.parametrize("spec, fragment", [("3/2", "--shard 3/2: I must be in 0..1"), ("0/0", "M must be at least 1"),
                                            ("a/b", "must be I/M"), ("-1/3", "I must be in 0..2"),
                                            ("1/1", "I must be in 0..0")])
def test_bad_shard_specs(d, capsys, spec, fragment):
    assert_error(capsys, ["rank", d / "m.fdal", d / "pool.npy", "-k", 2, f"--shard={spec}", "--out", "x.npz"], fragment)


def test_bad_rank_shard_flags(d, capsys, tmp_path):
    base = ["rank", d / "m.fdal", d / "pool.npy", "-k", 2]
    assert_error(capsys, base + ["--shard", "0/2"], "give --out PART.npz")
    assert_error(capsys, base + ["--shard", "0/2", "--out", tmp_path / "p.npy"], "give --out PART.npz")
    assert_error(capsys, base + ["--device-id", "cam"], "--device-id names the device", "--shard I/M")
    assert_error(capsys, base + ["--shard", "0/2", "--device-id", " ", "--out", tmp_path / "p.npz"],
                 "--device-id must be a non-empty printable name")
    assert_error(capsys, base + ["--shard", "0/2", "--format", "csv", "--out", tmp_path / "p.npz"],
                 "--format does not apply with --shard")
    assert_error(capsys, base + ["--shard", "0/2", "--strategy", "nope", "--out", tmp_path / "p.npz"],
                 "unknown strategy 'nope'")
    assert_error(capsys, base + ["--shard", "0/2", "--strategy", "kcenter", "--cap", 1, "--out", tmp_path / "p.npz"],
                 "k=2 is larger than the number of candidates 1")
    # a space before a leading minus is argparse's to refuse (exit 2, one error line naming --shard)
    assert_error(capsys, base + ["--shard", "-1/3", "--out", tmp_path / "p.npz"], "--shard -1/3", "I must be in 0..2")


def test_bad_merges(d, capsys, tmp_path):
    def part(name, *extra, model="m.fdal", pool="pool.npy", k=5):
        ok(capsys, "rank", d / model, d / pool, "-k", k, "--out", tmp_path / name, *extra)
        return tmp_path / name
    a, b = part("a.npz", "--shard", "0/2"), part("b.npz", "--shard", "1/2")
    c3 = part("c3.npz", "--shard", "1/3")
    cases = [
        ([a, part("o.npz", "--shard", "1/2", model="other.fdal")], ["parts from different models"]),
        ([a, part("s.npz", "--shard", "1/2", "--strategy", "margin")], ["parts from different strategies"]),
        ([part("r0.npz", "--shard", "0/2", "--strategy", "random", "--seed", 1),
          part("r1.npz", "--shard", "1/2", "--strategy", "random", "--seed", 2)], ["parts from different seeds"]),
        ([a, a, b], ["duplicate shard", "a.npz"]),
        ([a, c3, b], ["overlapping shards", "c3.npz"]),
        ([a], ["missing shard: rows [30, 61) of the pool of 61", "--allow-missing"]),
        ([a, part("dev.npz", "--shard", "1/2", "--device-id", "cam")], ["has device id 'cam' but"]),
    ]
    for parts, fragments in cases:
        assert_error(capsys, ["merge", *parts, "-k", 5], *fragments)
    assert_error(capsys, ["merge", a, b, "-k", 6], "k=6 is larger than", "holds: 5 picks", "-k 6 or more")
    assert_error(capsys, ["merge", a, b, "-k", 3, "--per-device-cap", 2], "needs parts with device ids")
    assert_error(capsys, ["merge", tmp_path / "nope.npz", "-k", 3], "nope.npz", "No such file (part)")
    assert_error(capsys, ["merge", d / "pool.npy", "-k", 3], "single .npy array, not an fdal part")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert_error(capsys, ["merge", tmp_path / "junk.npz", "-k", 3], "junk.npz: not an fdal part")
    assert_error(capsys, ["merge", a, b, "-k", 3, "--format", "npy"], "--format npy needs --out")
    assert_error(capsys, ["merge", a, b, "-k", 0], "-k", "positive integer", code=2)
    # --allow-missing: the exact top 5 of the shard given
    out = ok(capsys, "merge", a, "-k", 5, "--allow-missing")
    pool = np.load(d / "pool.npy")
    want = fdal.rank_pool(fdal.load(str(d / "m.fdal")), pool[:30], 5)
    assert out.split() == [str(i) for i in want]
