"""`fdal cycle init`: a new campaign folder from the pools, the teacher and the class names."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .pool import check_pools, list_pool, parse_pool_arg
from .state import STATE_FILE, new_state, save_state


def read_class_names(classes: str | None, classes_file: str | None) -> list | None:
    """--classes a,b,c or --classes-file F (one name per line); None when neither is given."""
    if classes and classes_file:
        raise ValueError("give the class names once: --classes or --classes-file")
    if classes_file:
        with open(classes_file, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    elif classes:
        names = [c.strip() for c in classes.split(",")]
    else:
        return None
    if any(not n for n in names):
        raise ValueError("class names must not be empty")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"class name {dup[0]!r} is given twice")
    if len(names) < 2:
        raise ValueError(f"a campaign needs at least 2 classes, got {names}")
    return names


def choose_classes(given: list | None, teacher_classes: list | None, teacher_outputs: int, teacher: str) -> list:
    """The campaign's class names: the teacher's, or the given ones (which must match its count,
    and its names when it has them)."""
    if given is None:
        if teacher_classes is None:
            raise ValueError(f"{teacher} stores no class names (trained before they were saved); "
                             f"give them in the teacher's label order with --classes a,b,c or --classes-file F")
        return list(teacher_classes)
    if len(given) != teacher_outputs:
        raise ValueError(f"{len(given)} class names given but the teacher {teacher} has {teacher_outputs} classes")
    if teacher_classes is not None and list(teacher_classes) != given:
        raise ValueError(f"the class names given differ from the teacher's {teacher_classes}; leave out --classes "
                         f"to use the teacher's")
    return given


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def create_campaign(proj, pool_args: list, teacher: str, classes: list, image_size: int, seed: int,
                    preset: str, document_root: str | None = None) -> dict:
    """Make folder `proj` (new or empty) a campaign; returns the state (already saved)."""
    proj = Path(proj)
    if (proj / STATE_FILE).exists():
        raise ValueError(f"{proj} already holds a campaign; `fdal cycle status {proj}` shows it")
    if proj.exists() and (not proj.is_dir() or any(p.name != ".lock" for p in proj.iterdir())):
        raise ValueError(f"{proj} exists and is not an empty folder; give a new folder for the campaign")
    if not pool_args:
        raise ValueError("give at least one --pool (a folder of images or a .npy file)")
    pools = [parse_pool_arg(a) for a in pool_args]
    check_pools(pools)
    shape = (image_size, image_size, 3)
    sizes = {p["name"]: len(list_pool(p, shape)) for p in pools}  # an empty or bad pool fails here
    proj.mkdir(parents=True, exist_ok=True)
    roots = [p["path"] for p in pools if p["kind"] == "folder"] + [str(proj.resolve())]
    root = os.path.abspath(document_root) if document_root else os.path.commonpath(roots)
    state = new_state(classes, os.path.abspath(teacher), file_sha256(teacher), pools, shape, seed, preset)
    state["document_root"] = root
    state["pool_sizes_at_init"] = sizes
    save_state(proj, state)
    return state
