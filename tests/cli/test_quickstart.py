"""`fdal quickstart --fast` end to end: generated data, three methods, int8 export, parity, ranking."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import fdal  # noqa: E402
from fdal.cli import main  # noqa: E402

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
    assert sorted({r["method"] for r in records}) == ["fdal", "kd_random", "random"]
    assert sorted({r["n_labeled"] for r in records}) == [40, 80, 120] and len(records) == 9
    for method in ("random", "kd_random", "fdal"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {method} |"))
        assert row.count("(1 trial)") == 4  # 3 budgets and the AUBC
    assert (out / "report.md").read_text().strip() == report.strip()
    assert (out / "curves.png").stat().st_size > 1000


def test_quickstart_exports_a_faithful_int8_model(quickstart):
    code, report, out = quickstart
    model = fdal.load(out / "student.fdal")
    assert model.has_sampler and model.input_shape == (32, 32, 3) and model.num_classes == 4
    agreement = float(re.search(r"top-1 agreement \(float vs int8\) \| ([\d.]+)%", report).group(1))
    assert agreement >= 90.0, report
    assert main(["info", str(out / "student.fdal")]) == 0


def test_quickstart_picks_unlabeled_images(quickstart):
    code, report, out = quickstart
    picks = np.load(out / "next_to_label.npy")
    labeled = json.loads((out / "run" / "checkpoints" / "fdal-trial0.json").read_text())["labeled"]
    assert len(picks) == 40 and len(set(picks.tolist())) == 40
    assert not set(picks.tolist()) & set(labeled)
    # The saved pool is the unlabeled images in dataset order: ranking it again (the README's Python
    # example) gives the same picks, as positions in the pool.
    pool = np.load(out / "unlabeled_pool.npy")
    unlabeled = np.setdiff1d(np.arange(len(pool) + len(labeled)), labeled)
    model = fdal.load(out / "student.fdal")
    np.testing.assert_array_equal(unlabeled[fdal.rank_pool(model, pool, 40, strategy="fdal")], picks)
    assert re.search(r"280 unlabeled images, top 40 by the sampler \(strategy fdal\): [\d,]+ images/s", report)


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
