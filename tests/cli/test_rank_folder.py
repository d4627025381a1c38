"""`fdal rank MODEL FOLDER_OR_GLOB`: image files give exactly the picks of the same images stacked
into an array; formats, --exclude, Label Studio tasks, unreadable files, conversions, errors."""
from __future__ import annotations

import builtins
import csv
import io
import json

import numpy as np
import pytest

import fdal
from fdal import format as fmt
from fdal import image_folder, testing
from fdal.cli import main

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "vgg.fdal"
    fmt.write_model(testing.random_model(5, "vgg11_lite", n_calibration=32, embedding="student"), path)
    return str(path)


@pytest.fixture(scope="module")
def gray_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "gray.fdal"
    fmt.write_model(testing.random_model(6, "tiny", input_shape=(8, 6, 1), n_calibration=16), path)
    return str(path)


def make_folder(root, n=40, seed=0):
    """n PNG/JPEG/BMP files of mixed sizes and modes, some in a subfolder; returns their names."""
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        h, w = int(rng.integers(8, 70)), int(rng.integers(8, 70))
        mode = ("RGB", "L", "RGBA", "P")[i % 4]
        arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        img = Image.fromarray(arr, "RGBA").convert(mode)
        ext = ("png", "jpg", "bmp")[i % 3]
        if ext == "jpg" and mode in ("RGBA", "P"):
            img = img.convert("RGB")
        name = f"{'sub/' if i % 5 == 0 else ''}img{i:03d}.{ext}"
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / name)
        names.append(name)
    return sorted(names, key=lambda n: str(root / n))


def stacked(root, names, shape):
    return np.stack([image_folder.decode(str(root / n), shape) for n in names])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("strategy", ["fdal", "margin", "entropy", "random", "kcenter", "power"])
def test_folder_equals_stacked_array(tmp_path, model_file, capsys, strategy):
    names = make_folder(tmp_path, 300)  # more than one 256-image chunk
    model = fdal.load(model_file)
    pool = stacked(tmp_path, names, model.input_shape)
    want, want_scores = fdal.rank_pool(model, pool, 12, strategy=strategy, seed=3, return_scores=True)
    code, out, err = run(capsys, "rank", model_file, tmp_path, "-k", 12, "--strategy", strategy, "--seed", 3,
                         "--batch-size", 100, "--decode-workers", 2)
    assert code == 0, err
    got = read_csv(out)
    assert [r["file"] for r in got] == [names[i] for i in want]
    assert [int(r["rank"]) for r in got] == list(range(1, 13))
    np.testing.assert_array_equal([float(r["score"]) for r in got], want_scores)


def test_image_folder_streams_in_bounded_chunks(tmp_path):
    names = make_folder(tmp_path, 30)
    files = image_folder.list_images(str(tmp_path))
    folder = image_folder.ImageFolder(files, (16, 12, 3), chunk=7, workers=3)
    seen = []
    buffers = set()
    for batch in folder.batches():
        assert batch.shape[1:] == (16, 12, 3) and 1 <= len(batch) <= 7
        buffers.add(batch.__array_interface__["data"][0])  # one reused buffer
        seen.append(batch.copy())
    assert len(buffers) == 1
    np.testing.assert_array_equal(np.concatenate(seen), stacked(tmp_path, names, (16, 12, 3)))
    assert folder.names == files and folder.skipped == []


def test_glob_exclude_and_formats(tmp_path, model_file, capsys):
    names = make_folder(tmp_path / "pics", 24)
    model = fdal.load(model_file)
    pngs = [n for n in names if n.endswith(".png")]
    pattern = str(tmp_path / "pics" / "**" / "*.png")
    # Glob: names are reported as matched.
    code, out, err = run(capsys, "rank", model_file, pattern, "-k", 3, "--format", "jsonl")
    assert code == 0, err
    pool = stacked(tmp_path / "pics", pngs, model.input_shape)
    want, scores = fdal.rank_pool(model, pool, 3, return_scores=True)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [{"file": str(tmp_path / "pics" / pngs[i]), "rank": r + 1, "score": float(s)}
                    for r, (i, s) in enumerate(zip(want, scores))]

    # Exclude as text and as csv: the same as ranking the remaining files.
    labeled = names[::2]
    (tmp_path / "labeled.txt").write_text("\n".join(labeled) + "\n")
    (tmp_path / "labeled.csv").write_text("file,label\n" + "".join(f"{n},cat\n" for n in labeled))
    rest = names[1::2]
    want, scores = fdal.rank_pool(model, stacked(tmp_path / "pics", rest, model.input_shape), 4,
                                  return_scores=True)
    for exclude in ("labeled.txt", "labeled.csv"):
        out_csv = tmp_path / "picks.csv"
        code, out, err = run(capsys, "rank", model_file, tmp_path / "pics", "-k", 4,
                             "--exclude", tmp_path / exclude, "--out", out_csv)
        assert code == 0, err
        assert out == ""
        assert [r["file"] for r in read_csv(out_csv.read_text())] == [rest[i] for i in want]

    # npy: a structured array with file, rank, score.
    out_npy = tmp_path / "picks.npy"
    assert run(capsys, "rank", model_file, tmp_path / "pics", "-k", 4, "--exclude", tmp_path / "labeled.txt",
               "--out", out_npy)[0] == 0
    arr = np.load(out_npy)
    assert list(arr["file"]) == [rest[i] for i in want]
    np.testing.assert_array_equal(arr["rank"], [1, 2, 3, 4])
    np.testing.assert_array_equal(arr["score"], scores)


