"""Catalogue, part 2 (issue 34): the files a device writes. `answer-*` cases compare the decoded
pixels (or the picks and names of `fdal rank FOLDER`) with a reference written with numpy here;
`refuse-*` cases name the reason the file is skipped or the error. docs/images.md is the spec."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fdal
from fdal import image_folder

from .hardening_helpers import SHAPE, run

Image = pytest.importorskip("PIL.Image")
H, W = SHAPE[:2]


def luma(rgb):
    """Pillow's RGB -> L (ITU-R 601-2 in 16-bit fixed point), the reference for 1-channel models."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def rng(seed):
    return np.random.default_rng(seed)


def mode_case(mode):
    """(PIL image to save as PNG, RGB shown (composited over white), RGBA for 4-channel models)."""
    r = rng(len(mode) * 7 + ord(mode[0]))
    rgb = r.integers(0, 256, (H, W, 3), dtype=np.uint8)
    gray = rgb[..., 0]
    hole = r.random((H, W)) < 0.4  # transparent pixels
    white = np.uint8(255)
    opaque = np.full((H, W, 1), 255, np.uint8)
    if mode == "L":
        g3 = np.repeat(gray[..., None], 3, 2)
        return Image.fromarray(gray, "L"), g3, np.dstack([g3, opaque])
    if mode == "RGB":
        return Image.fromarray(rgb), rgb, np.dstack([rgb, opaque])
    if mode in ("RGBA", "LA"):
        alpha = np.where(hole, 0, 255).astype(np.uint8)
        colour = rgb if mode == "RGBA" else np.repeat(gray[..., None], 3, 2)
        src = np.dstack([rgb, alpha]) if mode == "RGBA" else np.dstack([gray, alpha])
        return Image.fromarray(src, mode), np.where(hole[..., None], white, colour), np.dstack([colour, alpha])
    if mode in ("P", "P-transparent"):
        palette = r.integers(0, 256, (4, 3), dtype=np.uint8)
        index = r.integers(0, 4, (H, W)).astype(np.uint8)
        img = Image.fromarray(index, "P")
        img.putpalette(palette.ravel().tolist() + [0] * (768 - 12))
        colour = palette[index]
        if mode == "P":
            return img, colour, np.dstack([colour, opaque])
        img.info["transparency"] = 2
        alpha = np.where(index == 2, 0, 255).astype(np.uint8)[..., None]
        return img, np.where(index[..., None] == 2, white, colour), np.dstack([colour, alpha])
    if mode == "1":
        bits = hole
        g3 = np.repeat(np.where(bits, 255, 0).astype(np.uint8)[..., None], 3, 2)
        return Image.fromarray(bits), g3, np.dstack([g3, opaque])
    if mode == "I;16":
        values = r.integers(0, 65536, (H, W))
        g3 = np.repeat((values >> 8).astype(np.uint8)[..., None], 3, 2)
        return Image.frombytes("I;16", (W, H), values.astype("<u2").tobytes()), g3, np.dstack([g3, opaque])
    if mode == "L-trns":
        gray = gray | 1
        gray[hole] = 0  # value 0 is the transparent colour
        img = Image.fromarray(gray, "L")
        img.info["transparency"] = 0
        g3 = np.repeat(gray[..., None], 3, 2)
        return img, np.where(hole[..., None], white, g3), np.dstack([g3, np.where(hole, 0, 255).astype(np.uint8)])
    if mode == "RGB-trns":
        rgb = rgb | 1
        rgb[hole] = 0
        img = Image.fromarray(rgb)
        img.info["transparency"] = (0, 0, 0)
        return img, np.where(hole[..., None], white, rgb), np.dstack([rgb, np.where(hole, 0, 255).astype(np.uint8)])
    raise AssertionError(mode)


MODES = ["L", "RGB", "RGBA", "LA", "P", "P-transparent", "1", "I;16", "L-trns", "RGB-trns"]


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("mode", [pytest.param(m, id=f"answer-mode-{m}") for m in MODES])
def test_every_mode_to_every_channel_count(tmp_path, mode, channels):
    img, shown, rgba = mode_case(mode)
    save = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
    img.save(tmp_path / "x.png", **save)
    want = {1: luma(shown)[..., None], 3: shown, 4: rgba}[channels]
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "x.png"), (H, W, channels)), want)


def photo(seed=0, size=(32, 32)):
    """A smooth colour image (JPEG keeps it within a few levels)."""
    y, x = np.mgrid[0:size[0], 0:size[1]] / max(size)
    s = rng(seed).random(3)
    return (np.dstack([np.sin(3 * x + s[0]), np.cos(2 * y + s[1]), np.sin(x + y + s[2])]) * 100 + 128).astype(np.uint8)


