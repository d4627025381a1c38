"""`fdal info`: what is inside a .fdal file. numpy only: works without PyTorch and without the
native extension (it uses fdal.format's independent, validating reader)."""
from __future__ import annotations

import json
import os

import numpy as np

from .common import add_parser, require_file


def register(sub):
    p = add_parser(sub, "info", "print a .fdal file's layers, shapes, quantization and sizes",
                   "Validate a .fdal file (every rule of docs/format.md) and describe it.",
                   "fdal info student.fdal\n  fdal info student.fdal --json")
    p.add_argument("model", help=".fdal model file")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run_info)


def _array_bytes(layer) -> int:
    arrays = (layer.weights, layer.bias, layer.multiplier, layer.shift, layer.weight_scale)
    return sum(a.nbytes for a in arrays if a is not None)


def _macs(layer) -> int:
    oh, ow, oc = layer.out_shape
    if layer.op == "conv2d":
        kh, kw = layer.kernel
        return oh * ow * oc * kh * kw * layer.in_shape[2]
    if layer.op == "fc":
        return oc * int(np.prod(layer.in_shape))
    return 0


def _needed_by(spec, outputs) -> set:
    """Indices of the layers that the given output layers read, directly or not (themselves included)."""
    needed, todo = set(), [i for i in outputs if i >= 0]
    while todo:
        i = todo.pop()
        if i not in needed:
            needed.add(i)
            if spec.layers[i].input >= 0:
                todo.append(spec.layers[i].input)
    return needed


def embedding_branch_layers(spec) -> list:
    """The layers only the embedding needs (its own branch, e.g. an exported decoder); [] when the
    embedding is a tensor the heads compute anyway (the student's z) or there is none."""
    if spec.embedding_layer < 0:
        return []
    return sorted(_needed_by(spec, [spec.embedding_layer]) - _needed_by(spec, [spec.logits_layer, spec.score_layer]))


def _embedding(spec, layers) -> dict:
    """The embedding output: its layer, size, quantization, and the MACs only it needs (its own branch)."""
    i = spec.embedding_layer
    if i < 0:
        return None
    layer = spec.layers[i]
    own = embedding_branch_layers(spec)
    return {"layer": i, "op": layer.op, "shape": list(layer.out_shape), "dim": int(np.prod(layer.out_shape)),
            "scale": float(layer.out_scale), "zero_point": int(layer.out_zero_point),
            "branch_layers": own, "branch_macs": sum(layers[j]["macs"] for j in own)}


def describe(path: str) -> dict:
    """A JSON-ready description of the model at `path` (raises fdal.FormatError if invalid)."""
    from fdal import format as fmt
    require_file(path, "model")
    spec = fmt.read_model(path)
    heads = {spec.logits_layer: "logits", spec.score_layer: "score"}
    layers = []
    for i, layer in enumerate(spec.layers):
        layers.append({
            "index": i, "op": layer.op, "input": layer.input, "in_shape": list(layer.in_shape),
            "out_shape": list(layer.out_shape), "kernel": list(layer.kernel), "stride": list(layer.stride),
            "pad": list(layer.pad), "out_kind": layer.out_kind, "out_scale": float(layer.out_scale),
            "out_zero_point": int(layer.out_zero_point), "relu": layer.out_kind == "int8"
            and layer.act_min == layer.out_zero_point and layer.op in ("conv2d", "fc"),
            "bytes": _array_bytes(layer), "macs": _macs(layer),
            "head": heads.get(i, "embedding" if i == spec.embedding_layer else None)})
    desc = {
        "file": path, "file_bytes": os.path.getsize(path), "format_version": list(spec.version),
        "input_shape": list(spec.input_shape), "num_classes": spec.num_classes,
        "input_scale": float(spec.input_scale), "input_zero_point": int(spec.input_zero_point),
        "mean": [float(v) for v in spec.mean], "std": [float(v) for v in spec.std],
        "has_sampler": spec.score_layer >= 0, "embedding": _embedding(spec, layers), "layers": layers,
        "weight_bytes": sum(layer["bytes"] for layer in layers),
        "macs_per_image": sum(layer["macs"] for layer in layers),
    }
    try:  # the arena size is the native planner's answer; optional here
        import fdal
        desc["arena_bytes"] = int(fdal.load(path).info["arena_bytes"])
    except ImportError:
        pass
    return desc


def _shape(s) -> str:
    return "x".join(str(v) for v in s)


def format_description(d: dict) -> str:
    lines = [f"{d['file']}: fdal format {d['format_version'][0]}.{d['format_version'][1]}, "
             f"{d['file_bytes']:,} bytes",
             f"input: uint8 {_shape(d['input_shape'])} (HWC) -> int8 scale {d['input_scale']:.6g}, "
             f"zero point {d['input_zero_point']}; mean {_floats(d['mean'])}, std {_floats(d['std'])}",
             f"heads: logits ({d['num_classes']} classes)" + (", score (sampler)" if d["has_sampler"] else ""),
             _embedding_line(d["embedding"]),
             "",
             f"{'#':>2} {'op':<8} {'in':>3} {'input':>9} -> {'output':<9} {'kernel/stride':<13} "
             f"{'out scale':>10} {'zp':>4} {'out':<9} {'bytes':>8} {'MACs':>9}"]
    for layer in d["layers"]:
        geo = ""
        if layer["op"] in ("conv2d", "maxpool", "avgpool"):
            geo = f"{_shape(layer['kernel'])}/{_shape(layer['stride'])}"
        kind = layer["out_kind"] + ("+relu" if layer["relu"] else "")
        head = f"  <- {layer['head']}" if layer["head"] else ""
        lines.append(f"{layer['index']:>2} {layer['op']:<8} {layer['input']:>3} {_shape(layer['in_shape']):>9} -> "
                     f"{_shape(layer['out_shape']):<9} {geo:<13} {layer['out_scale']:>10.4g} "
                     f"{layer['out_zero_point']:>4} {kind:<9} {layer['bytes']:>8,} {layer['macs']:>9,}{head}")
    lines += ["", f"weights, biases, multipliers: {d['weight_bytes']:,} bytes; "
                  f"{d['macs_per_image']:,} multiply-accumulates per image"]
    if "arena_bytes" in d:
        lines.append(f"activation arena (native planner): {d['arena_bytes']:,} bytes")
    return "\n".join(lines)


def _embedding_line(e) -> str:
    if e is None:
        return "embedding: none (re-export with `fdal export` to add one)"
    cost = (f"its own branch (layers {', '.join(map(str, e['branch_layers']))}): {e['branch_macs']:,} MACs per image"
            if e["branch_layers"] else "no extra MACs (a tensor the heads already compute)")
    return (f"embedding: layer {e['layer']} ({e['op']}), {e['dim']} int8 values ({_shape(e['shape'])}, NHWC order), "
            f"scale {e['scale']:.6g}, zero point {e['zero_point']}; {cost}")


def _floats(values) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in values) + ")"


def run_info(args) -> int:
    d = describe(args.model)
    print(json.dumps(d, indent=1) if args.json else format_description(d))
    return 0
