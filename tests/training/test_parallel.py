"""`fdal al --jobs N`: pairs in worker processes give a sequential run's records, resume included."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from fdal.training import runner  # noqa: E402
from fdal.training.parallel import worker_device  # noqa: E402
from fdal.training.results import read_results  # noqa: E402

METHODS = ["random", "kd_random"]  # kd_random: the workers load the parent's teacher


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)  # the workers' --threads default; CPU results depend on the thread count


def measured(path):
    """results.jsonl's records in file order, without the wall-clock field."""
    return [(r["method"], r["trial"], r["cycle"], r["n_labeled"], r["accuracy"])
            for r in read_results(path / "results.jsonl")]


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential")
    torch.set_num_threads(1)
    runner.run_protocol("smoke", METHODS, None, out, trials=2, progress=False)
    return out


def test_jobs_equal_sequential(tmp_path, sequential, capsys):
    from fdal.cli import main
    assert main(["al", "--preset", "smoke", "--methods", ",".join(METHODS), "--trials", "2", "--jobs", "2",
                 "--out", str(tmp_path), "--no-progress", "--device", "cpu"]) == 0
    want = measured(sequential)
    assert len(want) == 2 * 2 * 3 and measured(tmp_path) == want  # same records, same (sequential) order
    for m in METHODS:
        for t in range(2):
            a = json.loads((sequential / "checkpoints" / f"{m}-trial{t}.json").read_text())
            b = json.loads((tmp_path / "checkpoints" / f"{m}-trial{t}.json").read_text())
            assert a["labeled"] == b["labeled"] and a["rng_state"] == b["rng_state"], (m, t)
    a = torch.load(sequential / "models" / "kd_random-trial1.pt")
    b = torch.load(tmp_path / "models" / "kd_random-trial1.pt")
    assert all(torch.equal(v, b["student"][k]) for k, v in a["student"].items())
    assert "| kd_random |" in (tmp_path / "results.md").read_text()


def test_interrupted_runs_resume_with_or_without_jobs(tmp_path, sequential, monkeypatch):
    real, calls = runner.run_cycle, {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # dies in trial 0's kd_random after random's three cycles and one of its own
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_cycle", crashing)
    with pytest.raises(KeyboardInterrupt):
        runner.run_protocol("smoke", METHODS, None, tmp_path, trials=2, progress=False)
    monkeypatch.setattr(runner, "run_cycle", real)
    assert len(measured(tmp_path)) == 4
    # a --jobs run that stops early: only trial 0's pairs (one of them half done) ...
    runner.run_protocol("smoke", METHODS, None, tmp_path, trials=1, progress=False, jobs=2)
    assert measured(tmp_path) == measured(sequential)[:6]
    # ... finished by a sequential one: the records and order of one uninterrupted run
    runner.run_protocol("smoke", METHODS, None, tmp_path, trials=2, progress=False)
    assert measured(tmp_path) == measured(sequential)
    # and a --jobs rerun of a finished run trains nothing and leaves the file as it is
    before = (tmp_path / "results.jsonl").read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run has nothing to train")

    monkeypatch.setattr(runner, "run_cycle", no_training)
    runner.run_protocol("smoke", METHODS, None, tmp_path, trials=2, progress=False, jobs=2)
    assert (tmp_path / "results.jsonl").read_text() == before


def test_ctrl_c_stops_the_workers_on_saved_cycles(tmp_path, sequential):
    # SIGINT to the process group, as a terminal's Ctrl-C; the handler is set explicitly because a
    # process started in the background by a shell inherits SIGINT ignored.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from fdal.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = ["al", "--preset", "smoke", "--methods", ",".join(METHODS), "--trials", "2", "--jobs", "2",
            "--out", str(tmp_path), "--no-progress", "--device", "cpu"]
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = tmp_path / "checkpoints" / "kd_random-trial0.json"  # 8 cycles are still to run then
    while not first.exists() and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("fdal: interrupted; resume with: fdal al --preset smoke")
    states = [json.loads(f.read_text()) for f in sorted((tmp_path / "checkpoints").glob("*.json"))]
    done = sum(s["next_cycle"] for s in states)
    assert 1 <= done < 12 and len(measured(tmp_path)) == done  # the file lists exactly the saved cycles
    assert set(measured(tmp_path)) <= set(measured(sequential))
    runner.run_protocol("smoke", METHODS, None, tmp_path, trials=2, progress=False, jobs=2)
    assert measured(tmp_path) == measured(sequential)


def test_worker_device():
    assert [worker_device("cuda", i, 2) for i in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert worker_device("cuda", 3, 1) == "cuda"       # one GPU: every worker shares it
    assert worker_device("cuda:1", 0, 4) == "cuda:1"   # an explicit device is kept
    assert worker_device("cpu", 5, 8) == "cpu"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "257", "1000000"])
def test_bad_jobs(tmp_path, capsys, value):
    from fdal.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["al", "--preset", "smoke", f"--jobs={value}", "--out", str(tmp_path)])
    assert exc.value.code == 2
    shown = repr(value) if value == "abc" else value
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"fdal al: error: argument --jobs: expected a number of worker processes in 1..256, got {shown}"
    assert not (tmp_path / "results.jsonl").exists()


def test_run_protocol_rejects_bad_jobs(tmp_path):
    with pytest.raises(ValueError, match="jobs"):
        runner.run_protocol("smoke", ["random"], None, tmp_path, jobs=0, progress=False)
