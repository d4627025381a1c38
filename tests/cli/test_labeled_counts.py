"""--labeled-counts (classbalanced with the labeled set's class counts, docs/selection.md): `fdal
rank`, fdal-rank (the C API's fdal_ranker_set_labeled_counts) and fdal.rank_pool give the same
picks; every bad value is one line naming the problem."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import testing
from fdal.cli import main

from fdal.testing.tools import find_fdal_rank

FDAL_RANK = find_fdal_rank(Path(__file__).resolve().parents[2])
needs_tool = pytest.mark.skipif(FDAL_RANK is None, reason="fdal-rank not built (cmake -DFDAL_BUILD_TOOLS=ON; "
                                                          "or set FDAL_RANK)")

COUNTS = [40, 0, 3, 12, 0, 7, 1, 0, 25, 2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("labeled")
    fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32), d / "vgg.fdal")
    np.save(d / "pool.npy", testing.random_images(8, 300))
    return d


def _want(files, counts, k=40):
    model = fdal.load(str(files / "vgg.fdal"))
    assert model.num_classes == len(COUNTS)
    return fdal.rank_pool(model, np.load(files / "pool.npy"), k, strategy="classbalanced", seed=4, cap=200,
                          labeled_counts=counts)


def test_cli_equals_rank_pool_and_the_counts_matter(files, capsys):
    argv = [str(files / "vgg.fdal"), str(files / "pool.npy"), "-k", "40", "--strategy", "classbalanced",
            "--seed", "4", "--cap", "200"]
    assert main(["rank", *argv, "--labeled-counts", ",".join(map(str, COUNTS))]) == 0
    got = [int(v) for v in capsys.readouterr().out.split()]
    assert got == _want(files, COUNTS).tolist()
    assert got != _want(files, None).tolist()  # the counts change the picks


@needs_tool
def test_fdal_rank_tool_equals_rank_pool(files):
    proc = subprocess.run([FDAL_RANK, files / "vgg.fdal", files / "pool.npy", "-k", "40", "--strategy",
                           "classbalanced", "--seed", "4", "--cap", "200", "--labeled-counts",
                           ",".join(map(str, COUNTS))], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [int(v) for v in proc.stdout.split()] == _want(files, COUNTS).tolist()


@pytest.mark.parametrize("value, extra, fragment", [
    ("1,2,3", [], "labeled_counts has 3 entries; the model has 10 classes"),
    ("1,-2", [], "non-negative integers"),
    ("a,b", [], "non-negative integers"),
    ("", [], "non-negative integers"),
    (",".join(["0"] * 10), ["--strategy", "margin"], "for strategy 'classbalanced' only"),
])
def test_cli_bad_counts(files, capsys, value, extra, fragment):
    argv = ["rank", str(files / "vgg.fdal"), str(files / "pool.npy"), "-k", "5", "--strategy", "classbalanced",
            *extra, "--labeled-counts", value]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing the value
        code = exc.code
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err
    assert fragment in err.strip().splitlines()[-1], err


@needs_tool
@pytest.mark.parametrize("value, extra, fragment", [
    ("1,2,3", [], "labeled_counts has 3 entries; the model has 10 classes"),
    ("1,-2", [], "--labeled-counts needs comma-separated integers"),
    ("1,,2", [], "--labeled-counts needs comma-separated integers"),
    (str(2**62 + 1), [], "--labeled-counts needs comma-separated integers"),
    (",".join(["0"] * 10), ["--strategy", "margin"], "takes no labeled counts"),
])
def test_fdal_rank_tool_bad_counts(files, value, extra, fragment):
    proc = subprocess.run([FDAL_RANK, files / "vgg.fdal", files / "pool.npy", "-k", "5", "--strategy",
                           "classbalanced", *extra, "--labeled-counts", value], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fdal-rank: ") and fragment in lines[0], proc.stderr
