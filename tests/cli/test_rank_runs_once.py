"""`fdal rank --format csv|jsonl` reads the picks' scores from the native ranker: every pool image is
decoded (image folders) and run through the model exactly once, and nothing runs twice."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import image_folder, testing
from fdal.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.fdal"
    fmt.write_model(testing.random_model(31, "tiny", input_shape=(8, 8, 3), n_calibration=16), path)
    return str(path)


@pytest.mark.parametrize("strategy", ["fdal", "entropy", "power"])
@pytest.mark.parametrize("out_format", ["csv", "jsonl"])
def test_npy_pool_runs_forward_once(tmp_path, model_file, capsys, counting_core, strategy, out_format):
    pool = testing.random_images(7, 90, (8, 8, 3))
    np.save(tmp_path / "pool.npy", pool)
    code = main(["rank", model_file, str(tmp_path / "pool.npy"), "-k", "6", "--strategy", strategy,
                 "--format", out_format, "--cap", "90", "--batch-size", "32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert counting_core.python_forwards == 0 and len(counting_core.rankers) == 1
    assert counting_core.forwarded == len(pool)
    assert len(out.strip().splitlines()) == 6 + (out_format == "csv")  # a header line for csv


def test_folder_decodes_and_runs_each_file_once(tmp_path, model_file, capsys, counting_core, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(3)
    for i in range(25):
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(tmp_path / f"img{i:02d}.png")
    decoded = []
    real_decode = image_folder.decode_or_reason  # what ImageFolder reads every file with
    monkeypatch.setattr(image_folder, "decode_or_reason",
                        lambda path, shape: decoded.append(path) or real_decode(path, shape))
    code = main(["rank", model_file, str(tmp_path), "-k", "4", "--strategy", "margin", "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sorted(decoded) == sorted(str(p) for p in tmp_path.glob("*.png"))  # each file once
    assert counting_core.python_forwards == 0 and counting_core.forwarded == 25
    rows = list(csv.DictReader(io.StringIO(out)))
    model = fdal.load(model_file)
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    pool = np.stack([real_decode(str(tmp_path / n), model.input_shape)[0] for n in names])
    want, scores = fdal.rank_pool(model, pool, 4, strategy="margin", return_scores=True)
    assert [r["file"] for r in rows] == [names[i] for i in want]
    np.testing.assert_array_equal([float(r["score"]) for r in rows], scores)
