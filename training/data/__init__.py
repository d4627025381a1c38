"""Data for fdal.training: loaders for the official dataset layouts, a generated dataset,
and vectorized uint8 augmentation. Every loader returns a `Dataset` of uint8 NCHW tensors."""
from .augment import augment
from .cifar import load_cifar10, load_cifar100
from .cifar10_jpeg import prepare_cifar10_jpeg
from .dataset import Dataset, channel_stats, make_dataset
from .errors import DatasetFilesMissing
from .image_folder import load_image_folder
from .model_input import nhwc_pixels_to_unit_float, pixels_to_unit_float
from .runtime_images import calibration_images, evaluation_images, images_nhwc
from .svhn import load_svhn
from .synthetic import make_synthetic

DATASETS = ("cifar10", "cifar100", "svhn", "folder")


def load_dataset(name, data_dir, device="cpu", download=False, **kwargs):
    """Load `name` (cifar10, cifar100, svhn, folder) from data_dir; tensors end up on `device`.
    download=True fetches the official archive for cifar10/cifar100/svhn when files are missing.
    kwargs go to the folder loader (image_size, test_fraction, split_seed)."""
    if name not in ("folder", "synthetic") and kwargs:
        raise ValueError(f"unexpected options for {name}: {sorted(kwargs)}")
    if name == "cifar10":
        ds = load_cifar10(data_dir, download=download)
    elif name == "cifar100":
        ds = load_cifar100(data_dir, download=download)
    elif name == "svhn":
        ds = load_svhn(data_dir, download=download)
    elif name == "folder":
        ds = load_image_folder(data_dir, **kwargs)
    elif name == "synthetic":  # for demos: data_dir is ignored
        ds = make_synthetic(**kwargs)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS} (or 'synthetic')")
    return ds.to(device) if str(device) != "cpu" else ds


__all__ = ["DATASETS", "Dataset", "DatasetFilesMissing", "augment", "calibration_images", "channel_stats",
           "evaluation_images", "images_nhwc", "load_cifar10", "load_cifar100", "load_dataset", "load_image_folder",
           "load_svhn", "make_dataset", "make_synthetic", "nhwc_pixels_to_unit_float", "pixels_to_unit_float",
           "prepare_cifar10_jpeg"]
