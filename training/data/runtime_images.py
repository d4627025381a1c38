"""Dataset images in the layout the int8 side reads (fdal.load, ft.export): uint8 numpy (N, H, W, C)."""
import numpy as np
import torch


def images_nhwc(x_uint8_nchw: torch.Tensor) -> np.ndarray:
    """uint8 tensor (N, C, H, W), any device -> contiguous uint8 numpy (N, H, W, C) on the CPU."""
    return x_uint8_nchw.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def calibration_images(dataset, n: int, seed: int) -> np.ndarray:
    """min(n, train size) training images drawn without replacement with `seed` (in pool order),
    uint8 NHWC: what ft.export calibrates on."""
    n = min(n, len(dataset.train_y))
    pick = np.sort(np.random.default_rng(seed).choice(len(dataset.train_y), n, replace=False))
    return images_nhwc(dataset.train_x[torch.as_tensor(pick, device=dataset.train_x.device)])


def evaluation_images(dataset, n=None):
    """The first n (default all) test images, uint8 NHWC, and their labels (int64 numpy)."""
    x = dataset.test_x if n is None else dataset.test_x[:n]
    y = dataset.test_y if n is None else dataset.test_y[:n]
    if len(y) == 0:
        raise ValueError(f"{dataset.name} has no test images to compare on")
    return images_nhwc(x), y.cpu().numpy()
