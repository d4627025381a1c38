"""Results across runs: grouping by (dataset, preset), distinct trials, AUBC, paired tests, the
`fdal plot` report and benchmarks/results_report.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # fdal.training imports torch
stats = pytest.importorskip("scipy.stats")
pytestmark = pytest.mark.torch

from fdal.cli import main  # noqa: E402
from fdal.training.analysis import paired_test, paired_tests, summarize, trial_aubc  # noqa: E402
from fdal.training.report import group_report, markdown_table, paired_table  # noqa: E402
from fdal.training.results import append_result, merge_results, split_groups  # noqa: E402

REPORT_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "results_report.py"
BUDGETS = (100, 200, 300)


def record(method, trial, n, acc, dataset="cifar10", preset="p", seed=None):
    return {"method": method, "dataset": dataset, "trial": trial, "cycle": BUDGETS.index(n) if n in BUDGETS else 0,
            "n_labeled": n, "accuracy": acc, "seconds": 1.0, "preset": preset,
            "seed": trial if seed is None else seed}


def write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    for r in records:
        append_result(path, r)
    return path


def curves(method, accs_by_trial, **kw):
    """Records of full trials: accs_by_trial[t] = accuracies at BUDGETS."""
    return [record(method, t, n, a, **kw) for t, accs in enumerate(accs_by_trial) for n, a in zip(BUDGETS, accs)]


def test_cifar10_and_svhn_records_never_share_a_cell(tmp_path, capsys):
    a = write(tmp_path / "fig2" / "results.jsonl", [record("random", 0, 100, 0.50)])
    b = write(tmp_path / "fig2-svhn" / "results.jsonl", [record("random", 0, 100, 0.80, dataset="svhn")])
    mixed = merge_results([a, b])
    assert list(split_groups(mixed)) == [("cifar10", "p"), ("svhn", "p")]
    for tabulate in (summarize, markdown_table):
        with pytest.raises(ValueError, match="2 .dataset, preset. groups"):
            tabulate(mixed)
    assert main(["plot", str(a), str(b), "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "65.00" not in out and "21.21" not in out
    cifar = (tmp_path / "plots" / "results-cifar10-p.md").read_text()
    svhn = (tmp_path / "plots" / "results-svhn-p.md").read_text()
    assert "| random | 50.00 (1 trial) |" in cifar and "80.00" not in cifar
    assert "| random | 80.00 (1 trial) |" in svhn and "50.00" not in svhn
    assert (tmp_path / "plots" / "curves-cifar10-p.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "curves-svhn-p.png").stat().st_size > 1000
    assert not (tmp_path / "plots" / "results.md").exists()


def test_same_preset_name_other_dataset_is_another_group():
    groups = split_groups([record("random", 0, 100, 0.5), record("random", 0, 100, 0.6, preset="q")])
    assert list(groups) == [("cifar10", "p"), ("cifar10", "q")]


def test_duplicate_trials_from_two_files_count_once(tmp_path):
    recs = curves("random", [(0.3, 0.4, 0.5), (0.5, 0.6, 0.7)])
    a = write(tmp_path / "a.jsonl", recs)
    b = write(tmp_path / "b.jsonl", recs[:3] + curves("random", [(0.4, 0.5, 0.6)], seed=7))  # trial 0 again
    merged = merge_results([a, b])
    assert len(merged) == 9  # trials (0, seed 0), (1, seed 1), (0, seed 7)
    assert summarize(merged)["random"][100][2] == 3
    assert summarize(recs + recs)["random"][100] == pytest.approx((0.4, np.std([0.3, 0.5], ddof=1), 2))


def test_conflicting_duplicates_raise_naming_both_files(tmp_path):
    a = write(tmp_path / "a.jsonl", [record("fdal", 0, 100, 0.5)])
    b = write(tmp_path / "b.jsonl", [record("fdal", 0, 100, 0.6)])
    with pytest.raises(ValueError, match="conflicting") as err:
        merge_results([a, b])
    assert str(a) in str(err.value) and str(b) in str(err.value)
    with pytest.raises(ValueError, match="conflicting"):
        summarize([record("fdal", 0, 100, 0.5), record("fdal", 0, 100, 0.6)])


def test_aubc_of_hand_made_records():
    recs = (curves("random", [(0.30, 0.40, 0.50), (0.36, 0.42, 0.54)])
            + [record("random", 2, 100, 0.33), record("random", 2, 200, 0.41)])  # trial 2 lacks 300: left out
    assert trial_aubc(recs)["random"] == pytest.approx({(0, 0): 0.40, (1, 1): 0.44})
    assert trial_aubc(recs, budgets=(100, 200))["random"] == pytest.approx({(0, 0): 0.35, (1, 1): 0.39, (2, 2): 0.37})
    assert trial_aubc(recs, budgets=(100, 200, 300, 400)) == {}  # nobody reached the protocol's last budget
    table = markdown_table(recs, budgets=BUDGETS)
    assert "| random | 33.00 ± 3.00 (3) | 41.00 ± 1.00 (3) | 52.00 ± 2.83 (2) | 42.00 ± 2.83 (2) |" in table
    assert "the protocol's budgets, 100, 200 and 300, every budget weighted equally" in table
    assert "| 52.00 ± 2.83 (2) | — |" in markdown_table(recs, budgets=(100, 200, 300, 400))


def test_paired_tests_equal_scipy():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.6, size=(7, 3))
    method = base + rng.normal(0.01, 0.01, size=base.shape)
    recs = curves("random", base.tolist()) + curves("fdal", method.tolist())
    aubc = trial_aubc(recs)
    a, b = method.mean(axis=1), base.mean(axis=1)
    (test,) = paired_tests(aubc, "random")
    assert (test.method, test.baseline, test.pairs, test.wilcoxon_nonzero) == ("fdal", "random", 7, 7)
    assert test.mean == pytest.approx(np.mean(a - b)) and test.std == pytest.approx(np.std(a - b, ddof=1))
    assert test.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert test.wilcoxon_p == pytest.approx(stats.wilcoxon(a, b).pvalue, rel=1e-12)
    row = paired_table(recs, "random").splitlines()[2]
    assert row.startswith(f"| fdal | 7 | {100 * np.mean(a - b):+.2f} ± ") and "n<6" not in row


def test_methods_missing_a_trial_are_paired_on_common_trials_only():
    base = [(0.30, 0.40, 0.50), (0.32, 0.41, 0.52), (0.31, 0.45, 0.49), (0.35, 0.40, 0.50)]
    fdal = [(0.33, 0.44, 0.55), (0.30, 0.40, 0.50), (0.40, 0.40, 0.40), (0.36, 0.41, 0.52)]
    recs = curves("random", base[:3]) + curves("fdal", fdal)  # random lacks trial 3
    recs = [r for r in recs if not (r["method"] == "fdal" and r["trial"] == 1 and r["n_labeled"] == 300)]
    (test,) = paired_tests(trial_aubc(recs), "random")
    a = [np.mean(fdal[t]) for t in (0, 2)]  # trial 1 of fdal is incomplete, trial 3 has no partner
    b = [np.mean(base[t]) for t in (0, 2)]
    assert test.pairs == 2 and test.mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert test.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    # Same trial index, another seed: not the same first labeled set, so not a pair.
    other = curves("random", base[:1]) + curves("fdal", fdal[:1], seed=5)
    assert paired_test(*(trial_aubc(other)[m] for m in ("fdal", "random"))) is None


def test_zero_and_constant_differences_do_not_crash():
    accs = [(0.30, 0.40, 0.50), (0.32, 0.41, 0.52), (0.31, 0.45, 0.49)]
    same = curves("random", accs) + curves("kd_random", accs)
    shifted = curves("random", accs) + curves("fdal", [tuple(a + 0.125 for a in t) for t in accs])
    for recs, method in ((same, "kd_random"), (shifted, "fdal")):
        (test,) = paired_tests(trial_aubc(recs), "random")
        assert test.t_p is None and test.pairs == 3
        report = group_report(recs)
        assert f"| {method} | 3 | " in report
    (zero,) = paired_tests(trial_aubc(same), "random")
    assert zero.mean == 0 and zero.wilcoxon_p is None and zero.wilcoxon_nonzero == 0
    assert "| kd_random | 3 | +0.00 ± 0.00 | — | — |" in group_report(same)
    (shift,) = paired_tests(trial_aubc(shifted), "random")
    assert shift.wilcoxon_p == pytest.approx(stats.wilcoxon([0.125] * 3).pvalue)
    assert "(n<6: min 0.25)" in group_report(shifted)


def test_fdal_random_ablation_section_only_where_the_run_has_it():
    """fdal − fdal_random isolates the sampler's choice from FDAL's training: reports pair against
    fdal_random when it is there and say nothing of it when it is not."""
    accs = [(0.30, 0.40, 0.50), (0.32, 0.41, 0.52), (0.31, 0.45, 0.49)]
    base = curves("random", accs) + curves("kd_random", accs) + curves("fdal", [tuple(a + 0.01 for a in t) for t in accs])
    assert "vs fdal_random" not in group_report(base)
    ablation = curves("fdal_random", [tuple(a + 0.03 for a in t) for t in accs])
    report = group_report(base + ablation)
    section = report.split("vs fdal_random", 1)[1]
    assert "| fdal | 3 | -2.00 ± 0.00 |" in section
    # rows against random and kd_random are already shown above: not repeated as negations
    assert "| random |" not in section and "| kd_random |" not in section


def test_single_trial_formatting():
    recs = curves("random", [(0.3, 0.4, 0.5)]) + curves("fdal", [(0.35, 0.4, 0.5)])
    table = markdown_table(recs)
    assert "| random | 30.00 (1 trial) | 40.00 (1 trial) | 50.00 (1 trial) | 40.00 (1 trial) |" in table
    assert "± 0.00" not in table
    row = paired_table(recs, "random").splitlines()[2]
    assert row == "| fdal | 1 | +1.67 (1 pair) | — | 1 (n<6: min 1) |"


def test_plot_uses_protocol_budgets_for_aubc(tmp_path, capsys):
    # An interrupted run: every trial stopped at 200 labels of a protocol that goes to 300.
    run = tmp_path / "run"
    write(run / "results.jsonl", [r for r in curves("random", [(0.3, 0.4, 0.5)] * 2) if r["n_labeled"] < 300])
    (run / "protocol.json").write_text(json.dumps({"name": "p", "initial": 100, "step": 100, "final": 300}))
    assert main(["plot", str(run / "results.jsonl")]) == 0
    text = (run / "results.md").read_text()
    assert text == capsys.readouterr().out.split("wrote ")[0].rstrip("\n") + "\n"
    assert text.startswith("| method | 100 | 200 | AUBC |") and "| random | 30.00 ± 0.00 (2) | 40.00 ± 0.00 (2) | — |" in text
    assert "the protocol's budgets, 100, 200 and 300" in text


def _report(args, cwd):
    done = subprocess.run([sys.executable, str(REPORT_SCRIPT), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_report_script_is_deterministic_and_names_its_command(tmp_path):
    recs = curves("random", [(0.30, 0.40, 0.50), (0.32, 0.41, 0.52)]) + curves("fdal", [(0.33, 0.44, 0.55)] * 2)
    write(tmp_path / "runs" / "a" / "results.jsonl", recs)
    write(tmp_path / "runs" / "b" / "results.jsonl", recs[:3] + [record("random", 0, 100, 0.7, dataset="svhn")])
    page = tmp_path / "docs" / "results.md"
    page.parent.mkdir()
    page.write_text("# Results\n\nintro\n\n<!-- results_report: begin -->\nold\n<!-- results_report: end -->\n\nend\n")
    args = ["runs/a", "runs/b", "--images", "docs/images", "--into", "docs/results.md"]
    _report(args, tmp_path)
    first = page.read_text()
    png = (tmp_path / "docs" / "images" / "curves-cifar10-p.png").read_bytes()
    _report(args, tmp_path)
    assert page.read_text() == first and (tmp_path / "docs" / "images" / "curves-cifar10-p.png").read_bytes() == png
    assert first.startswith("# Results\n\nintro\n\n<!-- results_report: begin -->\n") and first.endswith("\n\nend\n")
    assert "old" not in first
    assert "`python benchmarks/results_report.py runs/a runs/b --images docs/images --into docs/results.md`" in first
    assert "## cifar10, preset `p`" in first and "## svhn, preset `p`" in first
    assert "![learning curves: cifar10, preset `p`](images/curves-cifar10-p.png)" in first
    assert "| fdal | 33.00 ± 0.00 (2) |" in first and "| random | 31.00 ± 1.41 (2) |" in first  # a, b share trial 0
    printed = _report(["runs/a", "--images", "img"], tmp_path)
    assert printed.startswith("<!-- results_report: begin -->") and "svhn" not in printed
