"""The protocol runner end to end on synthetic data: every method, resume, results, plots, CLI."""
import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training import runner  # noqa: E402
from fdal.training.student_training import FdalConfig  # noqa: E402
from fdal.training.plots import plot_learning_curves  # noqa: E402
from fdal.training.protocols import PRESETS, Protocol, get_protocol  # noqa: E402
from fdal.training.analysis import summarize  # noqa: E402
from fdal.training.report import markdown_table  # noqa: E402
from fdal.training.results import FIELDS, append_result, read_results  # noqa: E402
from fdal.training.strategies import METHODS  # noqa: E402

TINY = Protocol("tiny", "synthetic", 20, 20, 60, subset=50, train=FdalConfig(batch_size=16).scaled(1),
                teacher_arch="small", teacher_epochs=1, seed=3, synthetic=(4, 160, 40))


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def strip(records):
    return [{k: v for k, v in r.items() if k not in ("seconds", "phase_seconds")} for r in records]


def test_every_method_end_to_end(tmp_path, narrow_vae):
    methods = sorted(METHODS)
    res = runner.run_protocol(TINY, methods, None, tmp_path, trials=1, progress=False)
    assert len(res) == len(methods) * TINY.cycles
    for m in methods:
        mine = [r for r in res if r["method"] == m]
        assert [r["n_labeled"] for r in mine] == [20, 40, 60] and [r["cycle"] for r in mine] == [0, 1, 2]
        ck = json.loads((tmp_path / "checkpoints" / f"{m}-trial0.json").read_text())
        assert len(set(ck["labeled"])) == len(ck["labeled"]) == 60, m
        saved = torch.load(tmp_path / "models" / f"{m}-trial0.pt")
        assert saved["cycle"] == 2 and saved["student"] is not None
        assert (saved["sampler"] is not None) == (m in ("fdal", "fdal_random"))
        assert (saved["decoder"] is not None) == (m in ("fdal", "fdal_random", "kd_random", "kd_entropy"))
    # all methods of a trial start from the same initial labeled set
    starts = {tuple(json.loads((tmp_path / "checkpoints" / f"{m}-trial0.json").read_text())["labeled"][:20])
              for m in methods}
    assert len(starts) == 1
    assert strip(read_results(tmp_path / "results.jsonl")) == strip(res)
    assert (tmp_path / "teacher.pt").exists()
    teacher = json.loads((tmp_path / "teacher.json").read_text())
    assert teacher["logit_scale"] == 0.25 and teacher["recipe"]["epochs"] == TINY.teacher_epochs
    assert "also the active-learning pool" in teacher["recipe"]["labels"]


def test_resume_equals_uninterrupted(tmp_path, monkeypatch):
    methods = ["fdal", "random"]
    full = runner.run_protocol(TINY, methods, None, tmp_path / "a", trials=2, progress=False)

    calls = {"n": 0}
    real = runner.run_cycle

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # dies in trial 0's random, after fdal's three cycles and one of random's
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_cycle", crashing)
    with pytest.raises(KeyboardInterrupt):
        runner.run_protocol(TINY, methods, None, tmp_path / "b", trials=2, progress=False)
    assert len(read_results(tmp_path / "b" / "results.jsonl")) == 4
    monkeypatch.setattr(runner, "run_cycle", real)
    resumed = runner.run_protocol(TINY, methods, None, tmp_path / "b", trials=2, progress=False)
    assert strip(resumed) == strip(full)
    assert strip(read_results(tmp_path / "b" / "results.jsonl")) == strip(full)
    for m in methods:
        a = torch.load(tmp_path / "a" / "models" / f"{m}-trial1.pt")
        b = torch.load(tmp_path / "b" / "models" / f"{m}-trial1.pt")
        for k, v in a["student"].items():
            assert torch.equal(v, b["student"][k]), f"{m}: {k} differs after resume"


def test_teacher_is_cached_and_protocol_mismatch_rejected(tmp_path, monkeypatch):
    runner.run_protocol(TINY, ["kd_random"], None, tmp_path, progress=False)

    def no_training(*a, **k):
        raise AssertionError("the cached teacher should have been reused")

    from fdal.training import teacher
    monkeypatch.setattr(teacher, "train_teacher", no_training)
    runner.run_protocol(TINY, ["fdal"], None, tmp_path, progress=False)
    with pytest.raises(ValueError, match="different protocol"):
        runner.run_protocol(TINY.replace(subset=40), ["fdal"], None, tmp_path, progress=False)


