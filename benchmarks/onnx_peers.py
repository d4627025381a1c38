"""ONNX peers of an fdal student+sampler: torch -> ONNX fp32, and ONNX Runtime static QDQ int8.

Both graphs take float NCHW pixels / 255 (the models' own input contract; normalization is inside)
and return (logits, sampler pre-sigmoid value). The int8 model is onnxruntime.quantization's
static QDQ quantization, per-channel int8 weights, int8 activations, calibrated (min/max) on the
images it is given -- the same images fdal's exporter calibrates on.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


class StudentWithSampler(nn.Module):
    """x (N, 3, H, W) in [0, 1] -> (logits (N, C), sampler logit (N,))."""

    def __init__(self, student, sampler):
        super().__init__()
        self.student, self.sampler = student, sampler

    def forward(self, x):
        z, logits = self.student(x)
        return logits, self.sampler.logit(z)


def to_float_nchw(images_nhwc: np.ndarray) -> np.ndarray:
    """The uint8 -> float conversion every float peer pays in its timed loop."""
    return np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(1 / 255)


class _Replicate(nn.Module):
    """AdaptiveAvgPool2d to an integer multiple of its input is nearest upsampling, exactly; the
    TorchScript ONNX exporter refuses the former ("output size that are not factor of input size")."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        size = self.output_size if isinstance(self.output_size, tuple) else (self.output_size,) * 2
        if size[0] % x.shape[2] or size[1] % x.shape[3]:
            raise ValueError(f"_Replicate: {size} is not a multiple of {tuple(x.shape[2:])}")
        return nn.functional.interpolate(x, size=size, mode="nearest")


def export_fp32(student, sampler, path, input_hw=(32, 32)) -> None:
    """torch.onnx.export (TorchScript exporter, opset 17) with a dynamic batch axis. Replicating
    AdaptiveAvgPool2d modules are swapped for the identical nearest upsampling on a copy."""
    student = copy.deepcopy(student)
    for name, m in list(student.named_modules()):
        if isinstance(m, nn.AdaptiveAvgPool2d):
            parent = student.get_submodule(name.rsplit(".", 1)[0]) if "." in name else student
            setattr(parent, name.rsplit(".", 1)[-1], _Replicate(m.output_size))
    model = StudentWithSampler(student, sampler).eval()
    dummy = torch.rand(2, 3, *input_hw)
    torch.onnx.export(model, (dummy,), str(path), input_names=["x"], output_names=["logits", "score_logit"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}, "score_logit": {0: "n"}},
                      opset_version=17, dynamo=False)


class _Reader:
    """onnxruntime CalibrationDataReader over uint8 NHWC images, in batches."""

    def __init__(self, images: np.ndarray, batch_size: int = 100):
        self.batches = iter([{"x": to_float_nchw(images[s:s + batch_size])}
                             for s in range(0, len(images), batch_size)])

    def get_next(self):
        return next(self.batches, None)


def quantize_int8(fp32_path, int8_path, calibration_images: np.ndarray) -> None:
    """Static QDQ quantization: per-channel int8 weights, int8 activations, min/max calibration."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = str(int8_path) + ".pre.onnx"
    quant_pre_process(str(fp32_path), pre, skip_symbolic_shape=True)
    quantize_static(pre, str(int8_path), _Reader(calibration_images), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)


def session(path):
    """A one-thread ONNX Runtime CPU session."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
