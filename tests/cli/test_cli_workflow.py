"""The `fdal` workflow end to end through fdal.cli.main on tiny data: al (smoke preset, generated
data) -> export -> info -> rank -> compare, train-teacher, prepare-data --check. The error paths
are in test_cli.py; here every command succeeds and its files and printed numbers are checked."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import fdal  # noqa: E402
from fdal.cli import main  # noqa: E402
from data_files import write_cifar10  # noqa: E402  (tiny folder in the official pickle layout)

pytestmark = pytest.mark.torch

METHODS = ("random", "fdal")
SIZES = (40, 80, 120)  # the smoke preset: 40 initial, +40 per cycle, up to 120 labels
SMOKE_CLASSES = 4


def run_cli(*argv):
    """(exit code, stdout, stderr) of `fdal argv...`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def ok(*argv):
    code, out, err = run_cli(*argv)
    assert code == 0, (argv, code, err[-2000:])
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def report_values(text):
    """The `| metric | value |` rows of a compare report, as {metric: value text}."""
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", text, flags=re.M)
    return {k: v for k, v in rows if k not in ("metric", "---")}


def percent(text):
    return float(text.rstrip("%"))


@pytest.fixture(scope="module")
def al_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("al") / "run"
    stdout = ok("al", "--preset", "smoke", "--epochs", 1, "--methods", ",".join(METHODS), "--out", out)
    return out, stdout


@pytest.fixture(scope="module")
def exported(al_run, tmp_path_factory):
    out, _ = al_run
    folder = tmp_path_factory.mktemp("export")
    paths = {}
    for method in METHODS:
        paths[method] = folder / f"{method}.fdal"
        printed = ok("export", out / "models" / f"{method}-trial0.pt", "--calibration", 64, "--out", paths[method])
        size = int(re.search(r"\(([\d,]+) bytes\)", printed).group(1).replace(",", ""))
        assert size == paths[method].stat().st_size
        assert "calibrated (minmax) on 64 training images" in printed and "of synthetic" in printed
        assert ("+ sampler" in printed) == (method == "fdal")
        assert "student embedding of 256 values" in printed  # the default
    return paths


@pytest.fixture(scope="module")
def pool_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.npy"
    np.save(path, np.random.default_rng(5).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8))
    return path