@pytest.mark.parametrize("kind", [pytest.param(k, id=f"answer-jpeg-{k}") for k in ("RGB", "CMYK", "L", "progressive")])
def test_jpeg_kinds_decode_close_to_the_original(tmp_path, kind):
    a = photo(3, (H, W))
    img = Image.fromarray(a)
    if kind == "CMYK":
        img = img.convert("CMYK")  # Pillow's naive CMYK; decoded back with the inverse (no ICC profile)
    if kind == "L":
        img, a = img.convert("L"), np.repeat(luma(a)[..., None], 3, 2)
    img.save(tmp_path / "x.jpg", quality=100, subsampling=0, progressive=kind == "progressive")
    got = image_folder.decode(str(tmp_path / "x.jpg"), SHAPE).astype(int)
    assert np.abs(got - a.astype(int)).mean() < 3


@pytest.mark.parametrize("mode, fragment", [pytest.param("I", "32-bit integer", id="refuse-mode-I-tiff"),
                                            pytest.param("F", "floating-point", id="refuse-mode-F-tiff")])
def test_modes_without_an_8_bit_meaning_are_refused(tmp_path, mode, fragment):
    values = rng(1).integers(0, 100_000, (H, W)).astype(np.int32 if mode == "I" else np.float32)
    Image.fromarray(values, mode).save(tmp_path / "x.tif", format="TIFF")
    os.rename(tmp_path / "x.tif", tmp_path / "x.png")  # the name does not matter: Pillow reads the content
    arr, reason = image_folder.decode_or_reason(str(tmp_path / "x.png"), SHAPE)
    assert arr is None and fragment in reason and "8 or 16 bits" in reason


ORIENT = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
          5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
          7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1), 0: lambda a: a,
          9: lambda a: a}


def resized(a):
    return np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize((W, H), Image.BILINEAR, reducing_gap=2.0))


@pytest.mark.parametrize("orientation", [pytest.param(o, id=f"answer-exif-{o}") for o in ORIENT])
def test_exif_orientation_on_a_non_square_photo(tmp_path, orientation):
    a = rng(orientation).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation  # 0 and 9 are not orientations: the image is left as stored
    Image.fromarray(a).save(tmp_path / "x.png", exif=exif)
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "x.png"), SHAPE), resized(ORIENT[orientation](a)))


@pytest.mark.parametrize("size", [pytest.param(s, id=f"answer-size-{s[0]}x{s[1]}") for s in
                                  [(1, 1), (1, 97), (97, 1), (3, 5), (8, 8), (9, 7), (640, 3), (1000, 1000)]])
def test_any_size_is_resized_with_the_documented_filter(tmp_path, size):
    a = rng(size[0] * 31 + size[1]).integers(0, 256, size + (3,), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "x.png")
    np.testing.assert_array_equal(image_folder.decode(str(tmp_path / "x.png"), SHAPE), resized(a))


@pytest.mark.parametrize("side, fragment", [pytest.param((10, 10), None, id="answer-pixels-at-limit"),
                                            pytest.param((10, 11), "over Pillow's limit of 100", id="refuse-pixels-over"),
                                            pytest.param((20, 20), "too large", id="refuse-pixels-bomb")])
def test_pixel_limit(tmp_path, monkeypatch, side, fragment):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the same rule as at 89 million pixels
    a = rng(2).integers(0, 256, side + (3,), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "x.png")
    arr, reason = image_folder.decode_or_reason(str(tmp_path / "x.png"), SHAPE)
    if fragment is None:
        np.testing.assert_array_equal(arr, resized(a))
    else:
        assert arr is None and fragment in reason and "downscale" in reason


def encoded(fmt, **kw):
    b = io.BytesIO()
    Image.fromarray(photo(5)).save(b, fmt, **kw)
    return b.getvalue()