@pytest.mark.parametrize("kw, msg", [(dict(methods="random,nope"), "nope"), (dict(trials=0), "trials"),
                                     (dict(preset="nope"), "preset")])
def test_bad_arguments(tmp_path, kw, msg):
    with pytest.raises(ValueError, match=msg):
        runner.run_protocol(kw.get("preset", TINY), kw.get("methods", "random"), None, tmp_path,
                            trials=kw.get("trials", 1), progress=False)


def test_presets_match_the_paper():
    t2, f2, f2c = PRESETS["paper-table2"], PRESETS["paper-fig2"], PRESETS["paper-fig2-cifar100"]
    assert t2.budgets() == [5000, 10000, 15000, 20000, 25000, 30000] and t2.subset == 10_000
    assert f2.budgets()[0] == 1000 and f2.budgets()[-1] == 10000 and f2.dataset == "cifar10"
    assert f2c.budgets()[0] == 2000 and f2c.budgets()[-1] == 20000 and f2c.dataset == "cifar100"
    c = t2.train
    assert (c.epochs, c.lr, c.momentum, c.weight_decay, c.milestones, c.batch_size, c.adv_start_epoch) == \
        (200, 0.01, 0.9, 5e-4, (80, 150), 128, 20)
    assert get_protocol("smoke").dataset == "synthetic"
    with pytest.raises(ValueError, match="whole number of steps"):
        Protocol("x", "cifar10", 100, 30, 200)


def record(method, trial, n, acc, cycle=0):
    return {"method": method, "dataset": "d", "trial": trial, "cycle": cycle, "n_labeled": n,
            "accuracy": acc, "seconds": 1.0, "preset": "p", "seed": trial}


def test_results_jsonl_schema_dedup_and_table(tmp_path):
    path = tmp_path / "r.jsonl"
    append_result(path, record("fdal", 0, 100, 0.5))
    append_result(path, record("fdal", 0, 100, 0.6))  # the same cycle re-run: the last one counts
    append_result(path, record("fdal", 1, 100, 0.7))
    append_result(path, record("random", 0, 100, 0.4))
    with open(path, "a") as f:
        f.write('{"method": "fda')  # torn last line from a crash
    recs = read_results(path)
    assert all(tuple(r) == FIELDS for r in recs) and len(recs) == 3
    mean, std, k = summarize(recs)["fdal"][100]
    assert (k, round(mean, 6), round(std, 6)) == (2, 0.65, round(np.std([0.6, 0.7], ddof=1), 6))
    table = markdown_table(recs)
    assert "| fdal | 65.00 ± 7.07 (2) |" in table and "| random | 40.00 (1 trial) |" in table
    with pytest.raises(ValueError, match="lacks"):
        append_result(path, {"method": "x"})
    with pytest.raises(ValueError, match="fraction"):
        append_result(path, record("x", 0, 1, 55.0))


def test_plot_written(tmp_path):
    recs = [record(m, t, n, 0.3 + 0.01 * n / 100 + 0.01 * t, cycle=c)
            for m in ("random", "fdal") for t in range(2) for c, n in enumerate((100, 200, 300))]
    out = plot_learning_curves(recs, tmp_path / "c.png")
    with open(out, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    with pytest.raises(ValueError, match="no results"):
        plot_learning_curves([], tmp_path / "d.png")


def test_command_line(tmp_path, capsys):
    from fdal.cli import main
    assert main(["al", "--preset", "smoke", "--methods", "random,margin", "--out", str(tmp_path),
                 "--no-progress", "--threads", "1", "--device", "cpu"]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "| random |" in table and "| margin |" in table
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    by_method = {m: sorted((r["cycle"], r["n_labeled"]) for r in records if r["method"] == m) for m in ("random", "margin")}
    assert by_method["margin"] == by_method["random"] and by_method["margin"], by_method  # same cycles, same budgets
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in records)
    # margin paired against random in the report: one row with one pair per trial
    assert re.search(r"^\| margin \| \d+ \| [+-]\d", table, re.M), table
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert "wall-clock" in capsys.readouterr().err  # `fdal al` prints its summary line on stderr
