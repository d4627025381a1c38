"""Writing `fdal rank`'s picks: csv, jsonl or npy with columns file, rank, score; Label Studio tasks;
and reading an --exclude list of already-labeled files."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import List, Optional, Sequence

import numpy as np

FORMATS = ("text", "csv", "jsonl", "npy")
LABEL_STUDIO_PREFIX = "/data/local-files/?d="


def infer_format(fmt: Optional[str], out: Optional[str], default: str) -> str:
    """--format if given, else from --out's extension (.csv, .jsonl, .npy; anything else: text), else default."""
    if fmt:
        return fmt
    if out:
        ext = os.path.splitext(out)[1].lower()
        return {".csv": "csv", ".jsonl": "jsonl", ".npy": "npy"}.get(ext, "text")
    return default


def rows(files: Sequence[str], scores, devices: Optional[Sequence[str]] = None) -> List[dict]:
    """One dict per pick, best first; rank 1 is the best; with devices (fdal merge of a fleet), each
    pick's device first."""
    out = [{"file": f, "rank": i + 1, "score": float(s)} for i, (f, s) in enumerate(zip(files, scores))]
    if devices is not None:
        out = [{"device": d, **p} for d, p in zip(devices, out)]
    return out


def write_picks(files: Sequence[str], scores, fmt: str, out: Optional[str],
                devices: Optional[Sequence[str]] = None) -> None:
    """Write the picks in `fmt` to `out` (stdout when None; npy needs a file). devices: a device
    column before file (text: device and file separated by a tab)."""
    picks = rows(files, scores, devices)
    columns = (["device"] if devices is not None else []) + ["file", "rank", "score"]
    if fmt == "npy":
        if not out:
            raise ValueError("--format npy needs --out FILE.npy")
        width = max([len(p["file"]) for p in picks] + [1])
        dtype = [("file", f"U{width}"), ("rank", np.int64), ("score", np.float64)]
        if devices is not None:
            dtype.insert(0, ("device", f"U{max([len(p['device']) for p in picks] + [1])}"))
        arr = np.array([tuple(p[c] for c in columns) for p in picks], dtype=dtype)
        np.save(out, arr)  # a structured array: np.load(out)["file"], no pickle needed
        return
    buf = io.StringIO()
    if fmt == "csv":
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows({**p, "score": repr(p["score"])} for p in picks)
    elif fmt == "jsonl":
        buf.write("".join(json.dumps(p) + "\n" for p in picks))
    elif fmt == "text":
        buf.write("".join((f"{p['device']}\t" if devices is not None else "") + f"{p['file']}\n" for p in picks))
    else:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out:
        # surrogateescape: a file name that is not UTF-8 (bytes from a camera's FAT card) is written
        # back as the same bytes, as stdout does, instead of failing.
        with open(out, "w", newline="", errors="surrogateescape") as f:
            f.write(buf.getvalue())
    else:
        sys.stdout.write(buf.getvalue())


def write_label_studio(files: Sequence[str], scores, out: str, prefix: str = LABEL_STUDIO_PREFIX) -> None:
    """Label Studio import tasks, one per pick: {"data": {"image": prefix + file}, "meta": {...}}.
    With the default prefix, `file` must be relative to LOCAL_FILES_DOCUMENT_ROOT (docs/images.md)."""
    tasks = [{"data": {"image": prefix + p["file"]}, "meta": {"rank": p["rank"], "score": p["score"]}}
             for p in rows(files, scores)]
    with open(out, "w") as f:
        json.dump(tasks, f, indent=1)
        f.write("\n")


def read_exclude(path: str) -> set:
    """Names already labeled: a csv with a `file` column, or a text file of one name per line."""
    from .common import require_file
    require_file(path, "exclude list")
    with open(path, newline="", errors="surrogateescape") as f:  # names that are not UTF-8, as written
        text = f.read()
    first = text.splitlines()[0] if text.strip() else ""
    if path.lower().endswith(".csv") or "file" in [c.strip() for c in first.split(",")]:
        reader = csv.DictReader(io.StringIO(text))
        if "file" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: a csv exclude list needs a 'file' column, got {reader.fieldnames}")
        names = [row["file"] for row in reader]
    else:
        names = text.splitlines()
    return {n.strip().replace(os.sep, "/") for n in names if n.strip()}
