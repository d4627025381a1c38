"""Rank 10,000 images with one FDAL student+sampler on one thread: fdal (every kernel path this CPU
runs) against ONNX Runtime fp32, ONNX Runtime int8 (static QDQ, per-channel) and PyTorch fp32 eager.
Prints a markdown table and writes it to docs/performance.md.

    python benchmarks/bench_rank.py [--checkpoint runs/export-parity/fdal.pt] [--n 10000]
           [--batch-size 256] [--repeats 3] [--out docs/performance.md]

Each engine runs in its own subprocess (so its peak resident memory, VmHWM, is its
own), ranks the whole pool `--repeats` times (best time reported) with strategy "fdal": score every
image, return the 10% with the lowest sampler value. Float peers convert uint8 NHWC to float NCHW
/ 255 inside their timed loop; fdal reads the uint8 pixels directly (its lookup table does it).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
JPEG_COPY = os.environ.get("FDAL_CIFAR10_JPEG", os.path.join(os.path.dirname(REPO), "shared", "data", "cifar10-jpeg"))


def _peak_kib() -> int:
    # VmHWM resets at exec; ru_maxrss can carry the forking parent's peak across it, so it is only
    # the fallback where /proc is missing.
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _top_k(keys: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(keys, kind="stable")[:k]


def run_engine(engine: str, work: str, batch_size: int, repeats: int) -> dict:
    """Child process: rank the pool with one engine; returns timing and peak memory."""
    images = np.load(os.path.join(work, "pool.npy"))
    k = len(images) // 10
    if engine.startswith("fdal:"):
        import fdal
        model = fdal.load(os.path.join(work, "model.fdal"), kernels=engine.split(":", 1)[1])

        def rank():
            return fdal.rank_pool(model, images, k, strategy="fdal", batch_size=batch_size)
    elif engine in ("ort-fp32", "ort-int8"):
        sys.path.insert(0, HERE)
        from onnx_peers import session, to_float_nchw
        sess = session(os.path.join(work, "fp32.onnx" if engine == "ort-fp32" else "int8.onnx"))

        def rank():
            keys = [sess.run(["score_logit"], {"x": to_float_nchw(images[s:s + batch_size])})[0]
                    for s in range(0, len(images), batch_size)]
            return _top_k(np.concatenate(keys), k)
    elif engine == "torch-fp32":
        import torch
        torch.set_num_threads(1)
        sys.path.insert(0, HERE)
        from onnx_peers import StudentWithSampler
        model = torch.load(os.path.join(work, "model.pt"), map_location="cpu", weights_only=False)
        assert isinstance(model, StudentWithSampler)
        model.eval()

        def rank():
            with torch.inference_mode():
                keys = [model(torch.from_numpy(images[s:s + batch_size]).permute(0, 3, 1, 2).float().div_(255))[1]
                        for s in range(0, len(images), batch_size)]
            return _top_k(torch.cat(keys).numpy(), k)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    rank()  # warm-up (first-call allocations, lazy initialization)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        top = rank()
        best = min(best, time.perf_counter() - start)
    return {"engine": engine, "seconds": best, "images": len(images), "peak_kib": _peak_kib(),
            "top": top.tolist()}


def _decode(split: str, n: int) -> np.ndarray:
    from io import BytesIO

    from PIL import Image
    d = np.load(os.path.join(JPEG_COPY, f"{split}.npz"))
    jpeg, off = d["jpeg"], d["offsets"]
    return np.stack([np.asarray(Image.open(BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB"))
                     for i in range(n)])


def pool_images(n: int):
    """(pool uint8 NHWC, calibration images, description): CIFAR-10 JPEG copy test split then training
    images when available, else fdal.testing's seeded random images."""
    try:
        test = _decode("test", min(n, 5000))
        train = _decode("train", max(n - len(test), 0) + 1000)
        pool = np.concatenate([test, train[1000:1000 + n - len(test)]])
        return pool, train[:1000], "CIFAR-10 JPEG copy (test split, then training images)"
    except (FileNotFoundError, ImportError, OSError, KeyError):
        from fdal import testing
        return testing.random_images(1, n), testing.random_images(2, 1000), "seeded random images (fdal.testing)"


