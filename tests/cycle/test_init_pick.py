"""`fdal cycle init`, `pick` and `status`: keys, the first draw, exclusions, the decode cache,
the lock and an interrupted pick."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import run
from .simulated_annotator import export_for_round

pytest.importorskip("torch")


def state_of(proj) -> dict:
    return json.loads(Path(proj, "campaign.json").read_text())


def test_init_takes_class_names_from_the_teacher(campaign, data):
    state = state_of(campaign)
    assert state["classes"] == data.classes
    assert state["pools"][0]["name"] == "photos" and state["pools"][0]["kind"] == "folder"
    assert state["pool_sizes_at_init"] == {"photos": len(data.x)}


def test_init_refuses_bad_class_names_and_folders(tmp_path, data, teacher, capsys):
    assert run("cycle", "init", tmp_path / "c1", "--pool", data.folder, "--teacher", teacher,
               "--classes", "a,b,c") == 1
    assert "3 class names given but the teacher" in capsys.readouterr().err
    assert run("cycle", "init", tmp_path / "c2", "--pool", data.folder, "--teacher", teacher,
               "--classes", ",".join(reversed(data.classes))) == 1
    assert "differ from the teacher's" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("user data")
    assert run("cycle", "init", tmp_path / "full", "--pool", data.folder, "--teacher", teacher) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "full" / "mine.txt").read_text() == "user data"
    assert run("cycle", "init", tmp_path / "c3", "--pool", data.folder, "--pool", f"photos={data.npy}",
               "--teacher", teacher) == 1
    assert "two pools are named 'photos'" in capsys.readouterr().err
    bad = tmp_path / "float.npy"
    np.save(bad, data.x.astype(np.float32))
    assert run("cycle", "init", tmp_path / "c4", "--pool", bad, "--teacher", teacher) == 1
    assert "uint8" in capsys.readouterr().err


def test_a_teacher_without_class_names_needs_them(tmp_path, data, teacher, capsys):
    import torch
    ckpt = torch.load(teacher, weights_only=True)
    del ckpt["classes"]  # as written before class names were stored
    old = tmp_path / "old.pt"
    torch.save(ckpt, old)
    assert run("cycle", "init", tmp_path / "c", "--pool", data.folder, "--teacher", old) == 1
    assert "stores no class names" in capsys.readouterr().err
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(["w", "x", "y", "z"]) + "\n")
    assert run("cycle", "init", tmp_path / "c", "--pool", data.folder, "--teacher", old, "--classes-file", names) == 0
    assert state_of(tmp_path / "c")["classes"] == ["w", "x", "y", "z"]


def test_round_one_is_the_runners_first_draw_on_folder_and_npy_pools(tmp_path, data, teacher):
    proj = tmp_path / "c"
    assert run("cycle", "init", proj, "--pool", data.folder, "--pool", data.npy, "--teacher", teacher,
               "--seed", 7) == 0
    assert run("cycle", "pick", proj, "-k", 30) == 0
    state = state_of(proj)
    keys = [f"photos/{'a' if i % 2 == 0 else 'b'}/{i:04d}.png" for i in range(len(data.x))]
    keys = sorted(keys) + [f"pool/{i}" for i in range(len(data.x))]
    expected = np.random.default_rng(7).choice(len(keys), size=30, replace=False)
    assert state["rounds"][0]["picked"] == [keys[i] for i in expected]
    tasks = json.loads((proj / "rounds" / "round-1" / "tasks.json").read_text())
    assert [t["data"]["key"] for t in tasks] == state["rounds"][0]["picked"]
    assert all("predictions" not in t for t in tasks)  # no student yet
    for t in tasks:  # .npy rows are written as PNG files for the labeling tool
        if t["data"]["key"].startswith("pool/"):
            rel = t["data"]["image"].split("?d=", 1)[1]
            assert Path(state["document_root"], rel).is_file()


def test_pick_refuses_round_two_without_a_student_and_too_large_k(campaign, capsys):
    assert run("cycle", "pick", campaign, "-k", 1000) == 1
    assert "cannot pick 1000" in capsys.readouterr().err
    assert run("cycle", "pick", campaign, "-k", 20) == 0
    assert run("cycle", "pick", campaign, "-k", 20) == 1
    assert "none is trained yet" in capsys.readouterr().err


def test_cache_rereads_a_changed_file_and_skips_unreadable_ones(campaign, data):
    from PIL import Image
    from fdal.campaign.pixel_cache import sync_pool
    from fdal.campaign.state import load_state
    state = load_state(campaign)
    pixels, stats = sync_pool(campaign, state, workers=2)
    assert stats["decoded"] == len(data.x) and len(pixels) == len(data.x)
    first = pixels.images([0])[0].copy()
    assert np.array_equal(first, data.x[0])
    pixels, stats = sync_pool(campaign, state, workers=2)
    assert stats["decoded"] == 0  # unchanged files are not read again
    Image.fromarray(255 - data.x[0]).save(data.folder / "a" / "0000.png")
    (data.folder / "b" / "broken.png").write_bytes(b"not an image")
    warnings = []
    try:
        pixels, stats = sync_pool(campaign, state, workers=1, warn=warnings.append)
        assert stats["decoded"] == 2
        assert np.array_equal(pixels.images([pixels.index["photos/a/0000.png"]])[0], 255 - data.x[0])
        assert "photos/b/broken.png" not in pixels.index and "1 image files cannot be read" in warnings[0]
    finally:
        Image.fromarray(data.x[0]).save(data.folder / "a" / "0000.png")
        (data.folder / "b" / "broken.png").unlink()


def test_lock_refuses_a_second_command(campaign, capsys):
    from fdal.campaign.state import CampaignBusy, locked
    with locked(campaign):
        with pytest.raises(CampaignBusy):
            with locked(campaign):
                pass
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom fdal.campaign.state import locked\n"
                               "with locked(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)",
                               str(campaign)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run("cycle", "pick", campaign, "-k", 5) == 75
        err = capsys.readouterr().err
        assert "in use by another `fdal cycle` command" in err and f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert run("cycle", "pick", campaign, "-k", 5) == 0  # the lock died with its holder


def test_an_interrupted_pick_leaves_the_state_and_runs_again(campaign, monkeypatch):
    import fdal.campaign.pick as pick_module
    before = Path(campaign, "campaign.json").read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pick_module, "tasks_for_round", crash)
    assert run("cycle", "pick", campaign, "-k", 10) == 130
    assert Path(campaign, "campaign.json").read_bytes() == before
    monkeypatch.undo()
    assert run("cycle", "pick", campaign, "-k", 10) == 0
    assert len(state_of(campaign)["rounds"]) == 1


def test_status_says_what_to_do_next(campaign, data, capsys, tmp_path):
    assert run("cycle", "status", campaign) == 0
    assert "next: fdal cycle pick" in capsys.readouterr().out
    assert run("cycle", "pick", campaign, "-k", 10) == 0
    export = export_for_round(campaign / "rounds" / "round-1" / "tasks.json", data.label, skip_every=5)
    (tmp_path / "e.json").write_text(json.dumps(export))
    assert run("cycle", "import", campaign, tmp_path / "e.json") == 0
    capsys.readouterr()
    assert run("cycle", "status", campaign) == 0
    out = capsys.readouterr().out
    assert "labeled 8, skipped 2, waiting for labels 0" in out
    assert "next: fdal cycle train" in out


def test_first_round_by_typicality_of_the_teacher_embedding(campaign, teacher):
    from fdal.campaign.state import load_state
    from fdal.training.campaign.first_round import teacher_features
    from fdal.training.strategies.clustering import unit_rows
    from fdal.training.strategies.typiclust import typiclust_picks
    from fdal.training.teacher import load_teacher
    from fdal.campaign.pixel_cache import sync_pool
    assert run("cycle", "pick", campaign, "-k", 8, "--first", "typicality") == 0
    state = load_state(campaign)
    pixels, _ = sync_pool(campaign, state)
    feats = unit_rows(teacher_features(load_teacher(teacher), pixels, np.arange(len(pixels))))
    expected = [pixels.keys[i] for i in typiclust_picks(feats, 0, 8, 0)]
    assert state["rounds"][0]["picked"] == expected and state["rounds"][0]["first"] == "typicality"
    assert len(set(expected)) == 8


def test_decoding_on_several_processes_gives_the_pixels_of_one(campaign, data, monkeypatch, tmp_path):
    import fdal.campaign.pixel_cache as pixel_cache
    from fdal.campaign.state import load_state
    monkeypatch.setattr(pixel_cache, "CHUNK", 16)  # 10 chunks for the worker processes
    state = load_state(campaign)
    pixels, stats = pixel_cache.sync_pool(campaign, state, workers=3)
    assert stats["decoded"] == len(data.x)
    order = [data.row(k) for k in pixels.keys]
    assert np.array_equal(pixels.images(np.arange(len(pixels))), data.x[order])


def test_example_writes_a_pool_a_heldout_folder_and_the_answers(tmp_path, capsys):
    import csv
    assert run("cycle", "example", tmp_path / "ex", "--images", 30, "--heldout", 10) == 0
    assert "wrote 30 unlabeled PNG images" in capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "ex" / "truth.csv").read_text().splitlines()))
    assert len(rows) == 30 and all((tmp_path / "ex" / r["file"]).is_file() for r in rows)
    assert sum(1 for _ in (tmp_path / "ex" / "heldout").rglob("*.png")) == 10
    assert run("cycle", "example", tmp_path / "ex") == 1  # never written over
    assert "not empty" in capsys.readouterr().err
