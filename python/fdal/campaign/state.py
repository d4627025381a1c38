"""The campaign's project folder: one JSON state file, written atomically, and a lock.

    PROJ/campaign.json       the state (below); every command reads it, works, and replaces it
                             atomically (temporary file + fsync + rename) as its last step, so an
                             interrupted command leaves the previous state and simply runs again
    PROJ/.lock               fcntl lock: one `fdal cycle` command per project at a time
    PROJ/cache/              the decoded pool (pixel_cache.py)
    PROJ/rounds/round-R/     picks.csv, tasks.json (Label Studio), images/ (.npy rows as PNG)
    PROJ/models/round-R/     student.pt (float checkpoint), student.fdal (int8), report.md/.json

campaign.json keys:
    format, id                "fdal-campaign-1", a random id written into every task (data.campaign)
    classes, teacher          class names in the teacher's order; the teacher's path and sha256
    image_shape, seed, preset the student's input (H, W, C), the campaign seed, the training recipe
    pools                     [{name, path, kind: "folder" | "npy"}] in pool order
    rounds                    [{round, picked: [keys, best first], strategy, first, model, seed,
                                candidates, ranked, ...}]
    labels, skipped           {key: class name}; [keys] the annotators skipped
    label_order               keys labeled without being picked (a CSV of older labels), in import order
    digests                   {key: content digest} of every picked or labeled file, at pick time
    models                    [{round, cycle, dir, labeled, method, ...}] in training order
    candidate_rng             numpy bit-generator state of the seeded candidate subsets (--candidates)
    label_studio              {project_id, task_ids: {key: task id}} once known (set_label_studio_ids);
                              url: the server `fdal cycle push` used (fdal.labelstudio.campaign)
"""
from __future__ import annotations

import errno
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

FORMAT = "fdal-campaign-1"
STATE_FILE = "campaign.json"
LOCK_FILE = ".lock"


class CampaignBusy(OSError):
    """Another `fdal cycle` command holds the project's lock; `fdal` exits 75 (EX_TEMPFAIL: try again)."""

    exit_code = 75


def write_json_atomic(path, obj, indent=None) -> None:
    """Write `obj` as JSON to `path` through a temporary file and a rename: readers see the old file
    or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def state_path(proj) -> Path:
    return Path(proj) / STATE_FILE


def new_state(classes, teacher: str, teacher_sha256: str, pools: list, image_shape, seed: int,
              preset: str) -> dict:
    return {"format": FORMAT, "id": uuid.uuid4().hex, "classes": list(classes), "teacher": teacher,
            "teacher_sha256": teacher_sha256, "image_shape": [int(v) for v in image_shape], "seed": int(seed),
            "preset": preset, "pools": pools, "rounds": [], "labels": {}, "skipped": [], "digests": {},
            "models": [], "label_order": [], "candidate_rng": None,
            "label_studio": {"project_id": None, "task_ids": {}}}


def load_state(proj) -> dict:
    """The campaign in folder `proj`; a clear error when it is not one."""
    path = state_path(proj)
    if not Path(proj).is_dir():
        raise FileNotFoundError(errno.ENOENT, "No such campaign folder (create it with `fdal cycle init`)", str(proj))
    if not path.is_file():
        raise ValueError(f"{proj}: not a campaign folder (no {STATE_FILE}); create one with `fdal cycle init`")
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: damaged campaign state ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise ValueError(f"{path}: not an fdal campaign state (format {found!r}, expected {FORMAT!r})")
    return state


def save_state(proj, state: dict) -> None:
    write_json_atomic(state_path(proj), state, indent=1)


@contextmanager
def locked(proj):
    """Hold PROJ/.lock (fcntl, exclusive, non-blocking) for the duration; CampaignBusy naming the
    holder's pid when another process has it. The OS drops the lock if the holder dies."""
    import fcntl
    path = Path(proj) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise CampaignBusy(f"{proj} is in use by another `fdal cycle` command (pid {holder}); "
                               f"wait for it to finish, then run this command again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def round_dir(proj, rnd: int) -> Path:
    return Path(proj) / "rounds" / f"round-{rnd}"


def labeled_in_order(state: dict) -> list:
    """The labeled keys in the order training sees them: each round's picks in pick order (best
    first), then keys labeled without being picked, in import order. Independent of the order
    labels came back in, so a campaign and `fdal al` build the same labeled list."""
    labels = state["labels"]
    seen, out = set(), []
    for rnd in state["rounds"]:
        for key in rnd["picked"]:
            if key in labels and key not in seen:
                seen.add(key)
                out.append(key)
    out += [k for k in state.get("label_order", []) if k in labels and k not in seen]
    return out


def pending(state: dict) -> list:
    """Picked keys neither labeled nor skipped yet (with the annotators)."""
    done = set(state["labels"]) | set(state["skipped"])
    return [k for rnd in state["rounds"] for k in rnd["picked"] if k not in done]


def set_label_studio_ids(state: dict, project_id=None, task_ids: dict | None = None) -> None:
    """Record the campaign's Label Studio project id and task ids (key -> task id): the one place
    that writes them. A project id, once set, does not change (another project is another campaign)."""
    ls = state.setdefault("label_studio", {"project_id": None, "task_ids": {}})
    if project_id is not None:
        if ls.get("project_id") not in (None, project_id):
            raise ValueError(f"this campaign's Label Studio project is {ls['project_id']}, not {project_id}")
        ls["project_id"] = project_id
    for key, task_id in (task_ids or {}).items():
        ls.setdefault("task_ids", {})[key] = int(task_id)