def _macs(student, sampler) -> int:
    """Multiply-accumulates per image of the float model (Conv2d and Linear), with forward hooks."""
    import torch
    total = [0]

    def hook(m, a, out):
        if isinstance(m, torch.nn.Conv2d):
            total[0] += out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
        else:
            total[0] += m.in_features * m.out_features
    hs = [m.register_forward_hook(hook) for m in list(student.modules()) + list(sampler.modules())
          if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        sampler.logit(student(torch.rand(1, 3, 32, 32))[0])
    for h in hs:
        h.remove()
    return total[0]


def _spec_macs(spec) -> int:
    total = 0
    for layer in spec.layers:
        if layer.op in ("conv2d", "fc"):
            total += int(np.prod(layer.out_shape)) * int(np.prod(layer.weights.shape[1:]))
    return total


def prepare(work: str, checkpoint, n: int):
    import torch

    import fdal.training as ft
    from fdal.training.checkpoint import load_checkpoint
    sys.path.insert(0, HERE)
    from onnx_peers import StudentWithSampler, export_fp32, quantize_int8
    torch.set_num_threads(1)
    pool, calib, data_desc = pool_images(n)
    if checkpoint:
        student, sampler, ckpt = load_checkpoint(checkpoint)
        model_desc = (f"FDAL checkpoint {checkpoint} ({ckpt.get('student_arch')}, {ckpt.get('n_labeled')} labels), "
                      f"calibrated on 1,000 training images")
    else:
        torch.manual_seed(0)
        student, sampler = ft.models.Student().eval(), ft.models.Sampler().eval()
        from fdal import testing
        calib = testing.random_images(2, 1000)
        model_desc = ("freshly initialized Student + Sampler (no checkpoint given; seed 0), calibrated on 1,000 "
                      "seeded random images")
    np.save(os.path.join(work, "pool.npy"), pool)
    spec = ft.export(student, sampler, calib, os.path.join(work, "model.fdal"))
    export_fp32(student, sampler, os.path.join(work, "fp32.onnx"))
    quantize_int8(os.path.join(work, "fp32.onnx"), os.path.join(work, "int8.onnx"), calib)
    torch.save(StudentWithSampler(student, sampler), os.path.join(work, "model.pt"))
    sizes = {"fdal": os.path.getsize(os.path.join(work, "model.fdal")),
             "ort-fp32": os.path.getsize(os.path.join(work, "fp32.onnx")),
             "ort-int8": os.path.getsize(os.path.join(work, "int8.onnx")),
             "torch-fp32": os.path.getsize(os.path.join(work, "model.pt"))}
    return {"data": data_desc, "model": model_desc, "sizes": sizes, "macs_fdal": _spec_macs(spec),
            "macs_float": _macs(student, sampler)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="runner checkpoint (models/*.pt) with student and sampler")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "performance.md"), help="'' to skip writing")
    ap.add_argument("--engine", help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.engine:
        print(json.dumps(run_engine(args.engine, args.work, args.batch_size, args.repeats)))
        return 0

    import fdal
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("FDAL_KERNELS", None)
    with tempfile.TemporaryDirectory(prefix="fdal-bench-") as work:
        meta = prepare(work, args.checkpoint, args.n)
        engines = [f"fdal:{p}" for p in fdal.kernel_paths()] + ["ort-fp32", "ort-int8", "torch-fp32"]
        results = []
        for engine in engines:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--engine", engine, "--work", work,
                                  "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)],
                                 env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{engine} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"{engine}: {results[-1]['images'] / results[-1]['seconds']:,.0f} images/s", file=sys.stderr)
    text = _table(meta, results, args)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


def _table(meta, results, args) -> str:
    import platform
    ref = next((r for r in results if r["engine"].startswith("fdal:")), None)
    lines = [
        "# Ranking throughput: fdal vs ONNX Runtime and PyTorch",
        "",
        f"Command: `python benchmarks/bench_rank.py{' --checkpoint ' + args.checkpoint if args.checkpoint else ''}"
        f" --n {args.n} --batch-size {args.batch_size} --repeats {args.repeats}`",
        "",
        f"- Model: {meta['model']}.",
        f"- Pool: {args.n:,} uint8 32x32x3 images, {meta['data']}; strategy \"fdal\" (top 10% by lowest sampler "
        f"value); one thread; batch {args.batch_size}; best of {args.repeats} timed runs after one warm-up.",
        "- Float peers convert uint8 NHWC to float NCHW / 255 inside the timed loop (fdal reads uint8 directly).",
        "- Peak memory: each engine's own subprocess (VmHWM), which includes the Python "
        f"interpreter, the engine's libraries and the {args.n * 3072 / 2**20:.0f} MiB pool.",
        f"- MACs per image: fdal {meta['macs_fdal']:,} (replication folded into the first Linear); float peers "
        f"{meta['macs_float']:,}.",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs "
        f"(shared; re-run on a quiet machine for final numbers).",
        "",
        "| engine | images/s | µs/image | GMAC/s | peak RSS (MiB) | model file | top-10% overlap with fdal |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ips = r["images"] / r["seconds"]
        is_fdal = r["engine"].startswith("fdal:")
        macs = meta["macs_fdal"] if is_fdal else meta["macs_float"]
        size = meta["sizes"]["fdal" if is_fdal else r["engine"]]
        overlap = len(np.intersect1d(r["top"], ref["top"])) / len(ref["top"]) if ref else float("nan")
        name = f"fdal ({r['engine'].split(':', 1)[1]} kernels)" if is_fdal else {
            "ort-fp32": "ONNX Runtime fp32", "ort-int8": "ONNX Runtime int8 (QDQ, per-channel)",
            "torch-fp32": "PyTorch fp32 eager"}[r["engine"]]
        lines.append(f"| {name} | {ips:,.0f} | {1e6 / ips:.1f} | {macs * ips / 1e9:.2f} | {r['peak_kib'] / 1024:.0f} "
                     f"| {size / 1024:.1f} KiB | {overlap:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
