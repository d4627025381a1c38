"""`fdal cycle push` and `fdal cycle pull`, and `pick --label-studio-url`: a campaign's rounds
on a Label Studio server (fdal.labelstudio.campaign; docs/workflow.md, "Label Studio").

The API token comes from LABEL_STUDIO_API_KEY only (never the command line, where it would show in
the shell history and the process list). The server's URL is recorded by the first push; later
commands use it unless --label-studio-url gives another.
"""
from __future__ import annotations

import sys

from .common import add_parser, require_dir

URL_HELP = ("the Label Studio server (e.g. http://localhost:8080); token from LABEL_STUDIO_API_KEY. "
            "Default: the server this campaign pushed to before")


def add_url_argument(p) -> None:
    p.add_argument("--label-studio-url", default=None, metavar="URL", help=URL_HELP)


def register(cmds) -> None:
    for name, help_, description, run in (
            ("push", "send the tasks waiting for labels to Label Studio",
             "Create the campaign's Label Studio project on first use (a labeling config with the campaign's\n"
             "classes), let it serve the images from local storage, and send every picked image that waits\n"
             "for labels as a task with the student's prediction. Pushing twice sends nothing twice.",
             run_push),
            ("pull", "import the annotations from Label Studio",
             "Export the campaign's Label Studio project and import it as `fdal cycle import` does (every row\n"
             "checked first; skipped tasks remembered). The export is kept as PROJ/label-studio-export.json.",
             run_pull)):
        p = add_parser(cmds, name, help_, description, f"fdal cycle {name} camp --label-studio-url http://localhost:8080")
        p.add_argument("proj")
        add_url_argument(p)
        p.set_defaults(func=run)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def connected(state: dict, url) -> bool:
    """Whether a pick pushes its round: --label-studio-url given, or the campaign pushed before."""
    return bool(url or (state.get("label_studio") or {}).get("url"))


def push_round(proj, state: dict, url, rnd: int) -> str:
    """After `fdal cycle pick` saved round `rnd`: push it (the caller saves the state after a
    success); a failure saves what it recorded and names the retry command."""
    from fdal.campaign.state import save_state
    from fdal.labelstudio.campaign import connect, push
    try:
        s = push(proj, state, connect(state, url), say=_say)
    except (ValueError, OSError) as exc:
        save_state(proj, state)  # the project id, if it was created: a retry finds it
        raise ValueError(f"round {rnd} is picked but not sent to Label Studio: {exc}; send it with "
                         f"`fdal cycle push {proj}`") from None
    return _pushed_line(state, s)


def _pushed_line(state: dict, s: dict) -> str:
    url = state["label_studio"]["url"]
    return (f"Label Studio: {s['pushed']} tasks sent to project {s['project_id']} ({url}/projects/{s['project_id']}); "
            f"{s['on_server']} in all")


def run_push(args) -> int:
    from fdal.campaign.state import load_state, locked, save_state
    from fdal.labelstudio.campaign import connect, push
    require_dir(args.proj, "campaign")
    with locked(args.proj):
        state = load_state(args.proj)
        try:
            s = push(args.proj, state, connect(state, args.label_studio_url), say=_say)
        finally:
            save_state(args.proj, state)  # what a failed push recorded (project id, task ids) is true
    print(_pushed_line(state, s))
    return 0


def run_pull(args) -> int:
    from fdal.campaign.state import labeled_in_order, load_state, locked, pending, save_state
    from fdal.labelstudio.campaign import connect, pull
    require_dir(args.proj, "campaign")
    with locked(args.proj):
        state = load_state(args.proj)
        counts = pull(args.proj, state, connect(state, args.label_studio_url))
        save_state(args.proj, state)
    print(f"Label Studio project {counts['project_id']}: imported {counts['labeled']} new labels, "
          f"{counts['skipped']} skipped" + (f", {counts['again']} already known" if counts["again"] else "")
          + f"; {len(labeled_in_order(state))} labeled, {len(pending(state))} waiting")
    return 0
