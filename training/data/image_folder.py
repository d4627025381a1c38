"""A folder of images, one subfolder per class, decoded once at load to uint8 NCHW by the runtime's
decoder (fdal.image_folder.decode), so training and ranking see the same pixels.

Layouts: ROOT/<class>/*.png (split deterministically into train/test), or
ROOT/train/<class>/... and ROOT/test/<class>/... (used as given).
"""
import os

import numpy as np

from .dataset import make_dataset
from .errors import DatasetFilesMissing

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")


def load_image_folder(root, image_size=32, test_fraction=0.2, split_seed=0):
    if not os.path.isdir(root):
        raise DatasetFilesMissing("image folder", root, ["<class_name>/<image>.png (one subfolder per class)"])
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        classes = _class_names(train_dir)
        train = _list(train_dir, classes)
        test = _list(test_dir, classes, must_match=True)
    else:
        classes = _class_names(root)
        train, test = _split(_list(root, classes), test_fraction, split_seed, len(classes))
    decode = _decoder(image_size)
    train_x = _decode_all(decode, train, image_size)
    test_x = _decode_all(decode, test, image_size)
    return make_dataset("folder", train_x, [y for _, y in train], test_x, [y for _, y in test], classes)


def _class_names(folder):
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if len(classes) < 2:
        raise DatasetFilesMissing("image folder", folder,
                                  ["<class_name>/<image>.png for at least two classes"],
                                  hint=f"found {len(classes)} class subfolder(s): {classes}")
    return classes


def _list(folder, classes, must_match=False):
    found = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if must_match and set(found) - set(classes):
        raise ValueError(f"{folder}: class folders {sorted(set(found) - set(classes))} do not exist "
                         f"in the train folder")
    items = []
    for label, name in enumerate(classes):
        sub = os.path.join(folder, name)
        if not os.path.isdir(sub):
            continue
        files = sorted(f for f in os.listdir(sub) if f.lower().endswith(IMAGE_EXTENSIONS))
        items += [(os.path.join(sub, f), label) for f in files]
    if not items:
        raise DatasetFilesMissing("image folder", folder, ["<class_name>/<image>.png"],
                                  hint=f"no image files with extensions {IMAGE_EXTENSIONS}")
    return items


def _split(items, test_fraction, seed, num_classes):
    """Per class, a seeded permutation of the sorted files: the same files go to test every run."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in range(num_classes):
        members = [it for it in items if it[1] == label]
        order = rng.permutation(len(members))
        n_test = int(round(len(members) * test_fraction))
        test += [members[i] for i in sorted(order[:n_test])]
        train += [members[i] for i in sorted(order[n_test:])]
    return train, test


def _decoder(image_size):
    """fdal.image_folder.decode, the runtime's decoder: a student trains on exactly the pixels that
    `fdal rank` and `fdal cycle pick` give the int8 model for the same file (mode conversion,
    Pillow BILINEAR resize with reducing_gap; docs/images.md)."""
    from fdal.image_folder import decode as runtime_decode, require_pillow
    require_pillow()
    shape = (image_size, image_size, 3)

    def decode(path):
        arr = runtime_decode(path, shape)
        if arr is None:
            raise OSError("not a readable image")
        return arr

    return decode


def _decode_all(decode, items, image_size):
    # Decoding happens once here; training then works on the resulting tensor only.
    out = np.empty((len(items), 3, image_size, image_size), np.uint8)
    for i, (path, _) in enumerate(items):
        try:
            out[i] = decode(path).transpose(2, 0, 1)
        except OSError as e:
            raise ValueError(f"{path}: cannot decode image ({e})") from e
    return out
