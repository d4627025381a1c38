"""fdal.training.export / compare: exported files are bit-exact between the C++ runtime and the
numpy oracle, close to the float model, folds are exact in float, and bad models are refused."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import fdal  # noqa: E402
import fdal.training as ft  # noqa: E402
from fdal import format as fmt  # noqa: E402
from fdal import oracle, testing  # noqa: E402
from fdal.training.parity import format_report  # noqa: E402
from fdal.training.data import nhwc_pixels_to_unit_float  # noqa: E402
from fdal.training.export_graph import hwc_columns, lower  # noqa: E402
from fdal.training.models.normalize import NormalizedInput  # noqa: E402

pytestmark = pytest.mark.torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_TRAIN, N_TEST = 2000, 1000


JPEG_COPY = os.environ.get("FDAL_CIFAR10_JPEG", os.path.join(os.path.dirname(REPO), "shared", "data", "cifar10-jpeg"))


def _decode_subset(split: str, n: int):
    """The first n images of the CIFAR-10 JPEG copy's split as uint8 NHWC + labels, cached in tmp."""
    cache = os.path.join(tempfile.gettempdir(), f"fdal-test-cifar10-{split}-{n}.npz")
    if not os.path.isfile(cache):
        from io import BytesIO

        from PIL import Image
        d = np.load(os.path.join(JPEG_COPY, f"{split}.npz"))
        jpeg, off = d["jpeg"], d["offsets"]
        x = np.stack([np.asarray(Image.open(BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB"))
                      for i in range(n)])
        np.savez(cache + ".tmp.npz", x=x, y=d["labels"][:n].astype(np.int64))
        os.replace(cache + ".tmp.npz", cache)
    d = np.load(cache)
    return d["x"], d["y"]


def _cifar_or_synthetic():
    """(name, train NHWC, train labels, test NHWC, test labels, mean, std): a few thousand real
    CIFAR-10 (JPEG copy) images when the copy and Pillow are here, else fdal.training's synthetic set."""
    from fdal.training import data as fdata
    try:
        xtr, ytr = _decode_subset("train", N_TRAIN)
        xte, yte = _decode_subset("test", N_TEST)
        name = "cifar10-jpeg"
    except (FileNotFoundError, ImportError, OSError, KeyError):
        ds = fdata.make_synthetic(10, N_TRAIN, N_TEST, seed=0)
        nhwc = lambda x: x.permute(0, 2, 3, 1).contiguous().numpy()  # noqa: E731
        xtr, ytr, xte, yte = nhwc(ds.train_x), ds.train_y.numpy(), nhwc(ds.test_x), ds.test_y.numpy()
        name = "synthetic"
    mean, std = fdata.channel_stats(torch.from_numpy(xtr).permute(0, 3, 1, 2))
    return name, xtr, ytr, xte, yte, mean, std


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A VGG11-lite student trained two epochs (seconds) and a sampler trained to tell classes 0-4
    ("labeled") from 5-9, exported with 500 calibration images."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    name, xtr, ytr, xte, yte, mean, std = _cifar_or_synthetic()
    student = ft.models.Student(num_classes=10).set_normalization(mean, std)
    opt = torch.optim.Adam(student.parameters(), lr=2e-3)
    x = nhwc_pixels_to_unit_float(xtr)
    y = torch.as_tensor(ytr, dtype=torch.int64)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        for idx in torch.randperm(len(x), generator=g).split(100):
            loss = nn.functional.cross_entropy(student(x[idx])[1], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    student.eval()
    sampler = ft.models.Sampler(in_features=256)
    with torch.no_grad():
        z = student(x)[0]
    s_opt = torch.optim.Adam(sampler.parameters(), lr=3e-3)
    target = (y < 5).float()
    for _ in range(150):
        loss = nn.functional.binary_cross_entropy_with_logits(sampler.logit(z), target)
        s_opt.zero_grad()
        loss.backward()
        s_opt.step()
    sampler.eval()
    path = str(tmp_path_factory.mktemp("export") / "student.fdal")
    spec = ft.export(student, sampler, xtr[:500], path)
    return dict(name=name, student=student, sampler=sampler, path=path, spec=spec, xte=xte, yte=yte, xtr=xtr)


def test_native_runtime_is_bit_exact_to_the_oracle_on_the_exported_file(trained):
    model = fdal.load(trained["path"])
    spec = _read(trained["path"])
    images = trained["xte"][:100]
    native, ref = model.forward(images), oracle.forward(spec, images)
    np.testing.assert_array_equal(native["logits_raw"], ref["logits_raw"])
    np.testing.assert_array_equal(native["score_raw"], ref["score_raw"])
    np.testing.assert_array_equal(native["score"], ref["score"])
    np.testing.assert_array_equal(fdal.rank_pool(model, images, 10), oracle.rank(spec, images, 10))


def test_exported_vgg_layout_folds_the_replication_and_fits_190_kib(trained):
    layers = trained["spec"].layers
    assert [l.op for l in layers] == ["conv2d", "maxpool", "conv2d", "maxpool", "conv2d", "maxpool",
                                      "fc", "fc", "fc", "fc"]
    assert layers[6].weights.shape == (512, 256) and layers[6].input == 5  # 1024 -> 256 inputs
    assert layers[8].input == 5 and layers[9].out_kind == "int32"
    assert os.path.getsize(trained["path"]) <= 190 * 1024


def test_parity_of_the_small_trained_model(trained):
    rep = ft.compare(trained["student"], trained["sampler"], trained["path"], trained["xte"], trained["yte"])
    # Which data ran (CIFAR-10 JPEG copy when ../shared is here, else generated images) is named in
    # every failure; the thresholds hold for both (checked on each).
    text = f"data: {trained['name']}\n" + format_report(rep)
    assert rep["float_accuracy"] > 0.2, text  # it learned something, so agreement is meaningful
    assert abs(rep["int8_accuracy"] - rep["float_accuracy"]) <= 0.015, text
    assert rep["top1_agreement"] >= 0.96, text
    assert rep["score_spearman"] >= 0.98, text
    assert rep["fdal_topk_overlap"] >= 0.85, text
    assert "| top-1 agreement" in text


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_other_calibration_methods_export_and_agree(trained, method, tmp_path):
    path = tmp_path / f"{method}.fdal"
    spec = ft.export(trained["student"], trained["sampler"], trained["xtr"][:200], path, method=method,
                     percentile=99.9)
    base = trained["spec"]
    # Clipping never widens a range: every int8 output scale is at most the min/max one.
    for a, b in zip(spec.layers, base.layers):
        if a.out_kind == "int8" and a.op in ("conv2d", "fc"):
            assert a.out_scale <= b.out_scale * (1 + 1e-6)
    rep = ft.compare(trained["student"], trained["sampler"], str(path), trained["xte"][:500])
    assert rep["top1_agreement"] >= 0.9 and rep["score_spearman"] >= 0.95, format_report(rep)


def test_fold_of_the_replicating_pool_equals_the_unfolded_model_in_float():
    seed = 7
    rng = np.random.default_rng(seed)
    pool, flat, fc = nn.AdaptiveAvgPool2d((4, 4)), nn.Flatten(), nn.Linear(64 * 16, 9).double()
    z = torch.from_numpy(rng.normal(size=(5, 64, 2, 2)))  # float64 end to end: the fold is exact
    want = fc(flat(pool(z))).detach().double().numpy()
    w = hwc_columns(fc.weight.detach().double().numpy(), (4, 4, 64), fold=(2, 2))
    assert w.shape == (9, 256)
    z_hwc = z.double().permute(0, 2, 3, 1).reshape(5, -1).numpy()  # runtime memory order
    got = z_hwc @ w.T + fc.bias.detach().double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"seed {seed}")


def test_student_lowering_reads_z_in_hwc_order_exactly():
    torch.manual_seed(3)
    student, sampler = ft.models.Student().eval(), ft.models.Sampler().eval()
    ops, logits_op, score_op = lower(student, sampler, (32, 32, 3))
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        z, logits = student(x)
        score = sampler.logit(z)
        hidden = torch.relu(student.classifier[1](student.classifier[0](student.pool(z)))).double().numpy()
    z_hwc = z.double().permute(0, 2, 3, 1).reshape(4, -1).numpy()
    fc1 = ops[ops[logits_op].input]
    np.testing.assert_allclose(np.maximum(z_hwc @ fc1.weight.T + fc1.bias, 0), hidden, rtol=1e-6, atol=1e-6)
    s1 = ops[ops[score_op].input]
    s_hidden = np.maximum(z_hwc @ s1.weight.T + s1.bias, 0)
    np.testing.assert_allclose(s_hidden @ ops[score_op].weight.T[:, 0] + ops[score_op].bias[0],
                               score.double().numpy(), rtol=1e-5, atol=1e-6)
    assert logits.shape == (4, 10)


def _read(path):
    with open(path, "rb") as fh:
        return fmt.read_model(fh.read())


def _agreement(student, sampler, path, images):
    model = fdal.load(path)
    spec = _read(path)
    out, ref = model.forward(images[:64]), oracle.forward(spec, images[:64])
    np.testing.assert_array_equal(out["logits_raw"], ref["logits_raw"])
    return ft.compare(student, sampler, path, images)


def test_alexnet_lite_exports_and_matches(tmp_path):
    torch.manual_seed(1)
    student, sampler = ft.models.AlexNetLite().eval(), ft.models.Sampler().eval()
    images = testing.random_images(5, 200)
    spec = ft.export(student, sampler, images, tmp_path / "a.fdal")
    assert spec.layers[spec.score_layer].in_shape == (1, 1, 64)
    rep = _agreement(student, sampler, str(tmp_path / "a.fdal"), images)
    assert rep["top1_agreement"] >= 0.9 and rep["score_spearman"] >= 0.97, format_report(rep)


class _Custom(NormalizedInput):
    """A student built from a features list, a pool and a classifier list (test helper)."""

    def __init__(self, features, pool, classifier):
        super().__init__()
        self.features, self.pool, self.classifier = nn.Sequential(*features), pool, nn.Sequential(*classifier)

    def forward(self, x):
        z = self.features(self.normalize(x))
        return z, self.classifier(self.pool(z))


def _bn(c, rng):
    bn = nn.BatchNorm2d(c)
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.3, c)))
        bn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, c)))
        bn.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, c)))
        bn.bias.copy_(torch.from_numpy(rng.normal(0, 0.2, c)))
    return bn


