"""`fdal cycle`: a labeling campaign on your own images (docs/workflow.md).

    fdal cycle init PROJ --pool photos/ --teacher teacher.pt     the campaign folder
    fdal cycle pick PROJ -k 200                                  the next round's picks + Label Studio tasks
    fdal cycle import PROJ export.json                           labels back (Label Studio JSON or file,label CSV)
    fdal cycle push / pull PROJ --label-studio-url URL           the same straight to a Label Studio server
    fdal cycle train PROJ                                        the next student, exported to int8 + a report
    fdal cycle status PROJ                                       where the campaign stands, what to do next
    fdal cycle example DIR                                       generated PNG images to try it on

Every command holds the project's lock while it runs and saves the state atomically at its end.
"""
from __future__ import annotations

import os
import sys

from . import cycle_labelstudio
from .common import add_device, add_parser, add_threads, positive_int, require_dir, require_file, thread_count

DEFAULT_PRESET = "cpu-research"  # the recipe of the project's research results (docs/results.md)


def register(sub):
    p = add_parser(sub, "cycle", "a labeling campaign on your own images: pick, label, import, train",
                   "One short command per step of a real active-learning campaign; the folder PROJ holds\n"
                   "its state, so every step can be interrupted and run again. docs/workflow.md.",
                   "fdal cycle init camp --pool photos/ --teacher teacher.pt\n"
                   "fdal cycle pick camp -k 200\n"
                   "fdal cycle import camp export.json\n"
                   "fdal cycle train camp\n"
                   "fdal cycle status camp")
    cmds = p.add_subparsers(dest="cycle_command", metavar="<step>")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    i = add_parser(cmds, "init", "start a campaign folder",
                   "Create PROJ for a campaign over the --pool folders (JPEG/PNG/BMP, recursive) and .npy files\n"
                   "(uint8 (N, H, W, C)). Images are keyed <pool name>/<relative path> (.npy: <pool name>/<row>).\n"
                   "Class names come from the teacher, or --classes/--classes-file for an older teacher.",
                   "fdal cycle init camp --pool photos/ --pool extra=more.npy --teacher teacher.pt")
    i.add_argument("proj", help="campaign folder (new or empty)")
    i.add_argument("--pool", action="append", required=True, metavar="[NAME=]PATH",
                   help="a folder of images or a .npy file; repeat for several")
    i.add_argument("--teacher", required=True, help="teacher checkpoint from fdal train-teacher")
    i.add_argument("--classes", default=None, help="class names in the teacher's label order: a,b,c")
    i.add_argument("--classes-file", default=None, help="class names, one per line")
    i.add_argument("--image-size", type=positive_int, default=32, help="the student's input size (default 32)")
    i.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"the training recipe: an fdal al preset's (default {DEFAULT_PRESET})")
    i.add_argument("--seed", type=int, default=0, help="the campaign seed (default 0)")
    i.add_argument("--document-root", default=None,
                   help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT that task URLs are relative to "
                        "(default: the common folder of the pools and PROJ)")
    i.set_defaults(func=run_init)

    k = add_parser(cmds, "pick", "pick the next round's images and write Label Studio tasks",
                   "Round 1: a seeded random draw (or --first typicality). Later rounds: rank the pool with the\n"
                   "last student's .fdal (--strategy), leaving out labeled, skipped and pending images.\n"
                   "Writes PROJ/rounds/round-R/picks.csv and tasks.json (with the student's predictions).",
                   "fdal cycle pick camp -k 200 --strategy margin")
    k.add_argument("proj")
    k.add_argument("-k", type=positive_int, required=True, help="images to pick")
    k.add_argument("--strategy", default=None, help="ranking rule from round 2 (default: fdal rank's default)")
    k.add_argument("--first", default="random", choices=["random", "typicality"],
                   help="round 1: the seeded random draw of fdal al (default) or typicality of the teacher's embedding")
    k.add_argument("--candidates", type=positive_int, default=None,
                   help="rank a seeded random subset of this many unlabeled images (fdal al's per-cycle subset); "
                        "default: all of them")
    k.add_argument("--cap", type=positive_int, default=None, help="pool-level rules: candidates ranked (default 10000)")
    k.add_argument("--decode-workers", type=positive_int, default=None, help="decoding processes (default: every core)")
    k.add_argument("--threads", type=thread_count, default=None, help="ranking threads (default: every core, up to 8)")
    cycle_labelstudio.add_url_argument(k)  # push the round's tasks (a campaign that pushed before: always)
    k.set_defaults(func=run_pick)

    m = add_parser(cmds, "import", "import labels: a Label Studio JSON export or a file,label CSV",
                   "Check every row first (pool, classes, campaign, changed files, conflicting labels); a problem\n"
                   "is one error naming the rows and nothing is imported. Skipped tasks are remembered.",
                   "fdal cycle import camp project-1-at-2026-12-08.json")
    m.add_argument("proj")
    m.add_argument("labels", help="Label Studio JSON export, or a CSV with columns file,label")
    m.set_defaults(func=run_import)

    t = add_parser(cmds, "train", "train the next student on all labels, export int8, write a report",
                   "Train the student (+ decoder, + sampler for --method fdal) with the teacher on every label so\n"
                   "far, as fdal al trains a cycle; export PROJ/models/round-R/student.fdal calibrated as the runner\n"
                   "does; compare float and int8; report. A trained round is not trained again (resume).",
                   "fdal cycle train camp --method fdal --heldout labeled_test/")
    t.add_argument("proj")
    t.add_argument("--method", default="fdal", choices=["kd", "fdal"],
                   help="fdal (default: distillation + adversarial sampler) or kd (distillation only)")
    t.add_argument("--epochs", type=positive_int, default=None, help="override the recipe's epochs (schedule scaled)")
    t.add_argument("--heldout", default=None, metavar="DIR",
                   help="a labeled folder DIR/<class name>/<images> to measure accuracy on")
    add_device(t)
    add_threads(t)
    t.set_defaults(func=run_train)

    s = add_parser(cmds, "status", "rounds, labels per class, models and the next step",
                   "Print the campaign's state and the command to run next.", "fdal cycle status camp")
    s.add_argument("proj")
    s.set_defaults(func=run_status)

    e = add_parser(cmds, "example", "write generated PNG images to try a campaign on (docs/workflow.md)",
                   "Write DIR/photos/*.png (the quickstart's generated shapes, 10 classes), DIR/heldout/<class>/\n"
                   "and DIR/truth.csv (file,label: the answers of a simulated annotator).",
                   "fdal cycle example demo --images 3000")
    e.add_argument("dir", help="a new folder")
    e.add_argument("--images", type=positive_int, default=3000, help="pool images (default 3000)")
    e.add_argument("--heldout", type=positive_int, default=500, help="held-out images (default 500)")
    e.set_defaults(func=run_example)

    cycle_labelstudio.register(cmds)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def run_init(args) -> int:
    from fdal.campaign.create import choose_classes, create_campaign, read_class_names
    from fdal.campaign.state import locked
    from .train import _check_teacher_file
    require_file(args.teacher, "--teacher")
    _check_teacher_file(args.teacher)
    given = read_class_names(args.classes, args.classes_file)
    from .errors import require_torch
    require_torch()
    from fdal.training.protocols import get_protocol
    from fdal.training.teacher import load_teacher
    get_protocol(args.preset)  # an unknown preset fails before anything is written
    teacher = load_teacher(args.teacher)
    classes = choose_classes(given, teacher.classes, teacher.num_classes, args.teacher)
    os.makedirs(args.proj, exist_ok=True)
    with locked(args.proj):
        state = create_campaign(args.proj, args.pool, args.teacher, classes, args.image_size, args.seed,
                                args.preset, args.document_root)
    sizes = ", ".join(f"{n} {c:,} images" for n, c in state["pool_sizes_at_init"].items())
    print(f"campaign {args.proj}: {len(classes)} classes ({', '.join(classes)}); pools: {sizes}\n"
          f"next: fdal cycle pick {args.proj} -k 200")
    return 0