def damaged_files():
    jpg, png, bmp = encoded("JPEG"), encoded("PNG"), encoded("BMP")
    cases = {f"zero-byte.{e}": (b"", "not an image") for e in ("jpg", "png", "bmp", "JPG", "jpeg")}
    for frac in (0.01, 0.1, 0.5, 0.9, 0.99):
        cases[f"cut-{frac}.jpg"] = (jpg[:int(len(jpg) * frac)], "truncated")
    for frac in (0.1, 0.5, 0.9):
        cases[f"cut-{frac}.png"] = (png[:int(len(png) * frac)], "truncated or corrupt")
    for frac in (0.5, 0.9):
        cases[f"cut-{frac}.bmp"] = (bmp[:int(len(bmp) * frac)], "truncated or corrupt")
    cases["zero-tail.jpg"] = (jpg[:len(jpg) // 2] + bytes(len(jpg) - len(jpg) // 2), "truncated")
    cases["zero-tail-progressive.jpg"] = (encoded("JPEG", progressive=True)[:400] + bytes(2000), "truncated")
    cases["zero-tail.png"] = (png[:len(png) // 2] + bytes(len(png) - len(png) // 2), "truncated or corrupt")
    cases["text.jpg"] = (b"hello, not a photo\n", "not an image")
    cases["html.png"] = (b"<html><body>404</body></html>", "not an image")
    cases["flipped-byte.png"] = (png[:60] + bytes([png[60] ^ 0xFF]) + png[61:], "truncated or corrupt")
    return cases


DAMAGED = damaged_files()


@pytest.mark.parametrize("name", [pytest.param(n, id=f"refuse-file-{n}") for n in DAMAGED])
def test_damaged_device_files_are_skipped_with_the_reason(tmp_path, name):
    data, fragment = DAMAGED[name]
    (tmp_path / name).write_bytes(data)
    arr, reason = image_folder.decode_or_reason(str(tmp_path / name), SHAPE)
    assert arr is None and fragment in reason, reason


@pytest.mark.parametrize("name, fmt", [pytest.param("no-iend.png", "PNG-", id="answer-png-without-its-end-chunk"),
                                       pytest.param("jpeg.png", "JPEG", id="answer-jpeg-named-png"),
                                       pytest.param("png.jpg", "PNG", id="answer-png-named-jpg"),
                                       pytest.param("trailer.jpg", "JPEG+", id="answer-jpeg-with-trailer")])
def test_content_decides_not_the_name(tmp_path, name, fmt):
    data = encoded(fmt.rstrip("+-"), **({"quality": 100} if fmt.startswith("JPEG") else {}))
    if fmt.endswith("-"):  # all pixel data there, only the 12-byte IEND chunk missing: the image is whole
        data = data[:-12]
    (tmp_path / name).write_bytes(data + (b"camera trailer" if fmt.endswith("+") else b""))
    got = image_folder.decode(str(tmp_path / name), (32, 32, 3)).astype(int)
    assert np.abs(got - photo(5).astype(int)).max() <= (0 if fmt.startswith("PNG") else 12)


def test_vanished_file_refuse_missing(tmp_path):
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    arr, reason = image_folder.decode_or_reason(str(tmp_path / "dangling.png"), SHAPE)
    assert arr is None and reason.startswith("no such file")


UNPRIVILEGED = """
import sys, fdal.image_folder as f
from fdal.cli import main
print(f.decode_or_reason(sys.argv[1], (8, 8, 3))[1])
try:
    f.list_images(sys.argv[2])
except Exception as exc:
    print(type(exc).__name__, exc)
sys.stdout.flush()
sys.exit(main(["rank", sys.argv[3], sys.argv[4], "-k", "1", "--out", sys.argv[5]]))
"""


@pytest.mark.parametrize("what", [pytest.param("file", id="refuse-permission-file"),
                                  pytest.param("folder", id="refuse-permission-folder"),
                                  pytest.param("rank", id="answer-permission-rank-the-rest")])
def test_permission_denied(tmp_path, hard_files, what):
    """CI runs as root, which reads every file: the check runs in a child without CAP_DAC_OVERRIDE
    and CAP_DAC_READ_SEARCH (setpriv), so the permission bits apply to it as to a user."""
    (tmp_path / "locked").mkdir()
    Image.fromarray(photo(1)).save(tmp_path / "locked" / "x.png")
    Image.fromarray(photo(1)).save(tmp_path / "private.png")
    os.chmod(tmp_path / "private.png", 0)
    os.chmod(tmp_path / "locked", 0)
    try:
        Image.fromarray(photo(2)).save(tmp_path / "open.png")
        cmd = [sys.executable, "-c", UNPRIVILEGED, str(tmp_path / "private.png"), str(tmp_path / "locked"),
               str(hard_files / "m.fdal"), str(tmp_path), str(hard_files / f"picks-{what}.csv")]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: permission bits cannot be applied")
            cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        reason, listing = out.stdout.splitlines()
        if what == "rank":  # the one readable image is ranked; the others are named with the reason
            assert f"skipping folder {tmp_path / 'locked'}: Permission denied" in out.stderr
            assert f"skipping unreadable image {tmp_path / 'private.png'}: permission denied" in out.stderr
            assert (hard_files / f"picks-{what}.csv").read_text().splitlines()[1].startswith("open.png,1,")
        elif what == "file":
            assert reason == "permission denied"
        else:  # a folder that cannot be listed holds no image we can see: said as such, not a traceback
            assert listing.startswith("NoImages no image files") and "could not list" in listing
            assert "locked: Permission denied" in listing
    finally:
        os.chmod(tmp_path / "locked", 0o755)
        os.chmod(tmp_path / "private.png", 0o644)


NAMES = ["é.png", "e\u0301.png", "中文.png", "😀.png", "a b.png", "-x.png", "a,b.png", 'q"uote.png', "x" * 240 + ".png",
         "/".join(["d"] * 15) + "/deep.png", ".hidden.png", "UPPER.PNG", "x.JpEg", "new\nline.png", "tab\t.bmp"]


@pytest.mark.parametrize("name", [pytest.param(n, id=f"answer-name-{i}") for i, n in enumerate(NAMES)])
def test_unusual_names_are_ranked_and_printed_as_they_are(tmp_path, hard_files, capsys, name):
    d = tmp_path / "photos"
    names = sorted(["plain0.png", "plain1.png", name])
    for i, n in enumerate(names):
        (d / n).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(i, (H, W))).save(d / n, format="JPEG" if n.lower().endswith("jpeg") else None)
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "3", "--strategy", "margin")
    assert code == 0, err
    got = [row["file"] for row in csv.DictReader(io.StringIO(out))]
    files = image_folder.list_images(str(d))
    pool = np.stack([image_folder.decode(f, SHAPE) for f in files])
    want = fdal.rank_pool(fdal.load(str(hard_files / "m.fdal")), pool, 3, strategy="margin")
    assert got == [image_folder.relative_name(files[i], str(d)) for i in want] and sorted(got) == names


def listing_case(tmp_path, case):
    """A folder built for one listing case; returns (source to list, the real files expected)."""
    d = tmp_path / "photos"
    (d / "a").mkdir(parents=True)
    real = [d / "x.png", d / "a" / "y.png"]
    for p in real:
        Image.fromarray(photo(1, (H, W))).save(p)
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.fromarray(photo(2, (H, W))).save(outside / "z.png")
    if case == "loop-folder":
        os.symlink("..", d / "a" / "up")
        return str(d), real
    if case == "loop-glob":
        os.symlink("..", d / "a" / "up")
        os.symlink(".", d / "same")
        return str(d / "**" / "*.png"), real
    if case == "two-links-one-folder":
        os.symlink(outside, d / "l1")
        os.symlink(outside, d / "l2")
        return str(d), real + [outside / "z.png"]
    if case == "file-link":
        os.symlink(d / "x.png", d / "x-again.png")
        return str(d), real
    if case == "dangling-folder-link":
        os.symlink(tmp_path / "nowhere", d / "gone")
        return str(d), real
    if case == "glob-flat":
        return str(d / "*.png"), real[:1]
    if case == "glob-hidden-folder":
        (d / ".cache").mkdir()
        Image.fromarray(photo(3, (H, W))).save(d / ".cache" / "h.png")
        return str(d / "**" / "*.png"), real  # glob skips hidden names, like the shell
    if case == "folder-hidden-folder":
        (d / ".cache").mkdir()
        Image.fromarray(photo(3, (H, W))).save(d / ".cache" / "h.png")
        return str(d), real + [d / ".cache" / "h.png"]  # a folder is read whole
    if case == "not-images":
        (d / "notes.txt").write_text("x")
        (d / "dir.jpg").mkdir()
        return str(d), real
    raise AssertionError(case)


LISTINGS = ["loop-folder", "loop-glob", "two-links-one-folder", "file-link", "dangling-folder-link", "glob-flat",
            "glob-hidden-folder", "folder-hidden-folder", "not-images"]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"answer-listing-{c}") for c in LISTINGS])
