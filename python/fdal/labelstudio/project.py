"""A campaign's Label Studio project: create it, check it, push tasks, serve local files, export.

All functions take a Client (client.py) and return plain JSON data; the campaign code decides what
to store. Task data carries the campaign's file key (data[key_field]), so a push after an
interrupted one finds the tasks the server already has instead of creating them twice.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Dict, Iterable, List, Sequence
from urllib.parse import quote

from .client import Client, LabelStudioError, LabelStudioNotFound
from .labeling_config import config_classes, labeling_config

LOCAL_FILES_PREFIX = "/data/local-files/?d="
TITLE_MAX = 50  # Label Studio's limit on a project title


def create_project(client: Client, title: str, classes: Sequence[str], description: str = "") -> int:
    """A new project whose labeling config has `classes` as choices; its id."""
    config = labeling_config(classes)
    answer = client.post("/api/projects", {"title": title[:TITLE_MAX], "description": description,
                                           "label_config": config})
    return int(answer["id"])


def get_project(client: Client, project_id: int) -> dict:
    try:
        return client.get(f"/api/projects/{int(project_id)}")
    except LabelStudioNotFound:
        raise LabelStudioNotFound(f"Label Studio project {project_id} does not exist at {client.url} "
                                  "(deleted, or another server?)") from None


def check_project_classes(client: Client, project_id: int, classes: Sequence[str]) -> dict:
    """The project, after checking that its labeling config offers exactly `classes` in order;
    LabelStudioError naming the difference otherwise (labels would not map to the campaign's classes)."""
    project = get_project(client, project_id)
    want = [str(c) for c in classes]
    try:
        have = config_classes(project.get("label_config", ""))
    except ValueError as exc:
        raise LabelStudioError(f"Label Studio project {project_id} at {client.url}: {exc}") from None
    if have != want:
        missing = [c for c in want if c not in have]
        extra = [c for c in have if c not in want]
        what = (f"missing {missing}" if missing else "") + ("; " if missing and extra else "") + \
               (f"not in the campaign {extra}" if extra else "")
        raise LabelStudioError(f"Label Studio project {project_id} at {client.url} has classes {have}, the campaign "
                               f"has {want} ({what or 'same names, another order'}): fix the project's labeling "
                               "config or use another project")
    return project


def local_files_url(path, document_root) -> str:
    """The URL under which Label Studio serves `path` from local storage: LOCAL_FILES_PREFIX plus
    the path relative to the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, URL-quoted as Label
    Studio's own local storage quotes it. ValueError when `path` is not under the root."""
    path, root = Path(path).resolve(), Path(document_root).resolve()
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise ValueError(f"{path} is not under the Label Studio document root {root}: start the server with "
                         "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT at a folder above the pool and the campaign") from None
    return LOCAL_FILES_PREFIX + quote(rel.as_posix())


def allow_local_folders(client: Client, project_id: int, folders: Iterable) -> List[int]:
    """Let the project's annotators see images under `folders` (absolute paths on the server's
    machine, under its document root): Label Studio serves /data/local-files/ only from a folder
    of a Local Storage attached to the project. Adds one storage per folder not already covered
    (never synced: the tasks come from push_tasks). The ids of the storages added."""
    existing = client.get("/api/storages/localfiles", project=int(project_id)) or []
    covered = [Path(s["path"]) for s in existing if s.get("path")]
    added = []
    for folder in sorted({Path(f).resolve() for f in folders}):
        if any(folder == c or c in folder.parents for c in covered):
            continue
        answer = client.post("/api/storages/localfiles",
                             {"project": int(project_id), "path": str(folder), "title": f"fdal {folder.name}"[:TITLE_MAX],
                              "use_blob_urls": False, "regex_filter": ""})
        covered.append(folder)
        added.append(int(answer["id"]))
    return added


def export_tasks(client: Client, project_id: int, all_tasks: bool = False) -> list:
    """Label Studio's JSON export of the project: the tasks with an annotation or a skip (a skip is
    an annotation with was_cancelled true), or every task with all_tasks."""
    get_project(client, project_id)  # a clear error for a missing project before the export's own 404
    answer = client.get(f"/api/projects/{int(project_id)}/export", exportType="JSON", download_all_tasks=all_tasks)
    if not isinstance(answer, list):
        raise LabelStudioError(f"Label Studio at {client.url}: the export of project {project_id} is not a task list")
    return answer


def push_tasks(client: Client, project_id: int, tasks: Sequence[dict], key_field: str) -> Dict[str, int]:
    """Import `tasks` (Label Studio task dicts: data, optional predictions) into the project; each
    task's data[key_field] names it. Tasks whose key the project already has are not imported again
    (a push interrupted after the server took the tasks). Returns {key: task id} for every task."""
    keys = [t["data"][key_field] for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"push_tasks: duplicate {key_field} values in the tasks")
    known = {}
    for task in export_tasks(client, project_id, all_tasks=True):
        key = task.get("data", {}).get(key_field)
        if key is not None:
            known.setdefault(key, int(task["id"]))
    new = [t for t in tasks if t["data"][key_field] not in known]
    if new:
        answer = client.post(f"/api/projects/{int(project_id)}/import", list(new), return_task_ids=True)
        ids = (answer or {}).get("task_ids")
        if not isinstance(ids, list) or len(ids) != len(new):
            raise LabelStudioError(f"Label Studio at {client.url} imported {answer.get('task_count') if answer else None} "
                                   f"of {len(new)} tasks into project {project_id} without their ids")
        known.update({t["data"][key_field]: int(i) for t, i in zip(new, ids)})
    return {k: known[k] for k in keys}


def find_project(client: Client, marker: str):
    """The id of the first project whose description contains `marker` (a campaign id), or None:
    a project created by a command that was interrupted before it saved the id."""
    page = 1
    while True:
        answer = client.get("/api/projects", page=page, page_size=100)
        results = answer.get("results", []) if isinstance(answer, dict) else (answer or [])
        for project in results:
            if marker in (project.get("description") or ""):
                return int(project["id"])
        if not isinstance(answer, dict) or not answer.get("next"):
            return None
        page += 1
