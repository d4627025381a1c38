"""`fdal cycle push/pull` and `pick --label-studio-url` when something is wrong: each is one
`fdal: error:` line naming the problem, exit 1, and the campaign stays usable."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from .conftest import run
from .labelstudio_server import free_port

from fdal import labelstudio as ls

pytestmark = pytest.mark.slow


def state_of(proj) -> dict:
    return json.loads(Path(proj, "campaign.json").read_text())


def error_of(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("fdal: error: "), err
    return err[-1]


@pytest.fixture
def new_campaign(label_studio, shapes, request, monkeypatch):
    """A new campaign over the shapes, its task URLs relative to the server's document root; the
    right token in the environment."""
    monkeypatch.setenv(ls.TOKEN_ENV, label_studio.token)
    proj = label_studio.document_root / "shapes" / f"camp-{request.node.name}"
    assert run("cycle", "init", proj, "--pool", shapes.photos, "--teacher", shapes.teacher, "--preset", "smoke",
               "--document-root", label_studio.document_root) == 0
    return proj


@pytest.fixture
def campaign(new_campaign):
    """The new campaign with round 1 picked (6 images), not pushed."""
    assert run("cycle", "pick", new_campaign, "-k", 6) == 0
    return new_campaign


def test_unreachable_server_then_retry(label_studio, new_campaign, capsys):
    capsys.readouterr()
    dead = f"http://127.0.0.1:{free_port()}"
    assert run("cycle", "pick", new_campaign, "-k", 6, "--label-studio-url", dead) == 1
    err = error_of(capsys)
    assert f"round 1 is picked but not sent to Label Studio: cannot reach Label Studio at {dead}" in err
    assert f"send it with `fdal cycle push {new_campaign}`" in err
    state = state_of(new_campaign)
    assert len(state["rounds"]) == 1 and "url" not in state["label_studio"]  # the pick is kept, the URL is not
    assert run("cycle", "push", new_campaign, "--label-studio-url", label_studio.url) == 0
    assert sorted(state_of(new_campaign)["label_studio"]["task_ids"]) == sorted(state["rounds"][0]["picked"])


def test_token_refused_and_missing(label_studio, campaign, capsys, monkeypatch):
    monkeypatch.setenv(ls.TOKEN_ENV, "f" * 40)
    capsys.readouterr()
    assert run("cycle", "push", campaign, "--label-studio-url", label_studio.url) == 1
    assert "refused the API token" in error_of(capsys)
    monkeypatch.delenv(ls.TOKEN_ENV)
    assert run("cycle", "push", campaign, "--label-studio-url", label_studio.url) == 1
    assert f"no Label Studio API token: set {ls.TOKEN_ENV}" in error_of(capsys)
    assert state_of(campaign)["label_studio"]["project_id"] is None


def test_pull_before_push_and_no_url(campaign, capsys):
    capsys.readouterr()
    assert run("cycle", "pull", campaign) == 1
    assert "no Label Studio server yet: give --label-studio-url" in error_of(capsys)


def test_document_root_mismatch_sends_nothing(label_studio, shapes, tmp_path, capsys, monkeypatch):
    """A campaign whose task URLs are relative to another folder than the server's document root:
    the push fetches one image as an annotator would and stops before sending any task."""
    monkeypatch.setenv(ls.TOKEN_ENV, label_studio.token)
    proj = label_studio.document_root / "shapes" / "camp-other-root"
    assert run("cycle", "init", proj, "--pool", shapes.photos, "--teacher", shapes.teacher, "--preset", "smoke",
               "--document-root", shapes.photos.parent) == 0  # the URLs miss the 'shapes/' prefix
    capsys.readouterr()
    assert run("cycle", "pick", proj, "-k", 6, "--label-studio-url", label_studio.url) == 1
    err = error_of(capsys)
    assert f"does not serve {shapes.photos}/" in err and f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={shapes.photos.parent}" in err
    pid = state_of(proj)["label_studio"]["project_id"]
    assert ls.export_tasks(ls.Client(label_studio.url), pid, all_tasks=True) == []


def test_project_deleted_or_changed(label_studio, shapes, campaign, capsys):
    client = ls.Client(label_studio.url)
    assert run("cycle", "push", campaign, "--label-studio-url", label_studio.url) == 0
    pid = state_of(campaign)["label_studio"]["project_id"]
    # Someone edits the project's classes: labels would not map to the campaign's.
    changed = shapes.classes[:-1] + ["something else"]
    client.patch(f"/api/projects/{pid}", {"label_config": ls.labeling_config(changed)})
    capsys.readouterr()
    assert run("cycle", "pull", campaign) == 1
    assert f"project {pid} at {label_studio.url} has classes" in error_of(capsys)
    client.delete(f"/api/projects/{pid}")
    assert run("cycle", "pull", campaign) == 1
    assert f"Label Studio project {pid} does not exist" in error_of(capsys)


def test_interrupted_push_finds_its_project_and_tasks(label_studio, campaign):
    """A push whose state was not saved (killed after the server took the tasks) is run again: the
    project is found by the campaign id in its description, and no task is created twice."""
    before = json.loads(Path(campaign, "campaign.json").read_text())
    assert run("cycle", "push", campaign, "--label-studio-url", label_studio.url) == 0
    after = state_of(campaign)
    Path(campaign, "campaign.json").write_text(json.dumps(before))  # as if the save never happened
    assert run("cycle", "push", campaign, "--label-studio-url", label_studio.url) == 0
    again = state_of(campaign)
    assert again["label_studio"]["project_id"] == after["label_studio"]["project_id"]
    assert again["label_studio"]["task_ids"] == after["label_studio"]["task_ids"]
    client = ls.Client(label_studio.url)
    assert len(ls.export_tasks(client, after["label_studio"]["project_id"], all_tasks=True)) == 6


def test_npy_pool_rows_are_served_as_png(label_studio, shapes, monkeypatch):
    """A .npy pool's rows reach the annotators as the PNG files pick writes under the campaign."""
    monkeypatch.setenv(ls.TOKEN_ENV, label_studio.token)
    proj = label_studio.document_root / "shapes" / "camp-npy"
    assert run("cycle", "init", proj, "--pool", f"archive={shapes.npy}", "--teacher", shapes.teacher, "--preset", "smoke",
               "--document-root", label_studio.document_root) == 0
    assert run("cycle", "pick", proj, "-k", 5, "--label-studio-url", label_studio.url) == 0
    state = state_of(proj)
    client = ls.Client(label_studio.url)
    [task] = [t for t in ls.export_tasks(client, state["label_studio"]["project_id"], all_tasks=True)
              if t["data"]["key"] == state["rounds"][0]["picked"][0]]
    png = proj / "rounds" / "round-1" / "images" / f"{task['data']['key']}.png"
    assert client.get_bytes(task["data"][ls.IMAGE_FIELD]) == png.read_bytes()