@pytest.mark.parametrize("pool,expect", [(nn.AdaptiveAvgPool2d((2, 2)), "none"),
                                         (nn.AdaptiveAvgPool2d(1), "avgpool"),
                                         (nn.AdaptiveAvgPool2d((4, 6)), "upsample-folded")])
def test_batchnorm_fold_and_adaptive_pool_cases(tmp_path, pool, expect):
    seed = 11
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    oh, ow = pool.output_size if isinstance(pool.output_size, tuple) else (pool.output_size,) * 2
    student = _Custom([nn.Conv2d(3, 8, 3, padding=1, bias=False), _bn(8, rng), nn.ReLU(), nn.MaxPool2d(4),
                       nn.Conv2d(8, 16, 3, stride=2, padding=1), _bn(16, rng), nn.ReLU(), nn.MaxPool2d(2)],
                      pool, [nn.Flatten(), nn.Linear(16 * oh * ow, 32), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(32, 4)]).eval()
    images = testing.random_images(seed, 200)
    spec = ft.export(student, None, images, tmp_path / "c.fdal")
    ops = [l.op for l in spec.layers]
    assert ops.count("conv2d") == 2 and "relu" not in ops, ops  # BN folded, ReLU fused
    if expect == "avgpool":
        assert "avgpool" in ops
    else:
        assert "upsample" not in ops and "avgpool" not in ops
        assert spec.layers[ops.index("fc")].weights.shape == (32, 16 * 2 * 2)
    rep = _agreement(student, None, str(tmp_path / "c.fdal"), images)
    assert rep["top1_agreement"] >= 0.9, (seed, format_report(rep))
    assert rep["logit_mae"] <= 0.05 * rep["logit_range"], (seed, format_report(rep))