def test_label_studio_tasks(tmp_path, model_file, capsys):
    names = make_folder(tmp_path / "pics", 10)
    tasks_file = tmp_path / "tasks.json"
    code, out, err = run(capsys, "rank", model_file, tmp_path / "pics", "-k", 3, "--label-studio", tasks_file)
    assert code == 0, err
    picks = read_csv(out)
    tasks = json.loads(tasks_file.read_text())
    assert tasks == [{"data": {"image": "/data/local-files/?d=" + r["file"]},
                      "meta": {"rank": int(r["rank"]), "score": float(r["score"])}} for r in picks]
    assert all(r["file"] in names for r in picks)
    run(capsys, "rank", model_file, tmp_path / "pics", "-k", 2, "--label-studio", tasks_file,
        "--label-studio-prefix", "s3://bucket/")
    assert all(t["data"]["image"].startswith("s3://bucket/") for t in json.loads(tasks_file.read_text()))


def test_unreadable_files_are_skipped_and_counted(tmp_path, model_file, capsys):
    names = make_folder(tmp_path, 12)
    (tmp_path / "garbage.jpg").write_bytes(b"not an image at all")
    good = (tmp_path / names[0]).read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    code, out, err = run(capsys, "rank", model_file, tmp_path, "-k", 12)
    assert code == 0, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    garbage, truncated = sorted(line for line in lines if "warning" in line)
    assert garbage == (f"fdal: warning: skipping unreadable image {tmp_path / 'garbage.jpg'}: not an image Pillow "
                       f"can read (empty, or another kind of file)")
    assert truncated.startswith(f"fdal: warning: skipping unreadable image {tmp_path / 'truncated.png'}: truncated "
                                f"or corrupt (image file is truncated")
    assert lines[-1] == "fdal: skipped 2 unreadable files"
    assert sorted(r["file"] for r in read_csv(out)) == sorted(names)


def test_grayscale_model_and_conversions(tmp_path, gray_model_file, capsys):
    names = make_folder(tmp_path, 9)
    model = fdal.load(gray_model_file)
    pool = stacked(tmp_path, names, model.input_shape)
    assert pool.shape == (9, 8, 6, 1)
    code, out, err = run(capsys, "rank", gray_model_file, tmp_path, "-k", 9)
    assert code == 0, err
    assert [r["file"] for r in read_csv(out)] == [names[i] for i in fdal.rank_pool(model, pool, 9)]
    # RGBA is composited over white (docs/images.md), grayscale is replicated to RGB, sizes are resized
    # with BILINEAR.
    rgba = Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8), "RGBA")
    rgba.save(tmp_path / "a.png")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    want = np.asarray(Image.alpha_composite(white, rgba).convert("RGB").resize((6, 8), Image.BILINEAR,
                                                                                 reducing_gap=2.0))
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "a.png"), (8, 6, 3)), want)
    Image.fromarray(np.full((5, 5), 77, np.uint8), "L").save(tmp_path / "g.png")
    assert np.all(image_folder.decode(str(tmp_path / "g.png"), (5, 5, 3)) == 77)


def test_empty_folder_and_no_match_exit_2(tmp_path, model_file, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    for source in (tmp_path / "empty", tmp_path / "nothing*.jpg"):
        code, out, err = run(capsys, "rank", model_file, source, "-k", 1)
        assert code == 2
        assert err.count("\n") == 1 and err.startswith("fdal: error: no image files"), err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"junk")
    code, out, err = run(capsys, "rank", model_file, tmp_path / "bad", "-k", 1)
    assert code == 2 and err.strip().splitlines()[-1] == (
        f"fdal: error: none of the 1 image files in {tmp_path / 'bad'} could be read; the first, "
        f"{tmp_path / 'bad' / 'x.png'}: not an image Pillow can read (empty, or another kind of file)")


def test_without_pillow_one_line_hint(tmp_path, model_file, capsys, monkeypatch):
    make_folder(tmp_path, 2)
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    code, out, err = run(capsys, "rank", model_file, tmp_path, "-k", 1)
    assert code == 1 and out == ""
    assert err == 'fdal: error: reading image files needs Pillow: pip install "fdal[images]"\n'


def test_npy_pool_formats(tmp_path, model_file, capsys):
    pool = testing.random_images(7, 50)
    np.save(tmp_path / "pool.npy", pool)
    model = fdal.load(model_file)
    want, scores = fdal.rank_pool(model, pool, 5, strategy="margin", return_scores=True)
    code, out, err = run(capsys, "rank", model_file, tmp_path / "pool.npy", "-k", 5, "--strategy", "margin")
    assert out == "".join(f"{i}\n" for i in want)  # unchanged default: indices, one per line
    code, out, err = run(capsys, "rank", model_file, tmp_path / "pool.npy", "-k", 5, "--strategy", "margin",
                         "--format", "csv")
    assert [(int(r["file"]), float(r["score"])) for r in read_csv(out)] == list(zip(want, scores))
    code, out, err = run(capsys, "rank", model_file, tmp_path / "pool.npy", "-k", 5, "--exclude", "x.txt")
    assert code == 1 and "--exclude" in err


def test_decode_workers_keep_order_and_progress_line(tmp_path, capsys):
    make_folder(tmp_path, 20)
    (tmp_path / "img005x.png").write_bytes(b"broken")  # sorts between good files
    files = image_folder.list_images(str(tmp_path))
    results = []
    for workers in (1, 4):
        folder = image_folder.ImageFolder(files, (10, 10, 3), chunk=6, workers=workers, progress=workers == 4)
        results.append((np.concatenate([b.copy() for b in folder.batches()]), folder.names, folder.skipped))
    assert results[0][1] == results[1][1] and results[0][2] == results[1][2] == [str(tmp_path / "img005x.png")]
    np.testing.assert_array_equal(results[0][0], results[1][0])
    err = capsys.readouterr().err
    assert "\rdecoding 21/21 images" in err and err.endswith("\n")
