"""A campaign's rounds on its Label Studio server: `fdal cycle push` (and `pick` on a connected
campaign) sends the tasks still waiting for labels; `fdal cycle pull` brings the annotations back
through `fdal cycle import`'s checks.

The campaign records in state["label_studio"]: the server's url, its project_id (created on the
first push, titled after the campaign folder; its description names the campaign id, so a push
interrupted before the id was saved finds the project again) and the task id of every pushed key.
The images stay where they are: Label Studio serves them from local storage, so the server must
run on this machine with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and
LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT equal to the campaign's document root (`fdal cycle init
--document-root`). A push checks that before it sends any task.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

from fdal.campaign.labels import import_labels
from fdal.campaign.state import pending, round_dir, set_label_studio_ids, write_json_atomic

from .client import Client, LabelStudioError, LabelStudioNotFound
from .project import (LOCAL_FILES_PREFIX, allow_local_folders, check_project_classes, create_project, export_tasks,
                      find_project, push_tasks)

KEY_FIELD = "key"              # task data field naming the image's campaign key (labelstudio_format)
EXPORT_FILE = "label-studio-export.json"  # PROJ/: the last export pulled, as the server sent it


def connect(state: dict, url=None, token=None) -> Client:
    """A client for `url`, or for the campaign's recorded server (push and pull record the url once
    the server has answered, so a mistyped one is never remembered)."""
    ls = state.setdefault("label_studio", {"project_id": None, "task_ids": {}})
    url = url or ls.get("url")
    if not url:
        raise ValueError("this campaign has no Label Studio server yet: give --label-studio-url URL "
                         "(and the API token in LABEL_STUDIO_API_KEY)")
    return Client(url, token)


def _campaign_marker(state: dict) -> str:
    return f"fdal campaign {state['id']}"


def ensure_project(client: Client, proj, state: dict, say=print) -> int:
    """The campaign's project: checked (exists, same classes) or, on first use, found by the
    campaign id in its description or created with the campaign's classes."""
    ls = state["label_studio"]
    if ls.get("project_id") is not None:
        check_project_classes(client, ls["project_id"], state["classes"])
        return int(ls["project_id"])
    marker = _campaign_marker(state)
    pid = find_project(client, marker)
    if pid is None:
        title = f"fdal {Path(proj).resolve().name}"
        pid = create_project(client, title, state["classes"],
                             description=f"{marker} ({Path(proj).resolve()}); created by fdal cycle push")
        say(f"created Label Studio project {pid} ({title!r}) at {client.url}/projects/{pid}")
    check_project_classes(client, pid, state["classes"])
    set_label_studio_ids(state, project_id=pid)
    return pid


def _waiting_tasks(proj, state: dict) -> list:
    """Tasks of every round (rounds/round-R/tasks.json) whose image waits for labels and is not on
    the server yet, in round and rank order."""
    pushed = set(state["label_studio"].get("task_ids") or {})
    waiting = set(pending(state)) - pushed
    tasks = []
    for rnd in state["rounds"]:
        if not waiting & set(rnd["picked"]):
            continue
        path = round_dir(proj, rnd["round"]) / "tasks.json"
        if not path.is_file():
            raise ValueError(f"{path} is missing: the round's tasks cannot be pushed (pick wrote it; restore it)")
        tasks += [t for t in json.loads(path.read_text()) if t["data"].get(KEY_FIELD) in waiting]
    return tasks


def _local_path(state: dict, task: dict) -> Path:
    url = task["data"]["image"]
    if not url.startswith(LOCAL_FILES_PREFIX):
        raise ValueError(f"task {task['data'].get(KEY_FIELD)}: image URL {url!r} is not a Label Studio local file")
    return Path(state["document_root"]) / unquote(url[len(LOCAL_FILES_PREFIX):])


def _check_images_served(client: Client, state: dict, task: dict) -> None:
    """Fetch one task's image as an annotator's browser will: a clear error before any task is
    sent when the server cannot serve the campaign's images."""
    url = task["data"]["image"]
    try:
        data = client.get_bytes(url)
    except LabelStudioNotFound:
        data = None
    except LabelStudioError as exc:
        if "HTTP 403" not in str(exc):
            raise
        raise LabelStudioError(f"Label Studio at {client.url} does not serve local files: start it with "
                               "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true") from None
    if data is None or data != _local_path(state, task).read_bytes():
        raise LabelStudioError(
            f"Label Studio at {client.url} does not serve {_local_path(state, task)} at {url}: start the server on this "
            f"machine with LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={state['document_root']} (the campaign's document root)")


def _storage_folders(state: dict, tasks: list) -> set:
    """Folders the project's Local Storage must cover: each folder pool that has a task, and the
    folders of the PNG files written for .npy rows."""
    folders = set()
    pools = {p["name"]: p for p in state["pools"]}
    for task in tasks:
        pool = pools.get(task["data"][KEY_FIELD].split("/", 1)[0])
        folders.add(Path(pool["path"]) if pool and pool["kind"] == "folder" else _local_path(state, task).parent)
    return folders


def push(proj, state: dict, client: Client, say=print) -> dict:
    """Send the tasks waiting for labels to the campaign's project (created on first use) and record
    their task ids in `state` (the caller saves it, also after an error: what is recorded is true).
    Returns {project_id, pushed, on_server}."""
    pid = ensure_project(client, proj, state, say)
    state["label_studio"]["url"] = client.url
    tasks = _waiting_tasks(proj, state)
    if tasks:
        try:
            allow_local_folders(client, pid, _storage_folders(state, tasks))
        except LabelStudioError as exc:
            raise LabelStudioError(f"{exc}; the campaign's images are under {state['document_root']}") from None
        _check_images_served(client, state, tasks[0])
        set_label_studio_ids(state, task_ids=push_tasks(client, pid, tasks, KEY_FIELD))
    return {"project_id": pid, "pushed": len(tasks), "on_server": len(state["label_studio"]["task_ids"])}


def pull(proj, state: dict, client: Client) -> dict:
    """Export the campaign's project, keep the export as PROJ/label-studio-export.json, and import
    it with `fdal cycle import`'s checks (nothing is imported from a bad export). Returns
    import_labels' counts plus the project id and the export's path."""
    pid = state["label_studio"].get("project_id")
    if pid is None:
        raise ValueError("nothing was pushed to Label Studio yet: run `fdal cycle push` (or pick with --label-studio-url)")
    check_project_classes(client, pid, state["classes"])
    state["label_studio"]["url"] = client.url
    export = export_tasks(client, pid)
    path = Path(proj) / EXPORT_FILE
    write_json_atomic(path, export, indent=1)
    counts = import_labels(state, os.fspath(path))
    return {**counts, "project_id": int(pid), "export": str(path)}