def _refused(student, sampler=None, images=None, match=None, **kw):
    images = testing.random_images(0, 8) if images is None else images
    with pytest.raises(ValueError, match=match):
        ft.export(student, sampler, images, None, **kw)


def test_refusals_name_the_problem():
    torch.manual_seed(0)
    base = lambda: [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(16)]  # noqa: E731  -> 8x2x2
    head = lambda n=32: [nn.Flatten(), nn.Linear(n, 4)]  # noqa: E731
    train_dropout = _Custom(base() + [nn.Dropout(0.3)], nn.Identity(), head())
    _refused(train_dropout.train(), match=r"features\.3 \(Dropout.*training mode")
    bn_after_relu = _Custom(base() + [nn.BatchNorm2d(8)], nn.Identity(), head()).eval()
    _refused(bn_after_relu, match=r"features\.3 \(BatchNorm2d\) does not directly follow a Conv2d")
    _refused(_Custom(base() + [nn.GELU()], nn.Identity(), head()).eval(), match=r"features\.3 \(GELU\) cannot be")
    _refused(_Custom(base(), nn.AdaptiveAvgPool2d(3), head(72)).eval(), match=r"pool \(AdaptiveAvgPool2d\).*3x3")
    student = ft.models.Student().eval()
    _refused(student, ft.models.Sampler(in_features=1024), match=r"sampler: in_features 1024 does not match z")
    _refused(student, images=np.zeros((4, 32, 32, 1), np.uint8), match=r"normalizes 3 channels.*have 1")
    _refused(student, images=np.zeros((4, 32, 32, 3), np.float32), match=r"uint8")
    _refused(student, match=r"method must be one of", method="kl")
    _refused(_Custom([nn.Conv2d(3, 4, 3, dilation=2)], nn.Identity(), head(4 * 28 * 28)).eval(),
             match=r"features\.0 \(Conv2d\): groups and dilation")


