"""Raw pixels -> the models' input: float32 NCHW in [0, 1] (pixels / 255; normalization is in the model)."""
import numpy as np
import torch


def pixels_to_unit_float(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 tensor (N, C, H, W), any device -> float32 tensor of the same shape and device, in [0, 1]."""
    if x_uint8.dtype != torch.uint8:
        raise ValueError(f"expected uint8 pixels, got {x_uint8.dtype}")
    return x_uint8.float().div_(255.0)


def nhwc_pixels_to_unit_float(images_nhwc: np.ndarray) -> torch.Tensor:
    """uint8 numpy (N, H, W, C), the runtime's layout -> float32 CPU tensor (N, C, H, W) in [0, 1]."""
    return pixels_to_unit_float(torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2))
