"""Issue 34's wrong answers (exit 0, wrong picks), each with the right answer written here. Every
test in this file failed on the tree before the fix (commit 7bc8f2d)."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import fdal
from fdal import image_folder

from .hardening_helpers import SHAPE, run

Image = pytest.importorskip("PIL.Image")

# EXIF orientation -> what the viewer shows, written with numpy (not Pillow) as the reference.
ORIENTED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def pixels(seed: int, shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    a = pixels(orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(a).save(tmp_path / "o.png", exif=exif)
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "o.png"), SHAPE), ORIENTED[orientation](a))


@pytest.mark.parametrize("mode, dtype", [("I;16", "<u2"), ("I;16B", ">u2")])
def test_16_bit_grayscale_keeps_its_high_byte(tmp_path, mode, dtype):
    values = np.random.default_rng(5).integers(0, 65536, SHAPE[:2])
    img = Image.frombytes(mode, SHAPE[1::-1], values.astype(dtype).tobytes())
    img.save(tmp_path / "g16.png")  # a 16-bit grayscale PNG
    want = np.repeat((values >> 8).astype(np.uint8)[..., None], 3, axis=2)
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "g16.png"), SHAPE), want)


def test_palette_transparency_is_white_not_the_hidden_colour(tmp_path):
    index = np.random.default_rng(3).integers(0, 2, SHAPE[:2]).astype(np.uint8)
    img = Image.fromarray(index, "P")
    img.putpalette([0, 255, 0, 200, 10, 10] + [0] * 762)  # index 0: a green nobody sees (transparent)
    img.save(tmp_path / "p.png", transparency=0)
    want = np.where(index[..., None] == 0, np.uint8(255), np.array([200, 10, 10], np.uint8))
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "p.png"), SHAPE), want)


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_transparent_pixels_are_white(tmp_path, mode):
    rng = np.random.default_rng(4)
    colour = rng.integers(0, 256, SHAPE[:2] + (len(mode) - 1,), dtype=np.uint8)
    alpha = np.where(rng.random(SHAPE[:2]) < 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(np.dstack([colour, alpha]), mode).save(tmp_path / "a.png")
    shown = np.where(alpha[..., None] == 0, np.uint8(255), colour)
    want = shown if mode == "RGBA" else np.repeat(shown, 3, axis=2)
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "a.png"), SHAPE), want)


def test_out_naming_the_pool_is_refused_and_the_pool_kept(hard_files, tmp_path, capsys):
    pool = tmp_path / "pool.npy"
    shutil.copy(hard_files / "pool.npy", pool)
    before = pool.read_bytes()
    for out in (pool, f"{tmp_path}/./pool.npy", f"{tmp_path}/sub/../pool.npy"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = run(capsys, "rank", hard_files / "m.fdal", pool, "-k", "3", "--out", out)
        assert code == 1 and "would be overwritten" in err and "pool" in err, err
    assert pool.read_bytes() == before


def test_double_star_glob_visits_each_file_once_through_a_symlink_loop(tmp_path):
    d = tmp_path / "photos"
    (d / "a").mkdir(parents=True)
    for name in ("x.png", "a/y.png"):
        Image.fromarray(pixels(len(name))).save(d / name)
    os.symlink("..", d / "a" / "loop")  # photos/a/loop -> photos
    os.symlink(".", d / "self")
    files = image_folder.list_images(str(d / "**" / "*.png"))
    assert sorted(os.path.realpath(f) for f in files) == sorted(str(d / n) for n in ("a/y.png", "x.png"))
    assert len(image_folder.list_images(str(d))) == 2


def test_raw_pool_without_raw_is_refused(hard_files, tmp_path, capsys):
    big = np.random.default_rng(6).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    big.tofile(tmp_path / "big.raw")  # 10 images of 16x16x3: the bytes of 40 8x8x3 ones
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", tmp_path / "big.raw", "-k", "5")
    assert code == 1 and out == "" and "--raw 8x8x3" in err and "no shape" in err, err


def test_merge_refuses_parts_of_another_pool_of_the_same_size(hard_files, tmp_path, capsys):
    for i, pool in enumerate(("pool.npy", "other.npy")):
        code, _, err = run(capsys, "rank", hard_files / "m.fdal", hard_files / pool, "-k", "5", "--shard",
                           f"{i}/2", "--out", tmp_path / f"p{i}.npz")
        assert code == 0, err
    code, out, err = run(capsys, "merge", tmp_path / "p0.npz", tmp_path / "p1.npz", "-k", "5")
    assert code == 1 and out == "" and "parts from different pools" in err and "pool_identity" in err, err


def test_exclude_with_absolute_and_dot_slash_names(tmp_path, hard_files, capsys):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(6):
        Image.fromarray(pixels(i)).save(d / f"img{i}.png")
    (tmp_path / "labeled.txt").write_text(f"{d / 'img0.png'}\n./img1.png\nimg2.png\n")
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "3", "--exclude", tmp_path / "labeled.txt")
    assert code == 0, err
    picked = {line.split(",")[0] for line in out.splitlines()[1:]}
    assert picked == {"img3.png", "img4.png", "img5.png"}
    assert "excluded 3 images: 3 of the 3 entries" in err


def test_exclude_list_that_matches_nothing_is_an_error(tmp_path, hard_files, capsys):
    d = tmp_path / "photos"
    d.mkdir()
    Image.fromarray(pixels(0)).save(d / "img0.png")
    (tmp_path / "labeled.txt").write_text("elsewhere/img0.png\n")
    code, _, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "1", "--exclude", tmp_path / "labeled.txt")
    assert code == 2 and "none of the 1 entries" in err and "'img0.png'" in err, err


def test_rank_folder_of_16_bit_pngs_ranks_the_scaled_images(tmp_path, hard_files, capsys):
    """End to end: the picks of a folder of 16-bit PNGs are those of the high bytes."""
    d = tmp_path / "g16"
    d.mkdir()
    rng = np.random.default_rng(8)
    want = []
    for i in range(12):
        values = rng.integers(0, 65536, SHAPE[:2]).astype(np.uint16)
        Image.fromarray(values).save(d / f"{i:02d}.png")
        want.append(np.repeat((values >> 8).astype(np.uint8)[..., None], 3, axis=2))
    expected = fdal.rank_pool(fdal.load(str(hard_files / "m.fdal")), np.stack(want), 4, strategy="margin")
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "4", "--strategy", "margin")
    assert code == 0, err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == [f"{i:02d}.png" for i in expected]