def run_pick(args) -> int:
    from fdal.campaign.pick import pick
    from fdal.campaign.state import load_state, locked, save_state
    require_dir(args.proj, "campaign")
    with locked(args.proj):
        state = load_state(args.proj)
        threads = args.threads or max(1, min(os.cpu_count() or 1, 8))
        s = pick(args.proj, state, args.k, strategy=args.strategy, first=args.first, candidates=args.candidates,
                 cap=args.cap, workers=args.decode_workers, threads=threads, progress=sys.stderr.isatty(), say=_say)
        save_state(args.proj, state)
        pushed = None
        if cycle_labelstudio.connected(state, args.label_studio_url):
            pushed = cycle_labelstudio.push_round(args.proj, state, args.label_studio_url, s["round"])
            save_state(args.proj, state)
    print(f"round {s['round']}: picked {s['picked']} of {s['available']:,} unlabeled images; "
          f"picks {s['picks']}, Label Studio tasks {s['tasks']}")
    if pushed:
        print(pushed)
    return 0


def run_import(args) -> int:
    from fdal.campaign.labels import import_labels
    from fdal.campaign.state import labeled_in_order, load_state, locked, pending, save_state
    require_dir(args.proj, "campaign")
    require_file(args.labels, "labels")
    with locked(args.proj):
        state = load_state(args.proj)
        counts = import_labels(state, args.labels)
        save_state(args.proj, state)
    print(f"imported {counts['labeled']} new labels, {counts['skipped']} skipped"
          + (f", {counts['again']} already known" if counts["again"] else "")
          + (f", {counts['unanswered']} tasks not yet annotated" if counts["unanswered"] else "")
          + f"; {len(labeled_in_order(state))} labeled, {len(pending(state))} waiting")
    return 0


def run_train(args) -> int:
    from .common import torch_setup
    from fdal.campaign.state import load_state, locked, save_state
    require_dir(args.proj, "campaign")
    if args.heldout is not None:
        require_dir(args.heldout, "--heldout")
    torch, device = torch_setup(args)
    from fdal.training.campaign.train import train_round
    with locked(args.proj):
        state = load_state(args.proj)
        rec = train_round(args.proj, state, method=args.method, epochs=args.epochs, heldout=args.heldout,
                          device=device, progress=sys.stderr.isatty(), say=_say)
        save_state(args.proj, state)
    print(f"{rec['dir']}: {rec['method']} student on {rec['labeled']} labels; report {rec['dir']}/report.md\n"
          f"next: fdal cycle pick {args.proj} -k 200")
    return 0


def run_example(args) -> int:
    from .errors import require_torch
    require_torch()
    from fdal.training.campaign.example import write_example
    r = write_example(args.dir, args.images, args.heldout)
    print(f"wrote {r['images']:,} unlabeled PNG images to {r['photos']}, {r['heldout']} held-out images in "
          f"{args.dir}/heldout/<class>/ and the true labels in {args.dir}/truth.csv\n"
          f"classes: {', '.join(r['classes'])}\n"
          f"a teacher for them: fdal train-teacher --dataset synthetic --arch small --epochs 10 --out teacher.pt")
    return 0


def run_status(args) -> int:
    from fdal.campaign.state import load_state
    from fdal.campaign.status import status_text
    require_dir(args.proj, "campaign")
    print(status_text(args.proj, load_state(args.proj)))  # read-only: no lock needed
    return 0