def test_listing_visits_each_real_file_once(tmp_path, case):
    source, real = listing_case(tmp_path, case)
    files = image_folder.list_images(source)
    assert sorted(os.path.realpath(f) for f in files) == sorted(os.path.realpath(p) for p in real)


FOLDER_REFUSALS = {"empty": "no image files", "only-text": "no image files", "none-decodes": "could be read; the first",
                   "glob-no-match": "no image files", "exclude-all": "every image file",
                   "exclude-none-match": "none of the 1 entries"}


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-folder-{c}") for c in FOLDER_REFUSALS])
def test_nothing_to_rank_is_exit_2_with_the_reason(tmp_path, hard_files, capsys, case):
    d = tmp_path / "photos"
    d.mkdir()
    extra = []
    if case == "only-text":
        (d / "a.txt").write_text("x")
    if case == "none-decodes":
        (d / "a.jpg").write_bytes(b"")
    if case.startswith("exclude"):
        Image.fromarray(photo(0, (H, W))).save(d / "a.png")
        (tmp_path / "ex.txt").write_text("a.png\n" if case == "exclude-all" else "b.png\n")
        extra = ["--exclude", tmp_path / "ex.txt"]
    source = d / "*.png" if case == "glob-no-match" else d
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", source, "-k", "1", *extra)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("fdal: error: ") and FOLDER_REFUSALS[case] in err


