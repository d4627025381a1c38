"""Catalogue, part 1 (issue 34): `fdal rank`, `bench`, `merge` and `plot` on a user's slips. Each case
says its verdict before it runs: `refuse-*` cases name the exit code and the fragments the last
stderr line must contain (no traceback; exit 1 is exactly one `fdal: error:` line); `answer-*`
cases compare the picks with fdal.rank_pool on the same images. In-process (fdal.cli.main)."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import fdal

from .hardening_helpers import SHAPE, run

M, POOL = "m.fdal", "pool.npy"
PER_IMAGE = ["fdal", "margin", "entropy", "random"]
POOL_LEVEL = ["kcenter", "typiclust", "probcover", "power", "classbalanced"]


def refuse(capsys, argv, code, *fragments):
    got, out, err = run(capsys, *argv)
    assert got == code, (argv, got, err)
    assert "Traceback" not in err and out == "", err
    lines = err.strip().splitlines()
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("fdal: error: "), err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


@pytest.fixture(scope="module")
def cli_files(hard_files, tmp_path_factory):
    """hard_files plus the broken pools and models below, in one folder (cases name files relative to it)."""
    d = tmp_path_factory.mktemp("cli-cases")
    for name in ("m.fdal", "gray.fdal", "pool.npy", "other.npy", "pool.raw"):
        shutil.copy(hard_files / name, d / name)
    pool = np.load(d / POOL)
    good = (d / POOL).read_bytes()
    header_end = good.index(b"\n") + 1
    header = good[10:header_end]
    for name, new in {"h-unclosed": header.replace(b"3), }", b"3 , }"), "h-quote": header.replace(b"'descr'", b"'descr "),
                      "h-bigshape": header.replace(b"(40,", b"(99999999999999999999999,"),
                      "h-negative": header.replace(b"(40,", b"(-40,"), "h-triple": header.replace(b"'descr'", b"'''descr"),
                      "h-nul": header.replace(b"descr", b"de\0cr"), "h-keys": header.replace(b"descr", b"d\xffcr"),
                      "h-toolarge": header.replace(b"(40,", b"(4000,")}.items():
        new = new[:len(header) - 1].ljust(len(header) - 1) + b"\n"
        (d / f"{name}.npy").write_bytes(good[:10] + new + good[header_end:])
    (d / "empty.npy").write_bytes(b"")
    (d / "badmagic.npy").write_bytes(b"XXXXXX" + good[6:])
    np.savez(d / "archive.npz", x=pool)
    (d / "archive-as.npy").write_bytes((d / "archive.npz").read_bytes())
    (d / "cut.npy").write_bytes(good[:len(good) // 2])
    for dtype in ("float32", "int8", "uint16", "bool", "int64"):
        np.save(d / f"{dtype}.npy", pool.astype(dtype))
    np.save(d / "flat.npy", pool.reshape(40, -1))
    np.save(d / "five.npy", pool[None])
    np.save(d / "big.npy", np.zeros((4, 16, 16, 3), np.uint8))
    np.save(d / "four.npy", np.zeros((4, 8, 8, 4), np.uint8))
    np.save(d / "objects.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.save(d / "nchw.npy", np.ascontiguousarray(pool.transpose(0, 3, 1, 2)))
    np.save(d / "fortran.npy", np.asfortranarray(pool))
    (d / "UPPER.NPY").write_bytes(good)
    (d / "odd.raw").write_bytes(pool.tobytes() + b"\0" * 5)
    (d / "zero.raw").write_bytes(b"")
    os.mkfifo(d / "fifo")
    (d / "folder").mkdir()
    model = (d / M).read_bytes()
    (d / "empty.fdal").write_bytes(b"")
    (d / "half.fdal").write_bytes(model[:len(model) // 2])
    (d / "crc.fdal").write_bytes(model[:-1] + bytes([model[-1] ^ 0xFF]))
    (d / "text.fdal").write_text("not a model\n")
    os.symlink(d / POOL, d / "link-to-pool.npy")
    return d


def at(d, argv):
    """Case arguments: names of files in the case folder become paths; everything else stays."""
    return [str(d / a) if isinstance(a, str) and (d / a).exists() and not a.startswith("-") else a for a in argv]


BAD_INTS = ["0", "-1", "abc", "1.5", "", "1e3", str(2**63), str(2**64)]
FLAG_CASES = [
    *[(["-k", v], 2, ["-k", "positive integer"]) for v in BAD_INTS],
    *[(["-k", "2", "--batch-size", v], 2, ["--batch-size", "positive integer"]) for v in BAD_INTS],
    *[(["-k", "2", "--cap", v], 2, ["--cap", "positive integer"]) for v in BAD_INTS],
    *[(["-k", "2", "--threads", v], 2, ["--threads", "1..1024"]) for v in ["0", "-1", "1025", "x", str(2**64)]],
    *[(["-k", "2", "--seed", v], 2, ["--seed", "invalid int"]) for v in ["x", "1.5", ""]],
    *[(["-k", "2", "--strategy", v], 1, ["strategy", "known strategies"]) for v in ["nope", "FDAL", "", "fdal "]],
    (["-k", "2", "--layout", "x"], 2, ["--layout", "invalid choice"]),
    (["-k", "2", "--format", "xml"], 2, ["--format", "invalid choice"]),
    *[(["-k", "2", "--raw", v], 2, ["--raw", "HxWxC"]) for v in ["8x8", "0x8x3", "axbxc", "8x8x3x1", "-8x8x3"]],
    *[(["-k", "2", "--strategy", "classbalanced", "--labeled-counts", v], 2, ["--labeled-counts", "non-negative"])
      for v in ["-1,0,0", "a,b", "", "1,,2", "1.5"]],
    (["-k", "2", "--strategy", "classbalanced", "--labeled-counts", "1,2"], 1, ["labeled_counts has 2 entries"]),
    *[(["-k", "2", "--shard", v, "--out", "p.npz"], 1, ["shard"]) for v in ["-1/3", "3/3", "0/0", "a/b", "1/-2", "1",
                                                                         "0/2/3"]],
    (["-k", "2", "--shard", "0/2"], 1, ["give --out PART.npz"]),
    (["-k", "2", "--device-id", "cam"], 1, ["--device-id", "--shard I/M"]),
    (["-k", "2", "--exclude", "x.txt"], 1, ["--exclude", "folders of image files"]),
    (["-k", "41"], 1, ["k=41 is larger than the pool size 40"]),
    (["-k", "2", "--format", "npy"], 1, ["--format npy needs --out"]),
    (["-k", "2", "--strategy", "probcover", "--cap", "1"], 1, ["k=2", "cap"]),
]


@pytest.mark.parametrize("flags, code, fragments", [
    pytest.param(f, c, fr, id="refuse-flag-" + "_".join(f).replace("/", "over")) for f, c, fr in FLAG_CASES])
def test_rank_flag_values(cli_files, capsys, flags, code, fragments):
    refuse(capsys, ["rank", cli_files / M, cli_files / POOL, *flags], code, *fragments)


POOL_CASES = [
    *[(f"{h}.npy", ["corrupted .npy header or data"]) for h in ("h-unclosed", "h-quote", "h-bigshape", "h-negative",
                                                              "h-triple", "h-nul", "h-keys", "h-toolarge")],
    ("empty.npy", ["empty file"]), ("badmagic.npy", ["not a .npy file"]), ("archive.npz", [".npz archive"]),
    ("archive-as.npy", [".npz archive"]), ("cut.npy", ["corrupted .npy"]),
    *[(f"{t}.npy", [f"got dtype {t}"]) for t in ("float32", "int8", "uint16", "bool", "int64")],
    ("flat.npy", ["must have shape (N, 8, 8, 3)"]), ("five.npy", ["must have shape (N, 8, 8, 3)"]),
    ("big.npy", ["(16, 16, 3)", "expects"]), ("four.npy", ["(8, 8, 4)", "expects"]),
    ("objects.npy", ["corrupted .npy header or data"]), ("odd.raw", ["192 bytes", "7685 bytes"]),
    ("zero.raw", ["0 bytes"]), ("pool.raw", ["no shape", "--raw 8x8x3"]), ("fifo", ["not a regular file"]),
    ("folder", ["no image files", "in folder"]), ("missing.npy", ["No such file (pool)"]), ("/dev/null", ["not a regular file"]),
]


@pytest.mark.parametrize("pool, fragments", [pytest.param(p, f, id=f"refuse-pool-{p}") for p, f in POOL_CASES])
def test_rank_bad_pool_files(cli_files, capsys, pool, fragments):
    path = pool if pool.startswith("/") else cli_files / pool
    code = 2 if pool == "folder" else 1  # a folder is read as image files: none is exit 2 (docs/images.md)
    refuse(capsys, ["rank", cli_files / M, path, "-k", "2"], code, str(pool).split("/")[-1], *fragments)


MODEL_CASES = [("missing.fdal", "No such file (model)"), ("empty.fdal", "truncated"), ("folder", "is a directory"),
               ("half.fdal", "does not match the actual size"), ("crc.fdal", "CRC"), ("text.fdal", "bad magic"),
               ("pool.npy", "bad magic")]
INFO_WORDING = {"half.fdal": "but the file has", "text.fdal": "too small for a .fdal file"}  # the Python reader


@pytest.mark.parametrize("command", ["rank", "bench", "info"])
@pytest.mark.parametrize("model, fragment", [pytest.param(m, f, id=f"refuse-model-{m}") for m, f in MODEL_CASES])
def test_bad_model_files(cli_files, capsys, command, model, fragment):
    extra = {"rank": [cli_files / POOL, "-k", "2"], "bench": ["-n", "4", "--repeat", "1"], "info": []}[command]
    if command == "info":
        fragment = INFO_WORDING.get(model, fragment)
    refuse(capsys, [command, cli_files / model, *extra], 1, fragment)


SOURCES = {"npy": (POOL, []), "nchw": ("nchw.npy", []), "raw": ("pool.raw", ["--raw", "8x8x3"]),
           "upper": ("UPPER.NPY", []), "fortran": ("fortran.npy", []), "symlink": ("link-to-pool.npy", [])}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("strategy", [pytest.param(s, id=f"answer-{s}") for s in PER_IMAGE + POOL_LEVEL])
def test_rank_picks_equal_rank_pool(cli_files, capsys, strategy, source):
    name, extra = SOURCES[source]
    want = fdal.rank_pool(fdal.load(str(cli_files / M)), np.load(cli_files / POOL), 5, strategy=strategy, cap=30)
    code, out, err = run(capsys, "rank", cli_files / M, cli_files / name, "-k", "5", "--strategy", strategy,
                         "--cap", "30", *extra)
    assert code == 0, err
    assert [int(v) for v in out.split()] == want.tolist()


@pytest.mark.parametrize("fmt", [pytest.param(f, id=f"answer-format-{f}") for f in ("text", "csv", "jsonl", "npy")])
def test_rank_output_formats(cli_files, capsys, tmp_path, fmt):
    want = fdal.rank_pool(fdal.load(str(cli_files / M)), np.load(cli_files / POOL), 7, strategy="margin").tolist()
    out_file = tmp_path / f"picks.{fmt}"
    code, _, err = run(capsys, "rank", cli_files / M, cli_files / POOL, "-k", "7", "--strategy", "margin", "--out",
                       out_file, "--format", fmt)
    assert code == 0, err
    if fmt == "npy":
        got = np.load(out_file).tolist()
    elif fmt == "text":
        got = [int(v) for v in out_file.read_text().split()]
    elif fmt == "csv":
        got = [int(line.split(",")[0]) for line in out_file.read_text().splitlines()[1:]]
    else:
        got = [int(json.loads(line)["file"]) for line in out_file.read_text().splitlines()]
    assert got == want


OUT_CASES = {
    "pool": ([POOL], "pool"), "model": ([M], "model"), "symlink": (["link-to-pool.npy"], "pool"),
    "dot": (["./" + POOL], "pool"), "dotdot": (["folder/../" + POOL], "pool"),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-out-{c}") for c in OUT_CASES])
def test_out_never_overwrites_an_input(cli_files, capsys, monkeypatch, case):
    monkeypatch.chdir(cli_files)
    (out,), what = OUT_CASES[case]
    before = {n: (cli_files / n).read_bytes() for n in (POOL, M)}
    refuse(capsys, ["rank", M, POOL, "-k", "2", "--out", out], 1, "would be overwritten", what)
    assert before == {n: (cli_files / n).read_bytes() for n in (POOL, M)}


BENCH_CASES = [
    *[(["-n", v], 2, ["-n", "positive integer"]) for v in ("0", "-5", "x", str(2**63))],
    (["--pool", "pool.raw", "-n", "4"], 1, ["no shape", "--raw 8x8x3"]),
    (["--pool", POOL, "-n", "41"], 1, ["-n 41 is more than the 40 images"]),
    (["--pool", "missing.npy"], 1, ["No such file (pool)"]),
    (["--pool", "h-unclosed.npy"], 1, ["corrupted .npy header"]),
]


@pytest.mark.parametrize("flags, code, fragments", [
    pytest.param(f, c, fr, id="refuse-bench-" + "_".join(f)) for f, c, fr in BENCH_CASES])
def test_bench_flags(cli_files, capsys, flags, code, fragments):
    refuse(capsys, ["bench", cli_files / M, *at(cli_files, flags), "--repeat", "1"], code, *fragments)


@pytest.mark.parametrize("flags, images", [
    pytest.param(["--pool", POOL, "-n", "5"], 5, id="answer-bench-pool-first-5"),
    pytest.param(["--pool", "pool.raw", "--raw", "8x8x3"], 40, id="answer-bench-raw-pool"),
    pytest.param(["-n", "1500"], 1500, id="answer-bench-tiled-1500"),
    pytest.param(["-n", str(10**8)], 10**8, id="answer-bench-1e8-streams"),
])
def test_bench_pool_sizes(cli_files, capsys, monkeypatch, flags, images):
    """The pool bench times has -n images (the first n of --pool); -n 10**8 is streamed, never a 300 GB
    array (measure is replaced: only the pool handed to it is checked)."""
    from fdal.cli import rank as rank_cmd
    seen = []
    monkeypatch.setattr(rank_cmd, "measure", lambda model, pool, *a, **kw: seen.append(pool) or
                        {"forward_s": 1, "rank_s": 1, "forward_images_per_s": 1, "rank_images_per_s": 1})
    code, out, err = run(capsys, "bench", cli_files / M, *at(cli_files, flags), "--repeat", "1")
    assert code == 0, err
    (pool,) = seen
    assert len(pool) == images and f"pool: {images:,}" in out
    if images == 5:
        np.testing.assert_array_equal(pool, np.load(cli_files / POOL)[:5])
    if images > 1000:  # the tiled images repeat the 1000 generated ones, read on demand
        first = pool[0:3]
        np.testing.assert_array_equal(pool[1000:1003], first)
        np.testing.assert_array_equal(pool[images - 1:images], pool[(images - 1) % 1000:(images - 1) % 1000 + 1])


ARGV_CASES = [
    (["nocommand"], 2, ["invalid choice"]), (["rank"], 2, ["required"]), (["rank", "--bogus"], 2, ["required"]),
    (["merge"], 2, ["required"]), (["plot"], 2, ["required"]), (["info"], 2, ["required"]),
]


@pytest.mark.parametrize("argv, code, fragments", [
    pytest.param(a, c, f, id="refuse-argv-" + "_".join(a)) for a, c, f in ARGV_CASES])
def test_argv_slips(capsys, argv, code, fragments):
    refuse(capsys, argv, code, *fragments)


RECORD = {"method": "random", "dataset": "cifar10", "trial": 0, "cycle": 0, "n_labeled": 100, "accuracy": 0.5,
          "seconds": 1.0, "preset": "smoke", "seed": 0}
PLOT_CASES = {
    "accuracy-text": ('{**R, "accuracy": "high"}', "accuracy must be a number, got 'high'"),
    "accuracy-null": ('{**R, "accuracy": None}', "accuracy must be a number"),
    "accuracy-bool": ('{**R, "accuracy": True}', "accuracy must be a number"),
    "accuracy-percent": ('{**R, "accuracy": 55.0}', "fraction in [0, 1]"),
    "accuracy-nan": ('{**R, "accuracy": float("nan")}', "fraction in [0, 1]"),
    "n_labeled-text": ('{**R, "n_labeled": "100"}', "n_labeled must be an integer"),
    "trial-float": ('{**R, "trial": 0.5}', "trial must be an integer"),
    "seconds-text": ('{**R, "seconds": "1s"}', "seconds must be a number"),
    "missing-field": ('{k: v for k, v in R.items() if k != "accuracy"}', "lacks ['accuracy']"),
    "a-list": ("[1, 2]", "a JSON object"),
    "not-json": (None, "line 1 is not JSON"),
}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-plot-{c}") for c in PLOT_CASES])
def test_plot_results_with_bad_records(tmp_path, capsys, case):
    pytest.importorskip("scipy")
    expr, fragment = PLOT_CASES[case]
    text = "{not json\n" if expr is None else json.dumps(eval(expr, {"R": RECORD})) + "\n"
    good = json.dumps(RECORD) + "\n"
    (tmp_path / "results.jsonl").write_text(text + good)  # the bad record is not the (torn) last line
    refuse(capsys, ["plot", tmp_path / "results.jsonl", "--out", tmp_path], 1, "results.jsonl: line 1", fragment)


@pytest.mark.parametrize("extra, code, fragment", [
    pytest.param([], 1, "standard output is closed", id="refuse-stdout-closed"),
    pytest.param(["--out", "picks.txt"], 0, None, id="answer-stdout-closed-with-out")])
def test_stdout_closed(cli_files, tmp_path, extra, code, fragment):
    """`fdal rank ... >&-`: Python starts with sys.stdout None; a subprocess because fd 1 must be closed."""
    import subprocess
    import sys
    argv = [sys.executable, "-m", "fdal.cli", "rank", str(cli_files / M), str(cli_files / POOL), "-k", "3",
            *[str(tmp_path / e) if e.endswith(".txt") else e for e in extra]]
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                          pass_fds=(), preexec_fn=lambda: os.close(1))
    assert proc.returncode == code and "Traceback" not in proc.stderr, proc.stderr
    if fragment:
        assert proc.stderr.strip().splitlines()[-1].startswith("fdal: error: ") and fragment in proc.stderr
    else:
        want = fdal.rank_pool(fdal.load(str(cli_files / M)), np.load(cli_files / POOL), 3).tolist()
        assert [int(v) for v in (tmp_path / "picks.txt").read_text().split()] == want


@pytest.mark.parametrize("strategy", [pytest.param(s, id=f"answer-interrupted-{s}") for s in ("probcover", "margin")])
def test_ctrl_c_last_line_is_interrupted(hard_files, tmp_path, strategy):
    """SIGINT once the progress bar is drawn (20,000 images, long enough that it cannot finish first
    at cap 20,000 for probcover; margin may be past the bar): exit 130 and `fdal: interrupted` is the
    last line, not a redrawn bar. Nothing here is timed; 120 s is only the bound for a hang."""
    import signal
    import subprocess
    import sys
    pytest.importorskip("tqdm")
    from fdal import testing
    np.save(tmp_path / "big.npy", testing.random_images(1, 20_000, SHAPE))
    with subprocess.Popen([sys.executable, "-m", "fdal.cli", "rank", str(hard_files / M), str(tmp_path / "big.npy"),
                           "-k", "100", "--strategy", strategy, "--cap", "20000"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) as proc:
        try:
            first = proc.stderr.read(1)  # the bar's first byte: the ranking has started
            proc.send_signal(signal.SIGINT)
            rest = proc.stderr.read()
            proc.wait(timeout=120)
        finally:
            proc.kill()
    err = (first + rest).decode()
    if proc.returncode == 0:  # margin finished before the signal arrived: nothing to check
        assert strategy == "margin"
        return
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.replace("\r", "\n").strip().splitlines()[-1] == "fdal: interrupted"
