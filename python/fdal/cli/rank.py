"""`fdal rank` (the k most informative images of a pool) and `fdal bench` (ranking speed).
Runtime only: numpy and the native extension, no PyTorch."""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from .common import (add_out, add_parser, add_seed, count_list, load_model, positive_int, raw_shape,
                     refuse_overwriting_inputs, require_file, thread_count)
from .picks_out import FORMATS, LABEL_STUDIO_PREFIX, infer_format, read_exclude, write_label_studio, write_picks
from .pools import batches_with_progress, load_pool


DEFAULT_BENCH_IMAGES = 10_000


def register(sub):
    from fdal.strategies import DEFAULT_CAP, POOL_STRATEGIES, STRATEGIES
    strategy_help = f"one of {', '.join(STRATEGIES)} (default fdal)"
    cap_help = (f"{', '.join(POOL_STRATEGIES)}: rank at most this many seeded candidates "
                f"(default {DEFAULT_CAP}; memory cap x embedding dim bytes)")
    p = add_parser(sub, "rank", "rank a pool of raw images (or a folder of image files) with an int8 model",
                   "Print (or write) the k most informative images of POOL, best first.\n"
                   "POOL: a .npy uint8 array (N, H, W, C) or (N, C, H, W), or a raw file of N*H*W*C bytes with\n"
                   "--raw HxWxC (a regular file, not a pipe; for an .npz, save the array: np.save('pool.npy', np.load(f)['x']);\n"
                   "output: pool indices), or a folder (searched recursively) or quoted glob of JPEG/PNG/BMP\n"
                   "files of any size (output: file names, csv with file,rank,score by default; needs\n"
                   "pip install \"fdal[images]\"). Image files are turned upright (EXIF), converted to the\n"
                   "model's channels (16-bit scaled, transparency over white) and resized to its H x W with\n"
                   "Pillow BILINEAR, reducing_gap=2.0; unreadable files are skipped with a warning and the reason.\n"
                   "Nothing given as input is ever overwritten by --out.\n"
                   "See docs/images.md.",
                   "fdal rank student.fdal pool.npy -k 100 --strategy fdal --out picks.npy\n"
                   "fdal rank student.fdal photos/ -k 100 --exclude labeled.csv --out picks.csv "
                   "--label-studio tasks.json")
    p.add_argument("model", help=".fdal model file")
    p.add_argument("pool", help="pool of images: .npy, raw uint8 bytes, a folder or a glob of image files")
    p.add_argument("-k", type=positive_int, required=True, help="how many images to pick")
    p.add_argument("--strategy", default="fdal", help=strategy_help)
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--raw", type=raw_shape, default=None, metavar="HxWxC",
                   help="shape of each image of a raw pool; must match the model's input (checked)")
    p.add_argument("--layout", choices=["auto", "nhwc", "nchw"], default="auto", help="layout of a .npy pool")
    p.add_argument("--threads", type=thread_count, default=1, help="runtime threads (default 1; same result)")
    p.add_argument("--cap", type=positive_int, default=DEFAULT_CAP, help=cap_help)
    p.add_argument("--labeled-counts", type=count_list, default=None, metavar="N0,N1,...",
                   help="classbalanced: how many images of each class are labeled already (one count per "
                        "class of the model), so the picks fill the least labeled classes first")
    add_seed(p)
    add_out(p, "write the picks here instead of stdout; the format follows the extension (.csv, .jsonl, "
               ".npy; a .npy pool's .npy: its int64 indices; otherwise text, one per line)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="text (one index or file per line; default for .npy/raw pools), csv (default for "
                        "image folders), jsonl (csv and jsonl: columns file, rank, score; rank 1 is the best), "
                        "npy (image folders: a structured array with those columns; .npy/raw pools: the int64 "
                        "indices)")
    p.add_argument("--exclude", default=None, metavar="FILE",
                   help="image files already labeled, left out before ranking: one name per line, or a csv "
                        "with a 'file' column (names as fdal rank prints them, or paths; how many matched is "
                        "printed)")
    p.add_argument("--label-studio", default=None, metavar="OUT.json",
                   help="also write Label Studio import tasks for the picks (image folders only)")
    p.add_argument("--label-studio-prefix", default=LABEL_STUDIO_PREFIX,
                   help=f"prefix of each task's image URL (default {LABEL_STUDIO_PREFIX!r}: Label Studio's "
                        "local files, relative to LOCAL_FILES_DOCUMENT_ROOT)")
    p.add_argument("--decode-workers", type=positive_int, default=1,
                   help="threads decoding image files (default 1; same order and result)")
    p.add_argument("--shard", default=None, metavar="I/M",
                   help="rank only shard I of M (counted from 0: rows floor(I*N/M) .. floor((I+1)*N/M)-1 of "
                        "the pool, or of a folder's sorted files) into a part file --out PART.npz, keeping "
                        "the whole pool's indices; `fdal merge` merges the parts exactly (docs/scale-out.md)")
    p.add_argument("--device-id", default=None, metavar="NAME",
                   help="with --shard: the device whose pool this is, so `fdal merge` can merge parts of "
                        "several devices' pools (indices are then per device)")
    p.set_defaults(func=run_rank)

    b = add_parser(sub, "bench", "measure how fast a model ranks images on this machine",
                   "Time model.forward and fdal.rank_pool on random images (or on --pool); best of --repeat.",
                   "fdal bench student.fdal -n 10000 --batch-size 256 --strategy fdal")
    b.add_argument("model", help=".fdal model file")
    b.add_argument("--pool", default=None, help="time on these images (.npy or raw) instead of random ones")
    b.add_argument("--raw", type=raw_shape, default=None, metavar="HxWxC",
                   help="shape of each image of a raw --pool; must match the model's input (checked)")
    b.add_argument("--layout", choices=["auto", "nhwc", "nchw"], default="auto", help="layout of a .npy --pool")
    b.add_argument("-n", type=positive_int, default=None,
                   help=f"images to rank: random ones (default {DEFAULT_BENCH_IMAGES}), or the first n of --pool "
                        "(default: all of it)")
    b.add_argument("--batch-size", type=positive_int, default=256)
    b.add_argument("--strategy", default="fdal", help=strategy_help)
    b.add_argument("-k", type=positive_int, default=None, help="images picked (default 10%% of the pool)")
    b.add_argument("--repeat", type=positive_int, default=3, help="time this many runs, report the best (default 3)")
    b.add_argument("--threads", type=thread_count, default=1, help="runtime threads (default 1)")
    b.add_argument("--cap", type=positive_int, default=DEFAULT_CAP, help=cap_help)
    add_seed(b)
    b.set_defaults(func=run_bench)


def run_rank(args) -> int:
    import fdal
    from fdal.image_folder import is_image_source
    if args.shard is not None or args.device_id is not None:
        return rank_shard(args)
    model = load_model(args.model)
    if is_image_source(args.pool) and not args.pool.lower().endswith(".npy"):
        return rank_folder(args, model)
    if args.exclude or args.label_studio:
        raise ValueError("--exclude and --label-studio work on folders of image files, not on a .npy/raw pool")
    refuse_overwriting_inputs({"--out": args.out}, {"model": args.model, "pool": args.pool})
    pool = load_pool(args.pool, model.input_shape, args.layout, args.raw)
    # rank_pool checks the arguments (strategy and sampler before reading any image).
    t0 = time.perf_counter()
    picks, scores = fdal.rank_pool(model, batches_with_progress(pool, args.batch_size, "ranking"), args.k,
                                   strategy=args.strategy, batch_size=args.batch_size, seed=args.seed,
                                   threads=args.threads, cap=args.cap, labeled_counts=args.labeled_counts,
                                   return_scores=True)
    seconds = time.perf_counter() - t0
    fmt = infer_format(args.format, args.out, "text")
    if fmt in ("csv", "jsonl"):  # file = the pool index; score = the key the ranker compared
        write_picks([str(i) for i in picks], scores, fmt, args.out)
    elif fmt == "npy" and not args.out:
        raise ValueError("--format npy needs --out FILE.npy")
    elif args.out:
        if fmt == "npy":  # a .npy pool's picks stay a plain int64 index array, as before
            np.save(args.out, picks)
        else:
            with open(args.out, "w") as f:
                f.write("".join(f"{i}\n" for i in picks))
        print(f"ranked {len(pool):,} images in {seconds:.2f} s ({len(pool) / seconds:,.0f} images/s); "
              f"wrote the top {args.k} ({args.strategy}) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write("".join(f"{i}\n" for i in picks))
    return 0


def rank_folder(args, model) -> int:
    """`fdal rank MODEL FOLDER_OR_GLOB`: picks named by file, streamed in bounded memory."""
    import fdal
    from fdal.image_folder import IMAGE_EXTENSIONS, ImageFolder, NoImages, list_images, relative_name, require_pillow
    require_pillow()  # the one-line install hint before any listing
    fmt = infer_format(args.format, args.out, "csv")
    if fmt == "npy" and not args.out:
        raise ValueError("--format npy needs --out FILE.npy")
    files = list_images(args.pool, on_error=warn_unlisted)
    if args.exclude:
        files = apply_exclude(files, args.pool, args.exclude)
        if not files:
            raise NoImages(f"every image file in {args.pool} is in the exclude list {args.exclude}")

    outputs = {"--out": args.out, "--label-studio": args.label_studio}
    # Only a name with an image extension can be one of the images (resolving a million names costs).
    images = files if any(o and o.lower().endswith(IMAGE_EXTENSIONS) for o in outputs.values()) else []
    refuse_overwriting_inputs(outputs, {"model": args.model, "exclude list": args.exclude, "image": images})
    if args.out and args.label_studio and os.path.realpath(args.out) == os.path.realpath(args.label_studio):
        raise ValueError(f"--out and --label-studio name the same file {args.out}: give two files")

    def warn(path):
        print(f"fdal: warning: skipping unreadable image {path}: {folder.reasons[path]}", file=sys.stderr)

    folder = ImageFolder(files, model.input_shape, workers=args.decode_workers, on_skip=warn)
    t0 = time.perf_counter()
    try:
        picks, scores = fdal.rank_pool(model, folder.batches(), args.k, strategy=args.strategy,
                                       batch_size=args.batch_size, seed=args.seed, threads=args.threads,
                                       cap=args.cap, labeled_counts=args.labeled_counts, return_scores=True)
    except ValueError:
        if not folder.names and len(folder.skipped) == len(files):
            first = folder.skipped[0]
            raise NoImages(f"none of the {len(files):,} image files in {args.pool} could be read; the first, "
                           f"{first}: {folder.reasons[first]}") from None
        raise
    seconds = time.perf_counter() - t0
    picked = [folder.names[i] for i in picks]  # each file decoded once, while ranking
    names = [relative_name(f, args.pool) for f in picked]
    write_picks(names, scores, fmt, args.out)
    if args.label_studio:
        write_label_studio(names, scores, args.label_studio, args.label_studio_prefix)
    if folder.skipped:
        print(f"fdal: skipped {len(folder.skipped)} unreadable files", file=sys.stderr)
    if args.out:
        n = len(folder.names)
        print(f"ranked {n:,} images in {seconds:.2f} s ({n / seconds:,.0f} images/s, decoding included); "
              f"wrote the top {args.k} ({args.strategy}) to {args.out}", file=sys.stderr)
    return 0


def warn_unlisted(exc: OSError) -> None:
    print(f"fdal: warning: skipping folder {exc.filename}: {exc.strerror} (its images are not in the pool)",
          file=sys.stderr)


def apply_exclude(files, source: str, exclude: str) -> list:
    """`files` without those named in the exclude list. An entry names a file as `fdal rank` prints
    it (relative to the folder), relative to the working directory, or by absolute path, with or
    without ./ and symlinks: both sides are compared by the file they resolve to. Says how many
    entries matched; an error when none did (a list written against another folder or cwd)."""
    from fdal.image_folder import NoImages, relative_name
    entries = sorted(read_exclude(exclude))
    by_real = {os.path.realpath(f): f for f in files}
    base = source if os.path.isdir(source) else os.curdir
    excluded, unmatched = set(), []
    for entry in entries:
        local = entry.replace("/", os.sep)
        hit = next((by_real[r] for r in (os.path.realpath(os.path.join(base, local)), os.path.realpath(local))
                    if r in by_real), None)
        if hit is None:
            unmatched.append(entry)
        else:
            excluded.add(hit)
    if entries and not excluded:
        raise NoImages(f"none of the {len(entries):,} entries of the exclude list {exclude} names an image file of "
                       f"{source} (e.g. {entries[0]!r}; names are relative to the folder, as fdal rank prints "
                       f"them, e.g. {relative_name(files[0], source)!r}, or absolute paths)")
    note = f"; {len(unmatched):,} name no image file of {source} (e.g. {unmatched[0]!r})" if unmatched else ""
    print(f"fdal: excluded {len(excluded):,} images: {len(entries) - len(unmatched):,} of the {len(entries):,} "
          f"entries of {exclude} matched{note}", file=sys.stderr)
    return [f for f in files if f not in excluded]


def rank_shard(args) -> int:
    """`fdal rank ... --shard I/M --out PART.npz`: one shard's ranking as a part file (fdal.part)."""
    import fdal
    from fdal.image_folder import is_image_source, list_images, relative_name, require_pillow
    from fdal.shard import parse_shard, rank_folder_shard, shard_range
    if args.shard is None:
        raise ValueError("--device-id names the device of a part file: use it with --shard I/M "
                         "(--shard 0/1 for a whole pool)")
    try:
        shard = parse_shard(args.shard)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    if args.device_id is not None and (not args.device_id.strip() or not args.device_id.isprintable()):
        raise ValueError(f"--device-id must be a non-empty printable name, got {args.device_id!r}")
    if not args.out or not args.out.lower().endswith(".npz"):
        raise ValueError("--shard writes a part file for `fdal merge`: give --out PART.npz")
    for flag, value in (("--format", args.format), ("--exclude", args.exclude), ("--label-studio", args.label_studio)):
        if value:
            raise ValueError(f"{flag} does not apply with --shard (a part file is written; `fdal merge` "
                             f"writes the picks)")
    refuse_overwriting_inputs({"--out": args.out}, {"model": args.model, "pool": args.pool})
    model = load_model(args.model)
    options = dict(strategy=args.strategy, seed=args.seed, batch_size=args.batch_size, threads=args.threads,
                   cap=args.cap, labeled_counts=args.labeled_counts, device_id=args.device_id)
    t0 = time.perf_counter()
    if is_image_source(args.pool) and not args.pool.lower().endswith(".npy"):
        require_pillow()
        files = list_images(args.pool, on_error=warn_unlisted)
        names = [relative_name(f, args.pool) for f in files]
        part = rank_folder_shard(model, files, names, args.k, shard, decode_workers=args.decode_workers, **options)
    else:
        pool = load_pool(args.pool, model.input_shape, args.layout, args.raw)
        part = fdal.rank_shard(model, pool, args.k, shard, **options)
    seconds = time.perf_counter() - t0
    part.save(args.out)
    start, stop = shard_range(part.pool_size, *shard)
    what = "candidates" if part.pool_level else "picks"
    rows = f"rows {start}..{stop - 1}" if stop > start else "no rows"
    print(f"ranked shard {shard[0]}/{shard[1]} ({rows} of {part.pool_size:,}) in {seconds:.2f} s; "
          f"wrote {len(part.indices)} {what} ({args.strategy}) to {args.out}", file=sys.stderr)
    return 0


class TiledImages:
    """`n` images that repeat `distinct` in order, sliced on demand: `fdal bench -n 100000000` needs
    no 300 GB array (np.resize would allocate it)."""

    def __init__(self, distinct: np.ndarray, n: int):
        self.distinct, self.n = distinct, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.n)
        return self.distinct.take(np.arange(start, stop) % len(self.distinct), axis=0)


def measure(model, pool, k: int, strategy: str, batch_size: int, repeat: int, seed: int = 0,
            threads: int = 1, cap: int | None = None) -> dict:
    """Best-of-`repeat` seconds for forward over the pool (an array or TiledImages) and for
    rank_pool; images/s of each."""
    import fdal
    forward_s, rank_s = [], []

    def batches():
        return (pool[start:start + batch_size] for start in range(0, len(pool), batch_size))

    for _ in range(repeat):
        # rank_pool first: it checks strategy and k before any time is spent.
        t0 = time.perf_counter()
        extra = {} if cap is None else {"cap": cap}
        fdal.rank_pool(model, pool if isinstance(pool, np.ndarray) else batches(), k, strategy=strategy,
                       batch_size=batch_size, seed=seed, threads=threads, **extra)
        rank_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for batch in batches():
            model.forward(batch, threads=threads)
        forward_s.append(time.perf_counter() - t0)
    n = len(pool)
    return {"images": n, "forward_s": min(forward_s), "rank_s": min(rank_s),
            "forward_images_per_s": n / min(forward_s), "rank_images_per_s": n / min(rank_s)}


def run_bench(args) -> int:
    import fdal
    from fdal.testing import random_images
    model = load_model(args.model)
    if args.pool:
        pool = load_pool(args.pool, model.input_shape, args.layout, args.raw)
        if args.n is not None:  # the first n images of the pool
            if args.n > len(pool):
                raise ValueError(f"-n {args.n:,} is more than the {len(pool):,} images of {args.pool}")
            pool = pool[:args.n]
        pool = np.ascontiguousarray(pool)
        source = args.pool if args.n is None else f"first images of {args.pool}"
    else:
        n = DEFAULT_BENCH_IMAGES if args.n is None else args.n
        # At most 1000 distinct images, repeated to -n: generating them stays tiny next to the timing.
        distinct = random_images(args.seed, min(n, 1000), model.input_shape)
        pool = distinct if n <= len(distinct) else TiledImages(distinct, n)
        source = f"random images (seed {args.seed})"
    k = args.k or max(1, len(pool) // 10)
    r = measure(model, pool, k, args.strategy, args.batch_size, args.repeat, args.seed, args.threads, args.cap)
    info = model.info
    print(f"model {args.model}: {info['file_bytes']:,} bytes, kernels {info.get('kernels', '?')}, "
          f"{args.threads} thread{'s' * (args.threads > 1)}")
    print(f"pool: {len(pool):,} {source}, batch {args.batch_size}, best of {args.repeat}\n")
    print("| step | seconds | images/s |\n|---|---|---|")
    print(f"| forward | {r['forward_s']:.3f} | {r['forward_images_per_s']:,.0f} |")
    print(f"| rank_pool ({args.strategy}, k={k}) | {r['rank_s']:.3f} | {r['rank_images_per_s']:,.0f} |")
    return 0
