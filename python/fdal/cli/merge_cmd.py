"""`fdal merge`: the parts written by `fdal rank --shard` merged into one ranking, exactly
(fdal.merge_topk; docs/scale-out.md). Runtime only: numpy and the native extension."""
from __future__ import annotations

import sys

import numpy as np

from .common import add_out, add_parser, positive_int, refuse_overwriting_inputs, require_file
from .picks_out import FORMATS, infer_format, write_picks


def register(sub):
    p = add_parser(sub, "merge", "merge sharded rankings (fdal rank --shard) into the top k, exactly",
                   "Merge part files of `fdal rank --shard I/M` into the k best picks of the whole pool: the\n"
                   "same picks as one `fdal rank` over it (ties to the lower pool index). Parts must come from\n"
                   "the same model (sha256), strategy and seed, without overlapping shards; every row of the\n"
                   "pool must be in a part unless --allow-missing. Parts with --device-id are a fleet: the\n"
                   "picks name (device, index or file), best keys first across devices, at most\n"
                   "--per-device-cap C per device. Output like fdal rank's: text (one pick per line;\n"
                   "device<TAB>pick for a fleet), csv/jsonl/npy with columns [device,] file, rank, score;\n"
                   "a .npy of a pool without devices or files: its int64 indices.",
                   "fdal rank student.fdal pool.npy -k 100 --shard 0/4 --out part-0.npz   # ... 1/4, 2/4, 3/4\n"
                   "fdal merge part-*.npz -k 100 --out picks.npy\n"
                   "fdal merge cam-*.npz -k 300 --per-device-cap 50 --out fleet.csv")
    p.add_argument("parts", nargs="+", metavar="PART", help="part files (.npz) from fdal rank --shard")
    p.add_argument("-k", type=positive_int, required=True, help="how many images to pick in all")
    p.add_argument("--per-device-cap", type=positive_int, default=None, metavar="C",
                   help="parts with device ids: at most C picks per device; the rest of the budget goes to "
                        "the next-best images of the other devices")
    p.add_argument("--allow-missing", action="store_true",
                   help="merge the shards given even if some rows of a pool are in no part (the exact top k "
                        "of those shards); by default a missing shard is an error")
    add_out(p, "write the picks here instead of stdout; the format follows the extension (.csv, .jsonl, .npy; "
               "otherwise text)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="text (default), csv, jsonl, npy (columns [device,] file, rank, score; rank 1 is the best)")
    p.set_defaults(func=run_merge)


def run_merge(args) -> int:
    import fdal
    from fdal.part import load_part
    refuse_overwriting_inputs({"--out": args.out}, {"part": args.parts})
    parts = []
    for path in args.parts:
        require_file(path, "part")
        parts.append(load_part(path))
    merged = fdal.merge_topk(parts, args.k, per_device_cap=args.per_device_cap, allow_missing=args.allow_missing)
    fmt = infer_format(args.format, args.out, "text")
    if fmt == "npy" and not args.out:
        raise ValueError("--format npy needs --out FILE.npy")
    if fmt == "npy" and merged.files is None and merged.devices is None:
        np.save(args.out, merged.indices)  # as fdal rank writes a .npy pool's picks: int64 indices
    else:
        names = merged.files if merged.files is not None else [str(i) for i in merged.indices]
        write_picks(names, merged.scores, fmt, args.out, devices=merged.devices)
    if args.out:
        devices = f" from {len(set(merged.devices))} devices" if merged.devices is not None else ""
        print(f"merged {len(parts)} parts: wrote the top {len(merged.indices)} ({merged.strategy}){devices} "
              f"to {args.out}", file=sys.stderr)
    return 0
