"""The output shape each op computes from its input shape and parameters (docs/format.md)."""


def layer_output_shape(op: str, in_shape, kernel=(0, 0), stride=(0, 0), pad=(0, 0, 0, 0), out_c=None):
    """The (h, w, c) an op computes from its input shape and parameters (docs/format.md).

    out_c is the layer's own channel count for conv2d and fc (ignored otherwise).
    Raises ValueError when the window does not fit (negative numerator, zero stride).
    """
    h, w, c = (int(v) for v in in_shape)
    kh, kw = (int(v) for v in kernel)
    sh, sw = (int(v) for v in stride)
    top, left, bottom, right = (int(v) for v in pad)
    if op in ("conv2d", "maxpool", "avgpool"):
        num_h, num_w = h + top + bottom - kh, w + left + right - kw
        if num_h < 0 or num_w < 0:
            raise ValueError(f"{op}: kernel {kh}x{kw} larger than padded input {h + top + bottom}x{w + left + right}")
        if sh <= 0 or sw <= 0:
            raise ValueError(f"{op}: stride must be positive, got {sh}x{sw}")
        return (num_h // sh + 1, num_w // sw + 1, int(out_c) if op == "conv2d" else c)
    if op == "relu":
        return (h, w, c)
    if op == "flatten":
        return (1, 1, h * w * c)
    if op == "fc":
        return (1, 1, int(out_c))
    if op == "upsample":
        return (h * kh, w * kw, c)
    raise ValueError(f"unknown op {op!r}")
