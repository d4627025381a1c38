"""`fdal quickstart --fast` end to end: generated data, its methods, int8 export, parity, ranking."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import torch  # noqa: E402

import fdal  # noqa: E402
from fdal.cli import main  # noqa: E402
from fdal.cli.quickstart import (_trial_notes, default_methods, default_rule, largest_drop,  # noqa: E402
                                 quick_protocol, rule_method)
from fdal.training.data import images_nhwc  # noqa: E402
from fdal.training.runner import load_protocol_dataset  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    # Module-scoped (one run for three tests), so stdout is captured by hand, not with capsys.
    out = tmp_path_factory.mktemp("quickstart")
    import contextlib
    import io
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["quickstart", "--fast", "--out", str(out), "--threads", "1"])
    return code, stdout.getvalue(), out


def test_quickstart_runs_and_reports_every_method(quickstart):
    code, report, out = quickstart
    assert code == 0
    records = [json.loads(line) for line in (out / "run" / "results.jsonl").read_text().splitlines()]
    methods = default_methods()
    assert {"random", "kd_random", "fdal", rule_method(default_rule()), "kd+classbalanced@labeled"} == set(methods)
    assert sorted({r["method"] for r in records}) == sorted(methods)
    assert sorted({r["n_labeled"] for r in records}) == [40, 80, 120] and len(records) == 3 * len(methods)
    for method in methods:
        row = next(line for line in report.splitlines() if line.startswith(f"| {method} |"))
        assert row.count("(1 trial)") == 4  # 3 budgets and the AUBC
        assert f"- `{method}`: " in report  # each method is explained
    assert f"the default rule of `fdal rank` (`--strategy {default_rule()}`)" in report
    assert "differences of a few points between methods here are noise" in report and "docs/results.md" in report
    assert (out / "report.md").read_text().strip() == report.strip()
    assert (out / "curves.png").stat().st_size > 1000


def test_quickstart_report_flags_a_falling_curve():
    """A curve that loses more than 2 points between consecutive budgets gets a warning; one that
    rises, or dips by 2 points or less, does not."""
    def records(method, accs):
        return [{"method": method, "n_labeled": n, "accuracy": a} for n, a in zip((200, 300, 400), accs)]
    results = records("random", [0.40, 0.50, 0.49]) + records("kd_random", [0.40, 0.542, 0.272])
    notes = "\n".join(_trial_notes(results, ["random", "kd_random"]))
    assert "`kd_random` loses 27.0 points" in notes and "`random` loses" not in notes
    assert "loses" not in "\n".join(_trial_notes(results, ["random", "kd_random"], fast=True))
    assert largest_drop([0.3, 0.5, 0.45, 0.6]) == pytest.approx(0.05) and largest_drop([0.1, 0.2]) == 0.0


def test_quickstart_fast_says_it_does_not_learn(quickstart):
    code, report, out = quickstart
    assert "`--fast` trains a few steps per cycle, too few to learn" in report and "**Warning**" not in report


def test_quickstart_exports_a_faithful_int8_model(quickstart):
    code, report, out = quickstart
    model = fdal.load(out / "student.fdal")
    assert model.has_sampler and model.input_shape == (32, 32, 3) and model.num_classes == 4
    agreement = float(re.search(r"top-1 agreement \(float vs int8\) \| ([\d.]+)%", report).group(1))
    assert agreement >= 90.0, report
    assert main(["info", str(out / "student.fdal")]) == 0


def test_quickstart_picks_index_the_saved_pool(quickstart):
    """next_to_label.npy holds rows of unlabeled_pool.npy (pool[picks] are the images to label);
    unlabeled_pool_dataset_index.npy maps each row to its index in the generated training set."""
    code, report, out = quickstart
    picks = np.load(out / "next_to_label.npy")
    pool = np.load(out / "unlabeled_pool.npy")
    rows = np.load(out / "unlabeled_pool_dataset_index.npy")
    labeled = json.loads((out / "run" / "checkpoints" / "fdal-trial0.json").read_text())["labeled"]
    assert len(picks) == 40 and len(set(picks.tolist())) == 40
    assert picks.min() >= 0 and picks.max() < len(pool)
    # The map: the still-unlabeled images of the generated training set, in dataset order.
    ds = load_protocol_dataset(quick_protocol(None, fast=True, seed=0), None, "cpu")
    np.testing.assert_array_equal(rows, np.setdiff1d(np.arange(len(ds.train_y)), labeled))
    np.testing.assert_array_equal(pool, images_nhwc(ds.train_x[torch.as_tensor(rows)]))
    assert not set(rows[picks].tolist()) & set(labeled)
    # pool[picks] are the images the ranker chose: strategy fdal takes the lowest sampler scores,
    # so the picked images' own scores are the pool's 40 lowest.
    model = fdal.load(out / "student.fdal")
    scores = model.forward(pool)["score"]
    np.testing.assert_array_equal(np.sort(model.forward(pool[picks])["score"]), np.sort(scores)[:40])
    np.testing.assert_array_equal(fdal.rank_pool(model, pool, 40, strategy="fdal"), picks)
    assert re.search(r"280 unlabeled images, top 40 by the sampler \(strategy fdal\): [\d,]+ images/s", report)
    assert "unlabeled_pool_dataset_index.npy" in report and "`pool[picks]` are the images to label" in report


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks(lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)


def test_readme_first_commands_install_what_the_second_needs():
    first = readme_blocks("sh")[0].strip().splitlines()
    assert len(first) == 2 and first[1] == "python -m pytest", first
    assert '".[train,test]"' in first[0] and first[0].endswith("fdal quickstart"), first[0]
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("pytest") for dep in extras["test"])  # what the second command runs


def test_readme_python_example_runs_as_written(quickstart, tmp_path, monkeypatch):
    """The README's Python block, against the quickstart's own output folder (fdal-quickstart/ in
    the working directory, as after the README's first command). The names it leaves to the
    reader (calibration_images, test_images, test_labels) are bound to quickstart images."""
    code, _, out = quickstart
    assert code == 0
    (tmp_path / "fdal-quickstart").symlink_to(out, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    (block,) = readme_blocks("python")
    runtime_part, training_part = block.split("import fdal.training as ft", 1)
    ns = {}
    exec(compile(runtime_part, "README.md (runtime)", "exec"), ns)
    pool = np.load(out / "unlabeled_pool.npy")
    assert ns["picks"].shape == (100,) and ns["scores"].shape == (100,)
    assert (ns["picks"] < len(pool)).all() and len(set(ns["picks"].tolist())) == 100
    np.testing.assert_array_equal(ns["picks"], fdal.rank_pool(fdal.load(str(out / "student.fdal")), pool, 100))
    ns.update(calibration_images=pool[:32], test_images=pool[:16], test_labels=np.zeros(16, np.int64))
    exec(compile("import fdal.training as ft" + training_part, "README.md (training)", "exec"), ns)
    assert (tmp_path / "student.fdal").is_file() and ns["report"] is not None
