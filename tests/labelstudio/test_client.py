"""fdal.labelstudio against a real Label Studio server (the `label_studio` fixture): projects from
class names, tasks with predictions, local-file images, the export, and every error a user can meet."""
from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from .annotator import label_task, skip_task
from .labelstudio_server import free_port

from fdal import labelstudio as ls

ODD_NAMES = ["cat", "a&b", '"quoted"', "<tag>", "Ünï cödé", "it's", "$money", "with space, comma"]


@pytest.fixture(scope="module")
def personal_access_token(label_studio):
    """The user's personal access token (a JWT; Label Studio makes one per user)."""
    return client(label_studio).post("/api/token/")["token"]


def client(server, token=None):
    return ls.Client(server.url, server.token if token is None else token)


def prediction(label, score):
    return {"model_version": "round-1", "score": score,
            "result": [{"from_name": ls.CHOICES_NAME, "to_name": ls.IMAGE_NAME, "type": "choices",
                        "value": {"choices": [label]}}]}


def write_png(path, value):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)
    return path


def test_labeling_config_round_trips_odd_names_offline():
    assert ls.config_classes(ls.labeling_config(ODD_NAMES)) == ODD_NAMES
    with pytest.raises(ValueError, match="not valid XML"):
        ls.config_classes("<View>")


def test_local_files_url_offline(tmp_path):
    assert ls.local_files_url(tmp_path / "sub dir" / "a&b.png", tmp_path) == "/data/local-files/?d=sub%20dir/a%26b.png"
    with pytest.raises(ValueError, match="not under the Label Studio document root"):
        ls.local_files_url(tmp_path.parent / "elsewhere.png", tmp_path)


def test_bad_url_and_missing_token_offline(monkeypatch):
    with pytest.raises(ls.LabelStudioError, match="http:// or https://"):
        ls.Client("localhost:8080", "t")
    monkeypatch.delenv(ls.TOKEN_ENV, raising=False)
    with pytest.raises(ls.LabelStudioAuthError, match=ls.TOKEN_ENV):
        ls.Client("http://127.0.0.1:1")
    monkeypatch.setenv(ls.TOKEN_ENV, "from-the-environment")
    assert ls.Client("http://127.0.0.1:1")._token == "from-the-environment"


def test_unreachable_server_is_one_clear_line():
    c = ls.Client(f"http://127.0.0.1:{free_port()}", "t", timeout=10)
    with pytest.raises(ls.LabelStudioUnreachable, match="cannot reach Label Studio at http://127.0.0.1:.*is the server running"):
        c.get("/api/projects")


def test_project_tasks_predictions_annotations_and_export(label_studio, ls_images, personal_access_token):
    c = client(label_studio)
    pid = ls.create_project(c, "fdal test: odd names", ODD_NAMES)
    project = ls.check_project_classes(c, pid, ODD_NAMES)
    assert ls.config_classes(project["label_config"]) == ODD_NAMES

    files = [write_png(ls_images / "sub dir" / f"img {i}&.png", 10 * i) for i in range(len(ODD_NAMES))]
    tasks = [{"data": {ls.IMAGE_FIELD: ls.local_files_url(f, label_studio.document_root), "key": f"pool/{f.name}"},
              "predictions": [prediction(name, 0.25 + i / 100)]} for i, (f, name) in enumerate(zip(files, ODD_NAMES))]
    ids = ls.push_tasks(c, pid, tasks, "key")
    assert list(ids) == [t["data"]["key"] for t in tasks] and len(set(ids.values())) == len(tasks)
    assert ls.push_tasks(c, pid, tasks, "key") == ids  # a repeated push creates nothing
    assert len(ls.export_tasks(c, pid, all_tasks=True)) == len(tasks)

    # Predictions arrive as pre-annotations with their class, score and model version.
    for task, name in zip(tasks, ODD_NAMES):
        [pred] = c.get("/api/predictions", task=ids[task["data"]["key"]])
        assert pred["result"][0]["value"]["choices"] == [name] and pred["model_version"] == "round-1"

    # The images are served to annotators only once the project has a Local Storage over their folder.
    url = label_studio.url + tasks[0]["data"][ls.IMAGE_FIELD]
    request = urllib.request.Request(url, headers={"Authorization": f"Token {label_studio.token}"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=30)
    assert len(ls.allow_local_folders(c, pid, [ls_images])) == 1
    assert ls.allow_local_folders(c, pid, [ls_images / "sub dir"]) == []  # already covered
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.read() == files[0].read_bytes()
    assert client(label_studio, personal_access_token).get_bytes(tasks[1]["data"][ls.IMAGE_FIELD]) == files[1].read_bytes()

    # The sync export holds only annotated and skipped tasks, with every label as given.
    keys = [t["data"]["key"] for t in tasks]
    for key, name in zip(keys[:-2], ODD_NAMES):
        label_task(c, ids[key], name)
    skip_task(c, ids[keys[-2]])
    exported = {t["data"]["key"]: t for t in ls.export_tasks(c, pid)}
    assert set(exported) == set(keys[:-1])
    for key, name in zip(keys[:-2], ODD_NAMES):
        [ann] = exported[key]["annotations"]
        assert not ann["was_cancelled"] and ann["result"][0]["value"]["choices"] == [name]
    [skip] = exported[keys[-2]]["annotations"]
    assert skip["was_cancelled"] and skip["result"] == []


def test_project_errors(label_studio):
    c = client(label_studio)
    pid = ls.create_project(c, "fdal test: errors", ["a", "b", "c"])
    with pytest.raises(ls.LabelStudioError, match=r"has classes \['a', 'b', 'c'\].*missing \['d'\]; not in the campaign \['c'\]"):
        ls.check_project_classes(c, pid, ["a", "b", "d"])
    with pytest.raises(ls.LabelStudioError, match="same names, another order"):
        ls.check_project_classes(c, pid, ["b", "a", "c"])
    other = c.post("/api/projects", {"title": "not fdal", "label_config": '<View><Text name="t" value="$t"/></View>'})["id"]
    with pytest.raises(ls.LabelStudioError, match="no <Choices name=\"label\"> control"):
        ls.check_project_classes(c, other, ["a"])
    missing = pid + 1000
    with pytest.raises(ls.LabelStudioNotFound, match=f"project {missing} does not exist"):
        ls.check_project_classes(c, missing, ["a", "b", "c"])
    with pytest.raises(ls.LabelStudioNotFound, match=f"project {missing} does not exist"):
        ls.export_tasks(c, missing)


def test_tokens(label_studio, personal_access_token):
    with pytest.raises(ls.LabelStudioAuthError, match=r"refused the API token \(legacy token; HTTP 401.*enable-legacy-api-token"):
        client(label_studio, token="0" * 40).get("/api/projects")
    # A personal access token (a JWT refresh token) works too, exchanged for an access token.
    pat = personal_access_token
    assert isinstance(client(label_studio, token=pat).get("/api/projects"), dict)
    forged = pat[:-4] + ("AAAA" if not pat.endswith("AAAA") else "BBBB")
    with pytest.raises(ls.LabelStudioAuthError, match=r"personal access token; HTTP 401"):
        client(label_studio, token=forged).get("/api/projects")