@pytest.mark.parametrize("case", [pytest.param(c, id=f"refuse-out-{c}") for c in
                                  ("an-image", "exclude-list", "label-studio-same", "label-studio-model")])
def test_folder_outputs_never_overwrite_inputs(tmp_path, hard_files, capsys, case):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(3):
        Image.fromarray(photo(i, (H, W))).save(d / f"{i}.png")
    (tmp_path / "ex.txt").write_text("0.png\n")
    model = tmp_path / "m.fdal"
    shutil.copy(hard_files / "m.fdal", model)
    flags = {"an-image": ["--out", d / "1.png"], "exclude-list": ["--exclude", tmp_path / "ex.txt", "--out",
                                                                   tmp_path / "ex.txt"],
             "label-studio-same": ["--out", tmp_path / "p.json", "--label-studio", tmp_path / "p.json"],
             "label-studio-model": ["--label-studio", model]}[case]
    before = [p.read_bytes() for p in (d / "1.png", tmp_path / "ex.txt", model)]
    code, out, err = run(capsys, "rank", model, d, "-k", "1", *flags)
    assert code == 1 and ("would be overwritten" in err or "the same file" in err), err
    assert before == [p.read_bytes() for p in (d / "1.png", tmp_path / "ex.txt", model)]


def test_mixed_folder_answer(tmp_path, hard_files, capsys):
    """Every mode, size and a damaged file in one folder: the picks are rank_pool's on the images
    that decode (decoded independently above), the damaged file is named with its reason."""
    d = tmp_path / "mixed"
    d.mkdir()
    for mode in MODES:
        img, _, _ = mode_case(mode)
        save = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
        img.save(d / f"{mode.replace(';', '_')}.png", **save)
    Image.fromarray(photo(9, (50, 20))).save(d / "big.jpg")
    (d / "broken.jpg").write_bytes(encoded("JPEG")[:300])
    code, out, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "5", "--strategy", "entropy")
    assert code == 0, err
    assert f"skipping unreadable image {d / 'broken.jpg'}: truncated" in err
    files = [f for f in image_folder.list_images(str(d)) if not f.endswith("broken.jpg")]
    pool = np.stack([image_folder.decode(f, SHAPE) for f in files])
    want = fdal.rank_pool(fdal.load(str(hard_files / "m.fdal")), pool, 5, strategy="entropy")
    assert [row["file"] for row in csv.DictReader(io.StringIO(out))] == [os.path.basename(files[i]) for i in want]


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
@pytest.mark.parametrize("fmt", [pytest.param(f, id=f"answer-non-utf8-name-{f}") for f in ("csv", "txt", "jsonl")])
def test_a_name_that_is_not_utf8_round_trips(tmp_path, hard_files, capsys, fmt):
    """A FAT card's Latin-1 name: written to --out as the same bytes (json: escaped), and an exclude
    list made from that output excludes it."""
    d = tmp_path / "card"
    d.mkdir()
    odd = os.fsdecode(b"caf\xe9.png")
    for i, n in enumerate([odd, "plain.png"]):
        Image.fromarray(photo(i, (H, W))).save(os.path.join(d, n))
    out = tmp_path / f"picks.{fmt}"
    code, _, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "2", "--out", out)
    assert code == 0, err
    if fmt == "jsonl":
        return  # json escapes the name (\udce9); not an exclude-list format
    assert b"caf\xe9.png" in out.read_bytes()
    code, text, err = run(capsys, "rank", hard_files / "m.fdal", d, "-k", "1", "--exclude", out)
    assert code == 2 and "every image file" in err, err
