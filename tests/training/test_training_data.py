"""fdal.training.data: loaders on tiny files in the official layouts, errors, augmentation."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from fdal.training.data import (DatasetFilesMissing, augment, load_dataset, make_synthetic,  # noqa: E402
                                pixels_to_unit_float)

from data_files import dump_pickle, random_rows, write_cifar10  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("bytes_keys", [True, False])
def test_cifar10_reads_official_layout(tmp_path, bytes_keys):
    seed = 11
    batches = write_cifar10(tmp_path, np.random.default_rng(seed), bytes_keys=bytes_keys)
    ds = load_dataset("cifar10", str(tmp_path))
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.train_x.dtype == torch.uint8, seed
    assert ds.test_x.shape == (4, 3, 32, 32) and ds.train_y.dtype == torch.int64
    # Rows are CHW planes: the first 1024 bytes are the red channel.
    assert np.array_equal(ds.train_x[5].numpy().reshape(-1), batches[1][0][1])
    assert ds.train_y.tolist() == sum((b[1] for b in batches[:5]), [])
    assert ds.test_y.tolist() == batches[5][1]
    assert ds.classes == [f"class{i}" for i in range(10)] and ds.num_classes == 10
    x = ds.train_x.double() / 255
    assert np.allclose(ds.mean, x.mean(dim=(0, 2, 3)).numpy())
    assert np.allclose(ds.std, x.std(dim=(0, 2, 3), unbiased=False).numpy())


def test_cifar100_uses_fine_labels(tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 6), ("test", 3)):
        dump_pickle(folder / name, {b"data": random_rows(rng, n), b"fine_labels": list(range(90, 90 + n)),
                              b"coarse_labels": [0] * n})
    dump_pickle(folder / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)]})
    ds = load_dataset("cifar100", str(tmp_path))
    assert ds.num_classes == 100 and ds.classes[99] == "f99"
    assert ds.train_y.tolist() == [90, 91, 92, 93, 94, 95] and ds.test_x.shape[0] == 3


def test_missing_cifar_files_say_what_to_put_where(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cifar10", str(tmp_path))
    msg = str(err.value)
    assert isinstance(err.value, DatasetFilesMissing)
    assert "cifar-10-batches-py" in msg and "data_batch_1" in msg and "test_batch" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    with pytest.raises(FileNotFoundError, match="cifar-100-python.tar.gz"):
        load_dataset("cifar100", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train_32x32.mat"):
        load_dataset("svhn", str(tmp_path))


def test_corrupt_batch_and_unknown_name_are_value_errors(tmp_path):
    write_cifar10(tmp_path, np.random.default_rng(0))
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="test_batch"):
        load_dataset("cifar10", str(tmp_path))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imagenet", str(tmp_path))


def test_svhn_mat_files(tmp_path):
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(3)
    for name, n in (("train_32x32.mat", 5), ("test_32x32.mat", 2)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = np.array([[10], [1], [2], [9], [10]][:n], dtype=np.uint8)
        sio.savemat(str(tmp_path / name), {"X": x, "y": y})
        if name.startswith("train"):
            train_x = x
    ds = load_dataset("svhn", str(tmp_path))
    assert ds.train_y.tolist() == [0, 1, 2, 9, 0]  # 10 means digit 0
    assert ds.train_x.shape == (5, 3, 32, 32)
    assert np.array_equal(ds.train_x[2, 1].numpy(), train_x[:, :, 1, 2])  # (H, W, C, N) -> NCHW


def _write_png(path, colour, size=(40, 24)):
    Image = pytest.importorskip("PIL.Image")
    Image.new("RGB", size, colour).save(path)


def test_image_folder_split_is_deterministic_and_resized(tmp_path):
    pytest.importorskip("PIL")
    for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(10):
            _write_png(tmp_path / cls / f"{i}.png", colour)
    a = load_dataset("folder", str(tmp_path))
    b = load_dataset("folder", str(tmp_path))
    assert a.classes == ["cat", "dog"]
    assert a.train_x.shape == (16, 3, 32, 32) and a.test_x.shape == (4, 3, 32, 32)
    assert torch.equal(a.train_y, b.train_y) and torch.equal(a.test_y, b.test_y)
    assert sorted(a.test_y.tolist()) == [0, 0, 1, 1]
    red = a.train_x[a.train_y == 0]
    assert int(red[:, 0].min()) == 255 and int(red[:, 2].max()) == 0


def test_image_folder_with_train_and_test_subfolders(tmp_path):
    pytest.importorskip("PIL")
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                _write_png(tmp_path / split / cls / f"{i}.jpg", (10, 200, 30), size=(32, 32))
    ds = load_dataset("folder", str(tmp_path))
    assert ds.train_x.shape[0] == 6 and ds.test_x.shape[0] == 4 and ds.classes == ["a", "b"]


def test_image_folder_needs_two_classes(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(FileNotFoundError, match="at least two classes"):
        load_dataset("folder", str(tmp_path))


def test_augment_shape_dtype_and_determinism():
    seed = 1234
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    a = augment(x, torch.Generator().manual_seed(seed))
    b = augment(x, torch.Generator().manual_seed(seed))
    c = augment(x, torch.Generator().manual_seed(seed + 1))
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b), f"seed {seed}"
    assert not torch.equal(a, c), f"seed {seed}"


def test_augment_crops_really_shift_with_zero_padding():
    seed = 7
    x = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    out = augment(x, torch.Generator().manual_seed(seed), flip=False)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(x.shape[0]):
        hits = [(dy, dx) for dy in range(9) for dx in range(9)
                if torch.equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32])]
        assert len(hits) == 1, f"seed {seed}, image {i}: not a crop of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 20, f"seed {seed}: offsets {offsets}"
    assert int((out == 0).sum()) > 0  # the padding shows up as zero pixels


def test_augment_flips_really_flip():
    seed = 99
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    out = augment(x, torch.Generator().manual_seed(seed), padding=0)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)), f"seed {seed}"
    assert 10 < sum(flipped) < 54, f"seed {seed}: {sum(flipped)} of 64 flipped"


def test_augment_rejects_float_and_pixels_to_unit_float_range():
    with pytest.raises(ValueError, match="uint8"):
        augment(torch.rand(2, 3, 32, 32), torch.Generator())
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1)
    assert torch.allclose(pixels_to_unit_float(x).view(-1), torch.tensor([0.0, 128 / 255, 1.0]))


def test_make_synthetic_is_deterministic_and_balanced():
    a = make_synthetic(num_classes=5, n_train=100, n_test=50, seed=3)
    b = make_synthetic(num_classes=5, n_train=100, n_test=50, seed=3)
    c = make_synthetic(num_classes=5, n_train=100, n_test=50, seed=4)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert torch.bincount(a.train_y).tolist() == [20] * 5
    assert a.train_x.shape == (100, 3, 32, 32) and a.num_classes == 5
    assert os.path.sep not in "".join(a.classes)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augment_differs_between_cpu_and_cuda_generators_of_one_seed():
    # What augment's docstring says: one seed, two device types, two different random streams.
    x = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    cpu = augment(x, torch.Generator().manual_seed(0))
    cuda = augment(x.cuda(), torch.Generator(device="cuda").manual_seed(0)).cpu()
    assert not torch.equal(cpu, cuda)
