"""Lower a PyTorch student + sampler to a list of float ops the int8 format can hold.

The student's leaf modules are recorded in call order by forward hooks on one probe image, and
must form a chain (each leaf reads the previous leaf's output); `forward` returns (z, logits), z
being some leaf's output. Lowering, all in float64 numpy, in the runtime's HWC layout:
  Conv2d (+ BatchNorm2d folded) (+ ReLU fused)   -> conv2d
  Linear (+ ReLU fused)                          -> fc, columns permuted from PyTorch's CHW
                                                    flatten order to the runtime's HWC order
  MaxPool2d / AvgPool2d                          -> maxpool / avgpool
  AdaptiveAvgPool2d: same size -> dropped; an integer multiple of the input -> replication
                     (folded into the next Flatten+Linear by summing weight columns, else an
                     upsample op); an integer divisor -> avgpool; anything else -> refused
  Flatten                                        -> nothing (the runtime's fc reads any h, w)
  Dropout / Identity (eval)                      -> nothing
Anything else raises ValueError naming the module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import nn

_SKIPPED = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout)


@dataclass
class FloatOp:
    """One runtime layer in float: op is a format op name; shapes are (h, w, c)."""

    op: str
    name: str                       # the module(s) it came from, for messages
    input: int                      # index of the producing op, -1 for the model input
    in_shape: tuple
    out_shape: tuple
    kernel: tuple = (0, 0)
    stride: tuple = (0, 0)
    pad: tuple = (0, 0, 0, 0)       # (top, left, bottom, right)
    weight: Optional[np.ndarray] = None  # conv OHWI, fc (out, K) in the input's memory order
    bias: Optional[np.ndarray] = None
    relu: bool = False              # ReLU fused (act_min = zero point)
    tap: Optional[str] = None       # module whose output is this op's output (calibration hook)
    head: Optional[str] = None      # "logits" / "score" for the int32 heads


@dataclass
class _Leaf:
    name: str
    module: nn.Module
    in_shape: tuple   # torch shape without batch
    out_shape: tuple
    out: object = field(repr=False, default=None)


def trace_leaves(root: nn.Module, prefix: str, call, x) -> tuple:
    """Run call(x) with hooks on root's leaf modules; returns (leaves in call order, result).

    Raises ValueError unless the leaves form a chain that starts at x (functional ops between
    modules, skips or reused inputs cannot be exported generically).
    """
    leaves, handles = [], []
    for name, mod in root.named_modules():
        if next(mod.children(), None) is not None:
            continue
        full = f"{prefix}.{name}" if name else prefix

        def hook(m, args, out, full=full):
            if not args or not torch.is_tensor(args[0]) or not torch.is_tensor(out):
                raise ValueError(f"{full} ({type(m).__name__}): takes or returns something other than one tensor")
            leaves.append((full, m, args[0], out, tuple(args[0].shape[1:]), tuple(out.shape[1:])))
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            result = call(x)
    finally:
        for h in handles:
            h.remove()
    chain = []
    prev = x
    for i, (full, m, inp, out, in_shape, out_shape) in enumerate(leaves):
        if i > 0 and inp is not prev:
            raise ValueError(f"{full} ({type(m).__name__}) does not read the output of the module before it "
                             f"({leaves[i - 1][0]}): only a chain of modules can be exported "
                             f"(no functional ops, skips or branches inside {prefix})")
        chain.append(_Leaf(full, m, in_shape, out_shape, out))
        prev = out
    if not chain:
        raise ValueError(f"{prefix} has no layers to export")
    return chain, result


def _pair(v, what, name):
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) != 2 or not all(isinstance(a, int) for a in t):
        raise ValueError(f"{name}: {what} {v!r} must be an int or a pair of ints")
    return t


def _hwc(shape):
    c, h, w = shape
    return (h, w, c)


class _Lowering:
    """Turns one chain of leaves into FloatOps appended to `ops`."""

    def __init__(self, ops: list, source: int, source_shape: tuple, protect: set):
        self.ops = ops
        self.cur = source               # op index holding the current tensor (-1: input)
        self.shape = source_shape       # (h, w, c) of the current map, or None when flat
        self.flat_from = None           # (h, w, c) map a Flatten read, until a Linear consumes it
        self.flat_op = None             # op index that Flatten read (the fc will read it directly)
        self.upsample_pending = None    # (op index, factor) of a replication that may be folded
        self.protect = protect          # op indices whose output is used elsewhere: no fusing into them
        self.last_leaf_op = {}          # leaf name -> op index producing its output

    def _emit(self, op: FloatOp) -> int:
        self.ops.append(op)
        self.cur = len(self.ops) - 1
        return self.cur

    def _fusable(self, kinds) -> Optional[FloatOp]:
        if self.cur < 0 or self.cur in self.protect:
            return None
        op = self.ops[self.cur]
        return op if op.op in kinds and not op.relu and op.head is None else None

    def leaf(self, lf: _Leaf) -> None:
        m, name = lf.module, lf.name
        if isinstance(m, _SKIPPED):
            if isinstance(m, nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.AlphaDropout) and m.training and m.p > 0:
                raise ValueError(f"{name} (Dropout p={m.p}) is in training mode: call .eval() before exporting")
        else:
            lower_leaf = next((fn for kind, fn in _LEAF_LOWERINGS if isinstance(m, kind)), None)
            if lower_leaf is None:
                raise ValueError(f"{name} ({type(m).__name__}) cannot be represented in the int8 format; supported: "
                                 f"Conv2d, BatchNorm2d after Conv2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, "
                                 f"Flatten, Linear, Dropout/Identity in eval mode")
            lower_leaf(self, lf)
        self.last_leaf_op[name] = self.cur

    def _need_map(self, lf):
        if self.shape is None:
            raise ValueError(f"{lf.name} ({type(lf.module).__name__}) reads a flattened tensor; it needs an image map")

    def _conv(self, lf):
        m = lf.module
        self._need_map(lf)
        if m.groups != 1 or _pair(m.dilation, "dilation", lf.name) != (1, 1):
            raise ValueError(f"{lf.name} (Conv2d): groups and dilation must be 1, got {m.groups}, {m.dilation}")
        if m.padding_mode != "zeros":
            raise ValueError(f"{lf.name} (Conv2d): padding_mode {m.padding_mode!r} is not zero padding")
        kh, kw = _pair(m.kernel_size, "kernel_size", lf.name)
        sh, sw = _pair(m.stride, "stride", lf.name)
        if isinstance(m.padding, str):  # "same"/"valid": PyTorch puts the odd pixel at the bottom/right
            th, tw = (kh - 1, kw - 1) if m.padding == "same" else (0, 0)
            pad = (th // 2, tw // 2, th - th // 2, tw - tw // 2)
        else:
            ph, pw = _pair(m.padding, "padding", lf.name)
            pad = (ph, pw, ph, pw)
        if max(pad[0], pad[2]) >= kh or max(pad[1], pad[3]) >= kw:
            raise ValueError(f"{lf.name} (Conv2d): padding {pad} must be smaller than the kernel {kh}x{kw}")
        w = m.weight.detach().double().cpu().numpy().transpose(0, 2, 3, 1)  # OIHW -> OHWI
        b = (m.bias.detach().double().cpu().numpy() if m.bias is not None else np.zeros(w.shape[0]))
        self._emit(FloatOp("conv2d", lf.name, self.cur, self.shape, _hwc(lf.out_shape), (kh, kw), (sh, sw), pad,
                           w, b, tap=lf.name))
        self.shape = _hwc(lf.out_shape)

    def _batchnorm(self, lf):
        m = lf.module
        conv = self._fusable(("conv2d",))
        if conv is None:
            raise ValueError(f"{lf.name} (BatchNorm2d) does not directly follow a Conv2d; only conv+BatchNorm can "
                             f"be folded")
        if m.training:
            raise ValueError(f"{lf.name} (BatchNorm2d) is in training mode: call .eval() before exporting")
        if m.running_mean is None or m.running_var is None:
            raise ValueError(f"{lf.name} (BatchNorm2d) has no running statistics to fold")
        gamma = m.weight.detach().double().cpu().numpy() if m.affine else np.ones(m.num_features)
        beta = m.bias.detach().double().cpu().numpy() if m.affine else np.zeros(m.num_features)
        inv = gamma / np.sqrt(m.running_var.detach().double().cpu().numpy() + m.eps)
        conv.weight = conv.weight * inv[:, None, None, None]
        conv.bias = (conv.bias - m.running_mean.detach().double().cpu().numpy()) * inv + beta
        conv.name += f"+{lf.name}"
        conv.tap = lf.name

    def _relu(self, lf):
        op = self._fusable(("conv2d", "fc"))
        if op is not None:
            op.relu = True
            op.name += f"+{lf.name}"
            op.tap = lf.name
            return
        shape = self.shape if self.shape is not None else (1, 1, int(np.prod(lf.in_shape)))
        self._emit(FloatOp("relu", lf.name, self.cur, shape, shape))

    def _pool(self, lf, kind):
        m = lf.module
        self._need_map(lf)
        kh, kw = _pair(m.kernel_size, "kernel_size", lf.name)
        sh, sw = _pair(m.stride if m.stride is not None else m.kernel_size, "stride", lf.name)
        ph, pw = _pair(m.padding, "padding", lf.name)
        if m.ceil_mode:
            raise ValueError(f"{lf.name} ({type(m).__name__}): ceil_mode=True is not supported")
        if kind == "maxpool":
            if _pair(m.dilation, "dilation", lf.name) != (1, 1) or m.return_indices:
                raise ValueError(f"{lf.name} (MaxPool2d): dilation must be 1 and return_indices False")
        elif (ph, pw) != (0, 0) or m.divisor_override is not None:
            raise ValueError(f"{lf.name} (AvgPool2d): padding and divisor_override are not supported")
        self._emit(FloatOp(kind, lf.name, self.cur, self.shape, _hwc(lf.out_shape), (kh, kw), (sh, sw),
                           (ph, pw, ph, pw)))
        self.shape = _hwc(lf.out_shape)

    def _adaptive(self, lf):
        self._need_map(lf)
        h, w, c = self.shape
        oh, ow = lf.out_shape[1:]
        if (oh, ow) == (h, w):
            return  # identity
        if oh % h == 0 and ow % w == 0:
            fh, fw = oh // h, ow // w
            self.upsample_pending = (self._emit(FloatOp("upsample", lf.name, self.cur, self.shape, (oh, ow, c),
                                                        (fh, fw))), (fh, fw))
        elif h % oh == 0 and w % ow == 0:
            k = (h // oh, w // ow)
            self._emit(FloatOp("avgpool", lf.name, self.cur, self.shape, (oh, ow, c), k, k))
        else:
            raise ValueError(f"{lf.name} (AdaptiveAvgPool2d): output {oh}x{ow} is neither a multiple nor a divisor "
                             f"of the input {h}x{w}; its uneven windows cannot be represented")
        self.shape = (oh, ow, c)

    def _flatten(self, lf):
        m = lf.module
        if (m.start_dim, m.end_dim) not in ((1, -1), (1, 3)):
            raise ValueError(f"{lf.name} (Flatten): only start_dim=1, end_dim=-1 is supported")
        if self.shape is None:
            return  # already flat
        self.flat_from, self.flat_op = self.shape, self.cur
        self.shape = None

    def _linear(self, lf):
        m = lf.module
        w = m.weight.detach().double().cpu().numpy()
        b = m.bias.detach().double().cpu().numpy() if m.bias is not None else np.zeros(w.shape[0])
        if self.shape is not None:
            raise ValueError(f"{lf.name} (Linear) reads a {len(lf.in_shape) + 1}-D tensor; put a Flatten before it")
        if self.flat_from is not None:
            fold = (1, 1)
            src_shape = self.flat_from
            if self.upsample_pending and self.upsample_pending[0] == self.flat_op == len(self.ops) - 1 \
                    and self.flat_op not in self.protect:
                up = self.ops.pop()  # fold the replication into this layer's weight columns
                fold, src_shape, self.cur = self.upsample_pending[1], up.in_shape, up.input
                lf_name = f"{up.name}+{lf.name}"
            else:
                lf_name = lf.name
            w = hwc_columns(w, self.flat_from, fold)
            in_shape = src_shape
            self.flat_from = self.upsample_pending = None
        else:
            lf_name = lf.name
            in_shape = self.ops[self.cur].out_shape if self.cur >= 0 else None
        if in_shape is None or int(np.prod(in_shape)) != w.shape[1]:
            raise ValueError(f"{lf.name} (Linear): in_features {w.shape[1]} does not match its input {in_shape}")
        self._emit(FloatOp("fc", lf_name, self.cur, tuple(in_shape), (1, 1, w.shape[0]), weight=w, bias=b,
                           tap=lf.name))


# Which _Lowering method lowers each supported leaf module (AdaptiveAvgPool2d is no AvgPool2d subclass).
_LEAF_LOWERINGS = (
    (nn.Conv2d, _Lowering._conv),
    (nn.BatchNorm2d, _Lowering._batchnorm),
    (nn.ReLU, _Lowering._relu),
    (nn.MaxPool2d, lambda lowering, lf: lowering._pool(lf, "maxpool")),
    (nn.AvgPool2d, lambda lowering, lf: lowering._pool(lf, "avgpool")),
    (nn.AdaptiveAvgPool2d, _Lowering._adaptive),
    (nn.Flatten, _Lowering._flatten),
    (nn.Linear, _Lowering._linear),
)


def hwc_columns(w: np.ndarray, map_hwc: tuple, fold=(1, 1)) -> np.ndarray:
    """Linear weights reading PyTorch's flatten of a (c, H, W) map -> weights reading the runtime's
    (h, w, c) memory order of the map before an fh x fw replication (H = h*fh): the fh*fw columns
    that read the same input value are summed."""
    H, W, c = map_hwc
    fh, fw = fold
    out = w.shape[0]
    if w.shape[1] != c * H * W:
        raise ValueError(f"Linear in_features {w.shape[1]} does not match the flattened map {c}x{H}x{W}")
    blocks = w.reshape(out, c, H // fh, fh, W // fw, fw).sum(axis=(3, 5))  # (out, c, h, w)
    return blocks.transpose(0, 2, 3, 1).reshape(out, -1)


def lower(student: nn.Module, sampler: Optional[nn.Module], input_hwc: tuple) -> tuple:
    """(ops, logits_index, score_index) for student (+ sampler reading z)."""
    lowered = lower_model(student, sampler, input_hwc)
    return lowered.ops, lowered.logits_op, lowered.score_op


@dataclass
class LoweredModel:
    """The float ops of a student (+ sampler, + decoder) and the indices of its outputs."""

    ops: list
    logits_op: int
    score_op: int          # -1: no sampler
    z_op: int              # the student's feature map z (what the sampler and the decoder read)
    decoder_op: int = -1   # the decoder's output; -1: no decoder lowered


def lower_model(student: nn.Module, sampler: Optional[nn.Module], input_hwc: tuple,
                decoder: Optional[nn.Module] = None) -> LoweredModel:
    """lower(), plus the index of z and, with a decoder (reading z, e.g. models.Decoder), its
    branch lowered after the sampler's ops."""
    h, w, c = input_hwc
    probe = torch.full((1, c, h, w), 0.5, dtype=next(student.parameters()).dtype)

    def student_call(x):
        return student(x)
    leaves, result = trace_leaves(student, "student", student_call, probe)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise ValueError("student.forward must return (z, logits)")
    z, logits = result
    # The last leaf returning z (an in-place ReLU returns its input object too).
    z_leaf = max((i for i, lf in enumerate(leaves) if lf.out is z), default=None)
    if z_leaf is None:
        raise ValueError("student: z is not the output of one of its modules; cannot locate the sampler's input")
    if leaves[-1].out is not logits or not isinstance(leaves[-1].module, nn.Linear):
        raise ValueError(f"student: logits must be the output of its last module, a Linear (got "
                         f"{type(leaves[-1].module).__name__} {leaves[-1].name})")
    first = leaves[0].module
    if isinstance(first, nn.Conv2d) and first.in_channels != c:
        raise ValueError(f"student: {leaves[0].name} has {first.in_channels} input channels but the images have {c}")

    ops: list = []
    low = _Lowering(ops, -1, (h, w, c), protect=set())
    for i, lf in enumerate(leaves):
        low.leaf(lf)
        if i == z_leaf:
            low.protect.add(low.cur)  # the sampler reads this tensor: nothing may fuse into it
            z_op = low.cur
    logits_op = low.cur
    ops[logits_op].head = "logits"
    if z.dim() != 4:
        raise ValueError(f"student: z must be a (N, C, H, W) map, got shape {tuple(z.shape)}")
    if z_op >= 0 and ops[z_op].out_shape != _hwc(tuple(z.shape[1:])):
        raise ValueError(f"student: z {tuple(z.shape[1:])} is not a tensor the runtime keeps "
                         f"({ops[z_op].name} gives {ops[z_op].out_shape})")
    score_op = -1
    if sampler is not None:
        n_z = int(np.prod(z.shape[1:]))
        in_features = getattr(sampler, "in_features", None)
        if in_features is not None and in_features != n_z:
            raise ValueError(f"sampler: in_features {in_features} does not match z of shape {tuple(z.shape[1:])} "
                             f"({n_z} values)")
        call = sampler.logit if hasattr(sampler, "logit") else sampler
        s_leaves, s_out = trace_leaves(sampler, "sampler", call, z)
        if not isinstance(s_leaves[-1].module, nn.Linear) or s_leaves[-1].module.out_features != 1 \
                or s_leaves[-1].out.data_ptr() != s_out.data_ptr():
            raise ValueError("sampler: its pre-sigmoid value must come from a final Linear with one output "
                             "(sampler.logit)")
        s_low = _Lowering(ops, z_op, ops[z_op].out_shape, protect={z_op})
        for lf in s_leaves:
            s_low.leaf(lf)
        score_op = s_low.cur
        if ops[score_op].op != "fc":
            raise ValueError("sampler: nothing after its last Linear can be exported")
        ops[score_op].head = "score"
    decoder_op = -1
    if decoder is not None:
        d_leaves, d_out = trace_leaves(decoder, "decoder", decoder, z)
        if d_out.dim() != 4:
            raise ValueError(f"decoder: its output must be a (N, C, H, W) map, got shape {tuple(d_out.shape)}")
        d_low = _Lowering(ops, z_op, ops[z_op].out_shape, protect={z_op})
        for lf in d_leaves:
            d_low.leaf(lf)
        decoder_op = d_low.cur
        if ops[decoder_op].out_shape != _hwc(tuple(d_out.shape[1:])):
            raise ValueError(f"decoder: its output {tuple(d_out.shape[1:])} is not a tensor the runtime keeps "
                             f"({ops[decoder_op].name} gives {ops[decoder_op].out_shape})")
    return LoweredModel(ops, logits_op, score_op, z_op, decoder_op)