def test_export_and_compare_stay_functions_after_importing_their_modules(trained, tmp_path):
    import fdal.training.int8_export as export_module
    import fdal.training.parity as parity_module
    assert ft.export is export_module.export and ft.compare is parity_module.compare
    with pytest.raises(ValueError, match="labels has 3 entries"):
        ft.compare(trained["student"], trained["sampler"], trained["path"], trained["xte"][:5], [0, 1, 2])


# --- the embedding output (docs/export.md, "Embedding") ------------------------------------------

def test_default_export_writes_the_student_embedding_z_bit_exact_and_close_to_float(trained):
    spec, model = trained["spec"], fdal.load(trained["path"])
    assert spec.version == (2, 0) and spec.embedding_layer == 5 and spec.layers[5].op == "maxpool"  # z
    info = model.info
    assert (info["embedding_layer"], info["embedding_dim"]) == (5, 256)
    assert info["embedding_scale"] == spec.layers[5].out_scale
    assert info["embedding_zero_point"] == spec.layers[5].out_zero_point
    images = trained["xte"][:64]
    out, ref = model.forward(images), oracle.forward(spec, images)
    np.testing.assert_array_equal(out["embedding_q"], ref["embedding_q"])
    np.testing.assert_array_equal(out["embedding"], ref["embedding"])
    # The int8 z against the float z, on the calibration images and on unseen ones.
    for images in (trained["xtr"][:500], trained["xte"]):
        rep = ft.compare(trained["student"], trained["sampler"], trained["path"], images)
        print(format_report(rep))
        assert rep["embedding_dim"] == 256
        assert rep["embedding_cosine_mean"] > 0.99 and rep["embedding_cosine_min"] > 0.95, format_report(rep)