def test_al_writes_results_table_plot_and_checkpoints(al_run):
    from fdal.training.checkpoint import load_checkpoint
    out, stdout = al_run
    rows = read_jsonl(out / "results.jsonl")
    assert sorted((r["method"], r["n_labeled"]) for r in rows) == sorted((m, n) for m in METHODS for n in SIZES)
    assert all(r["dataset"] == "synthetic" and r["trial"] == 0 and 0 <= r["accuracy"] <= 1 for r in rows)
    table = (out / "results.md").read_text()
    assert table.startswith("# smoke-e1 (synthetic)") and "| method | 40 | 80 | 120 |" in table
    for method in METHODS:
        accs = [r["accuracy"] for r in sorted(rows, key=lambda r: r["n_labeled"]) if r["method"] == method]
        cells = " | ".join(f"{100 * a:.2f} (1 trial)" for a in accs)
        assert f"| {method} | {cells} |" in table and f"| {method} | {cells} |" in stdout
    png = (out / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    for method in METHODS:
        student, sampler, ckpt = load_checkpoint(str(out / "models" / f"{method}-trial0.pt"))
        assert ckpt["num_classes"] == SMOKE_CLASSES and ckpt["n_labeled"] == SIZES[-1]
        assert (sampler is not None) == (method == "fdal")


def test_al_resumes_a_finished_run_without_new_rows(al_run):
    out, _ = al_run
    before = (out / "results.jsonl").read_text()
    ok("al", "--preset", "smoke", "--epochs", 1, "--methods", ",".join(METHODS), "--out", out)
    assert (out / "results.jsonl").read_text() == before


def test_info_describes_the_exported_models(exported):
    for method, path in exported.items():
        d = json.loads(ok("info", path, "--json"))
        assert d["num_classes"] == SMOKE_CLASSES and d["has_sampler"] == (method == "fdal")
    text = ok("info", exported["fdal"])
    assert "<- logits" in text and "<- score" in text and f"({SMOKE_CLASSES} classes)" in text


def test_export_embedding_choices(al_run, exported, tmp_path):
    out, _ = al_run
    fdal_ckpt, random_ckpt = out / "models" / "fdal-trial0.pt", out / "models" / "random-trial0.pt"
    decoder_file, plain_file = tmp_path / "decoder.fdal", tmp_path / "plain.fdal"
    printed = ok("export", fdal_ckpt, "--calibration", 64, "--embedding", "decoder", "--out", decoder_file)
    assert "decoder embedding of 512 values" in printed
    e = json.loads(ok("info", decoder_file, "--json"))["embedding"]
    assert e["dim"] == 512 and e["branch_macs"] == 4 * 256 * 9 * 64 + 4 * 512 * 9 * 256
    assert fdal.load(str(decoder_file)).embedding_dim == 512
    # compare takes the checkpoint's decoder for a decoder embedding, z otherwise
    for path in (decoder_file, exported["fdal"]):
        values = report_values(ok("compare", fdal_ckpt, path, "-n", 40))
        assert float(values["mean cosine, embedding (float vs int8)"]) > 0.99, values
    printed = ok("export", random_ckpt, "--calibration", 64, "--embedding", "none", "--out", plain_file)
    assert "no embedding" in printed and not fdal.load(str(plain_file)).has_embedding
    assert "embedding: none" in ok("info", plain_file)
    code, _, err = run_cli("export", random_ckpt, "--calibration", 64, "--embedding", "decoder",
                           "--out", tmp_path / "x.fdal")
    assert code == 1 and "has no decoder (only the fdal and kd training modes train one)" in err
    assert "--embedding student" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.fdal").exists()


def test_rank_with_the_exported_models(exported, pool_file):
    images = np.load(pool_file)
    printed = [int(v) for v in ok("rank", exported["fdal"], pool_file, "-k", 5).split()]
    assert printed == fdal.rank_pool(fdal.load(str(exported["fdal"])), images, 5).tolist()
    assert len(set(printed)) == 5 and all(0 <= i < len(images) for i in printed)
    # The random-method student has no sampler: the fdal strategy is refused, margin works.
    assert run_cli("rank", exported["random"], pool_file, "-k", 5)[0] == 1
    printed = [int(v) for v in ok("rank", exported["random"], pool_file, "-k", 5, "--strategy", "margin").split()]
    assert printed == fdal.rank_pool(fdal.load(str(exported["random"])), images, 5, strategy="margin").tolist()


def test_compare_reports_parity_on_the_runs_test_set(al_run, exported, tmp_path):
    out, _ = al_run
    report_path = tmp_path / "compare.md"
    printed = ok("compare", out / "models" / "fdal-trial0.pt", exported["fdal"], "--out", report_path)
    values = report_values(report_path.read_text())
    assert values == report_values(printed)
    assert values["images"] == "100"  # the smoke preset's 100 generated test images
    final = [r for r in read_jsonl(out / "results.jsonl") if r["method"] == "fdal" and r["n_labeled"] == SIZES[-1]]
    # Same checkpoint, same regenerated test set: the float accuracy is the one the run recorded.
    assert percent(values["float accuracy"]) == pytest.approx(100 * final[0]["accuracy"])
    assert 0 <= percent(values["int8 accuracy"]) <= 100
    assert percent(values["top-1 agreement (float vs int8)"]) >= 80
    assert float(values["Spearman, sampler pre-sigmoid (float vs int8 raw)"]) >= 0.9
    assert int(values[".fdal file size"].split()[0].replace(",", "")) == exported["fdal"].stat().st_size


def test_explicit_dataset_synthetic_means_the_runs_generated_data(al_run, exported, tmp_path):
    out, _ = al_run
    ckpt = out / "models" / "fdal-trial0.pt"
    implicit = report_values(ok("compare", ckpt, exported["fdal"], "-n", 40))
    explicit = report_values(ok("compare", ckpt, exported["fdal"], "-n", 40, "--dataset", "synthetic"))
    assert explicit == implicit
    # Outside its run folder there is no protocol.json: the default generated set has 10 classes.
    lone = tmp_path / "fdal-trial0.pt"
    shutil.copy(ckpt, lone)
    code, _, err = run_cli("compare", lone, exported["fdal"], "--dataset", "synthetic")
    assert code == 1 and "has 4 classes but synthetic has 10" in err


def test_train_teacher_on_synthetic_and_a_mismatched_teacher_is_refused(al_run, tmp_path):
    from fdal.training.teacher import load_teacher
    path = tmp_path / "teacher.pt"
    printed = ok("train-teacher", "--dataset", "synthetic", "--arch", "small", "--epochs", 1, "--batch-size", 128,
                 "--out", path)
    acc = float(re.search(r"test accuracy ([\d.]+)%", printed).group(1))
    assert 0 <= acc <= 100 and "small teacher on synthetic" in printed
    teacher = load_teacher(str(path))
    assert teacher.num_classes == 10 and teacher.meta["epochs"] == 1
    assert teacher.meta["test_acc"] == pytest.approx(acc / 100, abs=5e-5)
    assert teacher.recipe["epochs"] == 1 and teacher.recipe["batch_size"] == 128 and teacher.recipe["seed"] == 0
    assert "recipe: small teacher, logit scale 0.25; epochs 1, batch_size 128" in printed
    # The smoke preset has 4 classes: a clear error before any training, not a shape error mid-run.
    code, _, err = run_cli("al", "--preset", "smoke", "--methods", "kd_random", "--teacher", path,
                           "--out", tmp_path / "kd")
    assert code == 1 and "has 10 classes but synthetic has 4" in err


@pytest.fixture
def tiny_cifar10(tmp_path):
    write_cifar10(tmp_path, np.random.default_rng(3), n=8)
    return tmp_path


def test_prepare_data_check_and_train_teacher_on_a_cifar10_folder(tiny_cifar10, tmp_path):
    printed = ok("prepare-data", "--data-dir", tiny_cifar10, "--check", "cifar10")
    assert "classes: " + ", ".join(f"class{i}" for i in range(10)) in printed
    assert "train (40, 3, 32, 32), test (8, 3, 32, 32), 10 classes" in printed  # 5 x 8 train, 8 test images
    # Without --check on a folder that already holds the batches: nothing to decode, just "ready".
    assert "ready in" in ok("prepare-data", "--data-dir", tiny_cifar10)
    path = tmp_path / "teacher.pt"
    printed = ok("train-teacher", "--data-dir", tiny_cifar10, "--arch", "small", "--epochs", 1, "--batch-size", 8,
                 "--out", path)
    assert "small teacher on cifar10: test accuracy" in printed and path.stat().st_size > 0
