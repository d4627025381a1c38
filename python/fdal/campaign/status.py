"""`fdal cycle status`: where a campaign stands and what to do next (no pool listing: instant)."""
from __future__ import annotations

from collections import Counter

from .state import labeled_in_order, pending


def next_step(proj, state: dict) -> str:
    rounds, models = state["rounds"], state["models"]
    waiting = pending(state)
    if not rounds:
        return f"fdal cycle pick {proj} -k 200          # round 1: a seeded random draw"
    last = rounds[-1]["round"]
    ls = state.get("label_studio") or {}
    if waiting and ls.get("url"):  # a campaign on a Label Studio server (fdal cycle push / pull)
        unsent = [k for k in waiting if k not in (ls.get("task_ids") or {})]
        if unsent:
            return f"fdal cycle push {proj}          # {len(unsent)} picked images are not in Label Studio yet"
        return (f"label the {len(waiting)} images of round {last} in Label Studio ({ls['url']}/projects/"
                f"{ls['project_id']}), then: fdal cycle pull {proj}")
    if waiting:
        return (f"label the {len(waiting)} images of round {last} (rounds/round-{last}/tasks.json in Label Studio), "
                f"then: fdal cycle import {proj} export.json")
    labeled = labeled_in_order(state)
    if not models or models[-1]["labeled"] != len(labeled) or models[-1]["cycle"] != len(rounds) - 1:
        return f"fdal cycle train {proj}          # the next student on all {len(labeled)} labels"
    return f"fdal cycle pick {proj} -k 200          # round {last + 1}, ranked by {models[-1]['dir']}/student.fdal"


def status_text(proj, state: dict) -> str:
    labeled = labeled_in_order(state)
    per_class = Counter(state["labels"][k] for k in labeled)
    lines = [f"campaign {proj} ({state['id'][:8]}): {len(state['classes'])} classes, "
             f"{len(state['pools'])} pool{'s' * (len(state['pools']) > 1)} "
             f"({', '.join(p['name'] + ' ' + p['kind'] for p in state['pools'])}), seed {state['seed']}, "
             f"recipe {state['preset']}"]
    lines.append(f"labeled {len(labeled)}, skipped {len(state['skipped'])}, waiting for labels {len(pending(state))}")
    lines.append("labels per class: " + ", ".join(f"{c} {per_class.get(c, 0)}" for c in state["classes"]))
    if state["rounds"]:
        lines.append("| round | picked | by | labeled | skipped |")
        lines.append("|---|---|---|---|---|")
        labels, skipped = state["labels"], set(state["skipped"])
        for r in state["rounds"]:
            by = f"first draw ({r['first']})" if r.get("model") is None else f"{r['strategy']} with {r['model']}"
            lines.append(f"| {r['round']} | {len(r['picked'])} | {by} | {sum(k in labels for k in r['picked'])} | "
                         f"{sum(k in skipped for k in r['picked'])} |")
    if state["models"]:
        lines.append("| model | method | labels | epochs | held-out accuracy (float / int8) | float-int8 agreement |")
        lines.append("|---|---|---|---|---|---|")
        for m in state["models"]:
            acc = m.get("heldout_accuracy")
            acc_text = "-" if acc is None else f"{100 * acc['float']:.2f}% / {100 * acc['int8']:.2f}%"
            agree = m.get("top1_agreement")
            lines.append(f"| {m['dir']} | {m['method']} | {m['labeled']} | {m['epochs']} | {acc_text} | "
                         f"{'-' if agree is None else f'{100 * agree:.2f}%'} |")
    ls = state.get("label_studio") or {}
    lines.append(f"task image URLs are relative to {state.get('document_root')} "
                 f"(Label Studio's LOCAL_FILES_DOCUMENT_ROOT)")
    if ls.get("project_id") is not None:
        lines.append(f"Label Studio project {ls['project_id']}" + (f" at {ls['url']}" if ls.get("url") else "")
                     + f", {len(ls.get('task_ids') or {})} tasks pushed")
    lines.append(f"next: {next_step(proj, state)}")
    return "\n".join(lines)