@pytest.fixture(scope="module")
def decoder_export(trained, tmp_path_factory):
    """A Decoder fitted for a few steps (seconds) to a fixed random 512-d feature of the trained
    student's z (a stand-in for the teacher's), exported with embedding='decoder'."""
    torch.manual_seed(5)
    decoder = ft.models.Decoder()
    x = nhwc_pixels_to_unit_float(trained["xtr"][:256])
    with torch.no_grad():
        z = trained["student"](x)[0]
        target = torch.relu(z.flatten(1) @ torch.randn(256, 512) / 16)
    opt = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    for _ in range(10):
        loss = nn.functional.mse_loss(decoder(z).flatten(1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    decoder.eval()
    path = str(tmp_path_factory.mktemp("decoder") / "decoder.fdal")
    spec = ft.export(trained["student"], trained["sampler"], trained["xtr"][:500], path, embedding="decoder",
                     decoder=decoder)
    return dict(decoder=decoder, path=path, spec=spec)


def test_decoder_embedding_is_its_own_branch_bit_exact_and_close_to_float(trained, decoder_export):
    spec, path = decoder_export["spec"], decoder_export["path"]
    n_student = len(trained["spec"].layers)
    assert [l.op for l in spec.layers[n_student:]] == ["conv2d", "conv2d", "avgpool"]
    assert spec.embedding_layer == len(spec.layers) - 1 and spec.layers[n_student].input == 5  # reads z
    assert spec.layers[-1].out_shape == (1, 1, 512)
    model = fdal.load(path)
    assert model.embedding_dim == 512
    images = trained["xte"][:32]
    for kernels in fdal.kernel_paths():
        out = fdal.load(path, kernels=kernels).forward(images)
        ref = oracle.forward(spec, images)
        np.testing.assert_array_equal(out["embedding_q"], ref["embedding_q"], err_msg=kernels)
        np.testing.assert_array_equal(out["logits_raw"], ref["logits_raw"], err_msg=kernels)
    rep = ft.compare(trained["student"], trained["sampler"], path, trained["xtr"][:500],
                     decoder=decoder_export["decoder"])
    print(format_report(rep))
    assert rep["embedding_dim"] == 512 and rep["embedding_cosine_mean"] > 0.99, format_report(rep)
    # The heads are the default export's, unchanged by the extra branch.
    same = fdal.load(trained["path"]).forward(images)
    np.testing.assert_array_equal(out["logits_raw"], same["logits_raw"])
    np.testing.assert_array_equal(out["score_raw"], same["score_raw"])
    with pytest.raises(ValueError, match="pass decoder="):
        ft.compare(trained["student"], trained["sampler"], path, images)


def test_export_without_embedding_and_the_error_a_pool_level_rule_gets(trained, tmp_path):
    path = tmp_path / "plain.fdal"
    spec = ft.export(trained["student"], trained["sampler"], trained["xtr"][:200], path, embedding=None)
    model = fdal.load(path)
    assert spec.embedding_layer == -1 and not model.has_embedding and model.embedding_dim == 0
    assert "embedding" not in model.forward(trained["xte"][:4])
    with pytest.raises(ValueError, match=r"'k-center' needs per-image embeddings.*re-export it with `fdal export`"):
        model.require_embedding("k-center")
    fdal.load(trained["path"]).require_embedding("k-center")  # the default export has one
    assert "embedding_cosine_mean" not in ft.compare(trained["student"], trained["sampler"], str(path),
                                                     trained["xte"][:50])


def test_embedding_arguments_are_checked():
    student = ft.models.Student().eval()
    _refused(student, match=r"embedding must be one of", embedding="teacher")
    _refused(student, match=r"embedding='decoder' needs decoder=", embedding="decoder")
    _refused(student, match=r"decoder= is exported only with embedding='decoder'", decoder=ft.models.Decoder())
    wide = _Custom([nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)], nn.AdaptiveAvgPool2d(4),
                   [nn.Flatten(), nn.Linear(32 * 16, 4)])  # z: 16x16x32
    _refused(wide.eval(), match=r"8192 values per image, more than the format's 4096; export with embedding=None")
    ft.export(wide, None, testing.random_images(0, 8), None, embedding=None)
