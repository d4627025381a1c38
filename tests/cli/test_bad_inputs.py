"""Issue 16: every bad input to `fdal` and `fdal-rank` is one clear line naming the problem, no
traceback. User errors caught by fdal's main() exit 1 (`fdal: error: ...`, errors.EXIT_USER_ERROR);
argparse refusals of a flag's value exit 2 (usage, then `fdal <command>: error: ...` as the last
line). fdal-rank keeps its documented exit codes (2 usage, 3 model, 4 pool, 5 shape)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fdal import format as fmt
from fdal import testing
from fdal.cli import main
from fdal.testing.tools import find_fdal_rank

from cli_in_process import run

ROOT = Path(__file__).resolve().parents[2]
THREADS = ["1000000", str(2**31 - 1), str(2**31), "0", "-1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    model = d / "vgg.fdal"  # 32x32x3 input, with a sampler
    fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32), model)
    pool = testing.random_images(7, 20)
    np.save(d / "pool.npy", pool)
    good = (d / "pool.npy").read_bytes()
    (d / "badheader.npy").write_bytes(good[:10] + b"{'descr': garbage" + good[27:])
    (d / "empty.npy").write_bytes(b"")
    np.savez(d / "archive.npz", x=pool)
    (d / "archive-as.npy").write_bytes((d / "archive.npz").read_bytes())
    (d / "badmagic.npy").write_bytes(b"XXXXXX" + good[6:])
    (d / "UPPER.NPY").write_bytes(good)
    (d / "pool.raw").write_bytes(pool.tobytes())
    (d / "odd.raw").write_bytes(pool.tobytes() + b"\0" * 5)
    (d / "notes.txt").write_text("not\nresults\n")
    (d / "results.bin").write_bytes(good)
    os.mkfifo(d / "fifo")
    return d


def assert_one_line_error(capsys, argv, code, *fragments):
    got, out, err = run(capsys, *argv)
    assert got == code, (argv, got, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if code == 1:  # main()'s report: exactly one line
        assert len(lines) == 1 and lines[0].startswith("fdal: error: "), err
    line = lines[-1]
    assert "error: " in line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return out


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("command", ["rank", "bench"])
def test_threads_out_of_range(files, capsys, command, threads):
    args = [files / "pool.npy", "-k", "2"] if command == "rank" else ["-n", "8", "--repeat", "1"]
    assert_one_line_error(capsys, [command, files / "vgg.fdal", *args, "--threads", threads], 2,
                          "--threads", "1..1024", threads)


@pytest.mark.parametrize("name, fragments", [
    ("badheader.npy", ["badheader.npy", "corrupted .npy header"]),
    ("empty.npy", ["empty.npy", "empty file"]),
    ("archive-as.npy", ["archive-as.npy", ".npz archive", "np.load"]),
    ("archive.npz", ["archive.npz", ".npz archive", "np.save"]),
    ("badmagic.npy", ["badmagic.npy", "not a .npy file"]),
    ("odd.raw", ["odd.raw", "3072 bytes", "61445 bytes"]),
    ("fifo", ["fifo", "not a regular file"]),
    ("/dev/stdin", ["/dev/stdin", "not a regular file"]),
])
def test_rank_bad_pool(files, capsys, name, fragments):
    pool = name if name.startswith("/") else files / name
    assert_one_line_error(capsys, ["rank", files / "vgg.fdal", pool, "-k", "2"], 1, *fragments)


def test_rank_reads_upper_case_npy_as_npy(files, capsys):
    code, out, err = run(capsys, "rank", files / "vgg.fdal", files / "UPPER.NPY", "-k", "3")
    assert code == 0, err
    picks = [int(v) for v in out.split()]
    assert len(picks) == 3 and all(0 <= i < 20 for i in picks)


def test_rank_raw_shape_is_checked_and_indices_stay_in_the_pool(files, capsys):
    assert_one_line_error(capsys, ["rank", files / "vgg.fdal", files / "pool.raw", "-k", "2", "--raw", "16x16x3"],
                          1, "--raw 16x16x3", "32x32x3")
    assert_one_line_error(capsys, ["rank", files / "vgg.fdal", files / "pool.raw", "-k", "2", "--raw", "16x16"],
                          2, "--raw", "HxWxC")
    code, out, err = run(capsys, "rank", files / "vgg.fdal", files / "pool.raw", "-k", "20", "--raw", "32x32x3")
    assert code == 0, err
    assert sorted(int(v) for v in out.split()) == list(range(20))  # never an index >= the pool size


def test_directory_as_model(files, capsys):
    assert_one_line_error(capsys, ["rank", files, files / "pool.npy", "-k", "2"], 1, "is a directory", "model")


@pytest.mark.parametrize("name", ["pool.npy", "results.bin"])
def test_plot_on_a_binary_file_says_it_expects_results_jsonl(files, capsys, name):
    assert_one_line_error(capsys, ["plot", files / name], 1, name, "results.jsonl")


def test_plot_on_a_text_file_that_is_not_jsonl(files, capsys):
    assert_one_line_error(capsys, ["plot", files / "notes.txt"], 1, "not JSON", "results.jsonl")


def test_closed_stdout_pipe_ends_quietly(files):
    proc = subprocess.Popen([sys.executable, "-m", "fdal.cli", "info", str(files / "vgg.fdal")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -1` exiting before fdal writes
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


def test_bench_help_and_seed_help(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--repeat REPEAT time this many runs" in out
    with pytest.raises(SystemExit):
        main(["al", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default None" not in out and "the preset's own seed" in out


def test_bench_tiles_at_most_1000_generated_images(files, monkeypatch):
    import fdal.testing as ft
    sizes = []
    real = ft.random_images
    monkeypatch.setattr(ft, "random_images", lambda seed, n, *a, **kw: sizes.append(n) or real(seed, n, *a, **kw))
    from fdal.cli import rank as rank_cmd
    monkeypatch.setattr(rank_cmd, "measure", lambda model, pool, *a, **kw: sizes.append(len(pool)) or
                        {"forward_s": 1, "rank_s": 1, "forward_images_per_s": 1, "rank_images_per_s": 1})
    assert main(["bench", str(files / "vgg.fdal"), "-n", "2500", "--repeat", "1"]) == 0
    assert sizes == [1000, 2500]


# --- fdal al (needs torch) ---------------------------------------------------------------------

AL = ["al", "--preset", "smoke", "--methods", "random"]


def test_al_export_hint_names_a_checkpoint_the_run_wrote(tmp_path, capsys):
    """Without fdal among the methods, the closing hint must not name models/fdal-trial0.pt."""
    pytest.importorskip("torch")
    code, _, err = run(capsys, *AL, "--epochs", "1", "--out", tmp_path / "run", "--no-progress")
    assert code == 0, err
    hint = err.strip().splitlines()[-1]
    assert "export with: fdal export" in hint and "fdal-trial0.pt" not in hint, hint
    named = hint.split("fdal export ")[1].split(" --out")[0]
    assert named.endswith("random-trial0.pt") and Path(named).is_file(), hint


@pytest.mark.parametrize("threads", THREADS)
def test_al_threads_out_of_range(tmp_path, capsys, threads):
    pytest.importorskip("torch")
    assert_one_line_error(capsys, [*AL, "--out", tmp_path, "--threads", threads], 2, "--threads", "1..1024")


@pytest.mark.parametrize("threads", ["0", "-1", str(2**31)])
def test_quickstart_threads_out_of_range(tmp_path, capsys, threads):
    assert_one_line_error(capsys, ["quickstart", "--out", tmp_path, "--threads", threads], 2, "--threads", "1..1024")


def test_al_bogus_device(tmp_path, capsys):
    pytest.importorskip("torch")
    assert_one_line_error(capsys, [*AL, "--out", tmp_path, "--device", "bogus"], 1, "--device bogus",
                          "not a torch device")


def test_al_fdal_file_as_teacher(files, tmp_path, capsys):
    pytest.importorskip("torch")
    assert_one_line_error(capsys, [*AL, "--out", tmp_path, "--teacher", files / "vgg.fdal"], 1,
                          "--teacher", ".fdal student", "fdal train-teacher")
    assert_one_line_error(capsys, [*AL, "--out", tmp_path, "--teacher", files / "notes.txt"], 1,
                          "--teacher", "not a PyTorch teacher checkpoint")


def test_al_ctrl_c_prints_the_resume_command(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    import fdal.training.runner as runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "run_protocol", interrupted)
    code, _, err = run(capsys, *AL, "--out", tmp_path)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"fdal: interrupted; resume with: fdal al --preset smoke --methods random --out {tmp_path} (same --out)"]


# --- fdal-rank ---------------------------------------------------------------------------------

FDAL_RANK = find_fdal_rank(ROOT)
needs_tool = pytest.mark.skipif(FDAL_RANK is None, reason="fdal-rank not built (cmake -DFDAL_BUILD_TOOLS=ON; "
                                                          "or set FDAL_RANK)")


def tool(*args):
    return subprocess.run([FDAL_RANK, *map(str, args)], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@needs_tool
@pytest.mark.parametrize("argv, code, fragments", [
    *[(["vgg.fdal", "pool.npy", "-k", "2", "--threads", t], 2, ["--threads", "1..1024"]) for t in THREADS],
    (["vgg.fdal", "badheader.npy", "-k", "2"], 4, ["badheader.npy", ".npy header"]),
    (["vgg.fdal", "empty.npy", "-k", "2"], 4, ["empty.npy", "empty file"]),
    (["vgg.fdal", "archive-as.npy", "-k", "2"], 4, [".npz archive"]),
    (["vgg.fdal", "archive.npz", "-k", "2"], 4, [".npz archive"]),
    (["vgg.fdal", "badmagic.npy", "-k", "2"], 4, ["badmagic.npy", "not a .npy file"]),
    (["vgg.fdal", "odd.raw", "-k", "2"], 5, ["61445 bytes", "3072 bytes"]),
    (["vgg.fdal", "fifo", "-k", "2"], 4, ["fifo", "not a regular file"]),
    (["vgg.fdal", "/dev/stdin", "-k", "2"], 4, ["not a regular file"]),
    ([".", "pool.npy", "-k", "2"], 3, ["is a directory"]),
    (["vgg.fdal", "pool.raw", "-k", "2", "--raw", "16x16x3"], 5, ["--raw 16x16x3", "32x32x3"]),
    (["vgg.fdal", "pool.raw", "-k", "2", "--raw", "16x16"], 2, ["--raw", "HxWxC"]),
])
def test_fdal_rank_bad_inputs(files, argv, code, fragments):
    proc = subprocess.run([FDAL_RANK, *argv], capture_output=True, text=True, timeout=60, cwd=files,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdal-rank: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@needs_tool
@pytest.mark.parametrize("pool, extra", [("UPPER.NPY", []), ("pool.raw", ["--raw", "32x32x3"]),
                                         ("pool.npy", ["--threads", "3"])])
def test_fdal_rank_good_inputs_stay_in_the_pool(files, pool, extra):
    proc = tool(files / "vgg.fdal", files / pool, "-k", "20", *extra)
    assert proc.returncode == 0, proc.stderr
    assert sorted(int(v) for v in proc.stdout.split()) == list(range(20))
