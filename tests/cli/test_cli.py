"""The `fdal` command: --help of every subcommand, info/rank/bench/plot outputs, and every user
error path (one line `fdal: error: ...`, non-zero exit, no traceback)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import oracle, testing
from fdal.cli import main

SUBCOMMANDS = ("quickstart", "prepare-data", "train-teacher", "al", "export", "compare", "rank", "info",
               "bench", "plot")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "vgg.fdal"
    fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32), path)
    return str(path)


@pytest.fixture(scope="module")
def no_sampler_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.fdal"
    fmt.write_model(testing.random_model(6, "tiny", with_sampler=False, n_calibration=32), path)
    return str(path)


@pytest.fixture(scope="module")
def embedding_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "vgg_embedding.fdal"
    fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32, embedding="student"), path)
    return str(path)


@pytest.fixture(scope="module")
def pool_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pools") / "pool.npy"
    np.save(path, testing.random_images(7, 300))
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, *fragments):
    code, out, err = run(capsys, *argv)
    assert code == 1, (argv, code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdal: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"fdal {command}" in out.split("example:")[1]


def test_al_help_names_every_preset(capsys):
    pytest.importorskip("torch")
    from fdal.training.protocols import PRESETS
    with pytest.raises(SystemExit):
        main(["al", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse rewraps the description
    missing = [name for name in PRESETS if name not in text]
    assert not missing, f"fdal al --help does not name presets {missing}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "quickstart" in capsys.readouterr().out


def test_info_describes_layers_heads_and_sizes(model_file, capsys):
    code, out, _ = run(capsys, "info", model_file)
    assert code == 0
    spec = fmt.read_model(model_file)
    assert out.count("conv2d") == sum(layer.op == "conv2d" for layer in spec.layers)
    assert "<- logits" in out and "<- score" in out
    assert "32x32x3" in out and "arena" in out
    assert "embedding: none (re-export with `fdal export` to add one)" in out


@pytest.mark.parametrize("embedding", ["student", "decoder"])
def test_info_shows_the_embedding_layer_size_scale_and_cost(embedding, tmp_path, capsys):
    spec = testing.random_model(5, "vgg11_lite", embedding=embedding, n_calibration=32)
    path = tmp_path / "m.fdal"
    fmt.write_model(spec, path)
    code, out, _ = run(capsys, "info", str(path), "--json")
    assert code == 0
    e = json.loads(out)["embedding"]
    layer = spec.layers[spec.embedding_layer]
    assert (e["layer"], e["dim"], e["zero_point"]) == (spec.embedding_layer, int(np.prod(layer.out_shape)),
                                                       layer.out_zero_point)
    assert e["scale"] == float(layer.out_scale)
    if embedding == "student":
        assert e["dim"] == 256 and e["branch_layers"] == [] and e["branch_macs"] == 0
    else:  # the decoder branch: 2x2x256 * 9*64 + 2x2x512 * 9*256 multiply-accumulates
        assert e["dim"] == 512 and e["branch_layers"] == [11, 12, 13]
        assert e["branch_macs"] == 4 * 256 * 9 * 64 + 4 * 512 * 9 * 256
    code, out, _ = run(capsys, "info", str(path))
    assert f"embedding: layer {e['layer']} ({layer.op}), {e['dim']} int8 values" in out
    assert "<- embedding" in out and f"zero point {e['zero_point']}" in out
    assert ("no extra MACs" in out) == (embedding == "student")


def test_info_json_matches_the_file(model_file, capsys):
    code, out, _ = run(capsys, "info", model_file, "--json")
    assert code == 0
    d = json.loads(out)
    spec = fmt.read_model(model_file)
    assert d["num_classes"] == 10 and d["has_sampler"] and len(d["layers"]) == len(spec.layers)
    assert d["arena_bytes"] == fdal.load(model_file).info["arena_bytes"]
    expected = sum(a.nbytes for layer in spec.layers
                   for a in (layer.weights, layer.bias, layer.multiplier, layer.shift, layer.weight_scale)
                   if a is not None)
    assert d["weight_bytes"] == expected
    conv0 = d["layers"][0]
    assert conv0["macs"] == 32 * 32 * 16 * 3 * 3 * 3 and conv0["relu"]


def test_info_and_rank_work_without_torch(model_file, pool_file):
    # sys.modules["torch"] = None makes every `import torch` fail, as on a board without PyTorch.
    code = ("import sys; sys.modules['torch'] = None\n"
            "from fdal.cli import main\n"
            f"assert main(['info', {model_file!r}]) == 0\n"
            f"assert main(['rank', {model_file!r}, {pool_file!r}, '-k', '3']) == 0\n"
            "sys.exit(main(['al', '--preset', 'smoke', '--out', 'unused']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == 'fdal: this command needs PyTorch: pip install "fdal[train]"'
    assert "Traceback" not in proc.stderr and "<- logits" in proc.stdout


@pytest.mark.parametrize("strategy", fdal.STRATEGIES)
def test_rank_prints_what_rank_pool_returns(model_file, embedding_file, pool_file, strategy, capsys):
    if fdal.strategies.BY_NAME[strategy].needs_embedding:
        # model_file has no embedding: the error names the fix; a file with one ranks.
        assert_user_error(capsys, ["rank", model_file, pool_file, "-k", "17", "--strategy", strategy],
                          "needs per-image embeddings", "fdal export")
        model_file = embedding_file
    code, out, _ = run(capsys, "rank", model_file, pool_file, "-k", "17", "--strategy", strategy, "--seed", "3",
                       "--threads", "2")
    assert code == 0
    expected = fdal.rank_pool(fdal.load(model_file), np.load(pool_file), 17, strategy=strategy, seed=3)
    assert [int(v) for v in out.split()] == expected.tolist()


@pytest.mark.parametrize("strategy", fdal.strategies.POOL_STRATEGIES)
def test_rank_cap(embedding_file, pool_file, strategy, capsys):
    code, out, _ = run(capsys, "rank", embedding_file, pool_file, "-k", "9", "--strategy", strategy, "--seed", "4",
                       "--cap", "50", "--batch-size", "33")
    assert code == 0
    spec = fmt.read_model(embedding_file)
    expected = oracle.rank(spec, np.load(pool_file), 9, strategy, seed=4, cap=50)
    assert [int(v) for v in out.split()] == expected.tolist()
    assert_user_error(capsys, ["rank", embedding_file, pool_file, "-k", "51", "--strategy", strategy, "--cap", "50"],
                      "larger than the number of candidates 50")


def test_rank_writes_npy_text_raw_and_nchw(model_file, pool_file, tmp_path, capsys):
    images = np.load(pool_file)
    expected = fdal.rank_pool(fdal.load(model_file), images, 9).tolist()
    assert run(capsys, "rank", model_file, pool_file, "-k", "9", "--out", str(tmp_path / "p.npy"))[0] == 0
    assert np.load(tmp_path / "p.npy").tolist() == expected
    assert run(capsys, "rank", model_file, pool_file, "-k", "9", "--out", str(tmp_path / "p.txt"))[0] == 0
    assert [int(v) for v in (tmp_path / "p.txt").read_text().split()] == expected
    images.tofile(tmp_path / "pool.u8")
    code, out, _ = run(capsys, "rank", model_file, str(tmp_path / "pool.u8"), "-k", "9", "--raw", "32x32x3")
    assert code == 0 and [int(v) for v in out.split()] == expected
    np.save(tmp_path / "nchw.npy", np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    code, out, _ = run(capsys, "rank", model_file, str(tmp_path / "nchw.npy"), "-k", "9")
    assert code == 0 and [int(v) for v in out.split()] == expected


def test_bench_prints_throughput(model_file, capsys):
    code, out, _ = run(capsys, "bench", model_file, "-n", "64", "--repeat", "1", "--batch-size", "32")
    assert code == 0
    assert "pool: 64 random images (seed 0), batch 32, best of 1" in out and "1 thread" in out
    rows = dict(re.findall(r"^\| (forward|rank_pool \(fdal, k=6\)) \| ([\d.]+) \| [\d,]+ \|$", out, re.M))
    assert set(rows) == {"forward", "rank_pool (fdal, k=6)"}, out


def test_plot_writes_png_and_table(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from fdal.training.results import append_result
    path = tmp_path / "results.jsonl"
    for method, accs in (("random", (0.30, 0.40)), ("fdal", (0.32, 0.45))):
        for cycle, acc in enumerate(accs):
            append_result(path, {"method": method, "dataset": "synthetic", "trial": 0, "cycle": cycle,
                                 "n_labeled": 100 * (cycle + 1), "accuracy": acc, "seconds": 1.0,
                                 "preset": "t", "seed": 0})
    code, out, _ = run(capsys, "plot", str(path), "--out", str(tmp_path / "plots"))
    assert code == 0 and "| fdal | 32.00 (1 trial) | 45.00 (1 trial) |" in out
    assert (tmp_path / "plots" / "curves.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "results.md").read_text().startswith("| method |")
    assert_user_error(capsys, ["plot", str(path), "--methods", "vaal"], "no results for method(s) vaal")


def test_missing_and_corrupt_model_files(model_file, pool_file, tmp_path, capsys):
    assert_user_error(capsys, ["info", str(tmp_path / "nope.fdal")], "nope.fdal", "No such file")
    bad = tmp_path / "bad.fdal"
    bad.write_bytes(b"not a model at all" * 10)
    assert_user_error(capsys, ["info", str(bad)], "magic")
    assert_user_error(capsys, ["rank", str(bad), pool_file, "-k", "1"], "magic")
    data = bytearray(Path(model_file).read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    assert_user_error(capsys, ["bench", str(bad)], "CRC")


def test_rank_reads_a_3d_one_channel_pool_as_n_h_w_1(tmp_path, capsys):
    """(N, H, W) arrays are what grayscale cameras and np.stack of 2-D images give."""
    model = tmp_path / "gray.fdal"
    fmt.write_model(testing.random_model(8, "tiny", with_sampler=False, input_shape=(8, 8, 1), n_calibration=16), model)
    images = testing.random_images(9, 40, (8, 8, 1))
    np.save(tmp_path / "gray3d.npy", images[..., 0])
    code, out, err = run(capsys, "rank", str(model), str(tmp_path / "gray3d.npy"), "-k", "7", "--strategy", "margin")
    assert code == 0, err
    want = fdal.rank_pool(fdal.load(str(model)), images, 7, strategy="margin")
    assert [int(v) for v in out.split()] == want.tolist()


def test_rank_user_errors(model_file, no_sampler_file, pool_file, tmp_path, capsys):
    assert_user_error(capsys, ["rank", model_file, pool_file, "-k", "301"], "larger than the pool")
    assert_user_error(capsys, ["rank", model_file, pool_file, "-k", "3", "--strategy", "best"],
                      "unknown strategy 'best'", "margin")
    assert_user_error(capsys, ["rank", no_sampler_file, pool_file, "-k", "3"], "needs a model with a sampler")
    assert_user_error(capsys, ["rank", model_file, str(tmp_path / "none.npy"), "-k", "3"], "none.npy")
    np.save(tmp_path / "f.npy", np.zeros((4, 32, 32, 3), np.float32))
    assert_user_error(capsys, ["rank", model_file, str(tmp_path / "f.npy"), "-k", "3"], "uint8")
    np.save(tmp_path / "s.npy", np.zeros((4, 16, 16, 3), np.uint8))
    assert_user_error(capsys, ["rank", model_file, str(tmp_path / "s.npy"), "-k", "3"], "(16, 16, 3)")
    (tmp_path / "raw.u8").write_bytes(b"\0" * 1000)
    assert_user_error(capsys, ["rank", model_file, str(tmp_path / "raw.u8"), "-k", "3"], "3072 bytes")


@pytest.mark.parametrize("k", ["0", "-2", "three"])
def test_bad_k_is_an_argparse_error(model_file, pool_file, k, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["rank", model_file, pool_file, "-k", k])
    assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_training_side_user_errors(tmp_path, capsys):
    pytest.importorskip("torch")
    out = str(tmp_path / "run")
    assert_user_error(capsys, ["al", "--preset", "paper-fig3", "--out", out], "unknown preset 'paper-fig3'",
                      "cpu-small")
    assert_user_error(capsys, ["al", "--preset", "smoke", "--methods", "fdal,best", "--out", out],
                      "unknown method 'best'")
    assert_user_error(capsys, ["al", "--preset", "cpu-small", "--out", out], "needs --data-dir")
    assert_user_error(capsys, ["al", "--preset", "cpu-small", "--out", out, "--data-dir", str(tmp_path)],
                      "CIFAR-10: missing files", "data_batch_1")
    assert_user_error(capsys, ["al", "--preset", "smoke", "--dataset", "svhn", "--out", out + "-svhn",
                               "--data-dir", str(tmp_path)], "missing files", "train_32x32.mat")
    assert_user_error(capsys, ["train-teacher", "--dataset", "cifar10", "--out", out], "--data-dir is required")
    assert_user_error(capsys, ["train-teacher", "--data-dir", str(tmp_path / "nowhere")], "nowhere")
    assert_user_error(capsys, ["quickstart", "--data-dir", str(tmp_path / "nowhere")], "nowhere")
    assert_user_error(capsys, ["quickstart", "--methods", "random", "--out", out], "must include fdal")
    assert_user_error(capsys, ["export", str(tmp_path / "x.pt")], "x.pt", "No such file")
    (tmp_path / "x.pt").write_bytes(b"garbage")
    assert_user_error(capsys, ["export", str(tmp_path / "x.pt"), "--dataset", "synthetic"], "x.pt")
    assert_user_error(capsys, ["plot", str(tmp_path / "results.jsonl")], "results.jsonl")
    assert_user_error(capsys, ["prepare-data", "--data-dir", str(tmp_path / "d"), "--source", str(tmp_path)],
                      "JPEG copy not found")


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["--debug", "info", str(tmp_path / "nope.fdal")])
