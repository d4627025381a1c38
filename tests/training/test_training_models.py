"""fdal.training.models: shapes, parameter counts, normalization buffers, exportable layer types."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from fdal.training.models import AlexNetLite, Decoder, Sampler, Student, Teacher, make_student  # noqa: E402

pytestmark = pytest.mark.torch


def _x(n=3, seed=0):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_student_shapes_and_parameter_count():
    s = Student(num_classes=10)
    z, logits = s(_x())
    assert z.shape == (3, 64, 2, 2) and logits.shape == (3, 10)
    n_params = sum(p.numel() for p in s.parameters())
    # conv 448 + 4,640 + 18,496, fc 524,800 + 5,130
    assert n_params == 553_514
    assert Student(num_classes=100)(_x())[1].shape == (3, 100)


def test_student_layers_are_walkable_in_order():
    s = Student()
    kinds = [type(m).__name__ for m in s.features]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d"] * 3
    assert [m.kernel_size for m in s.features if isinstance(m, nn.MaxPool2d)] == [4, 2, 2]
    assert s.pool.output_size == (4, 4)
    assert [type(m).__name__ for m in s.classifier] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert s.classifier[1].in_features == 1024 and s.classifier[1].out_features == 512


def test_student_pool_replicates_each_value():
    s = Student()
    z = s.features(s.normalize(_x()))
    rep = s.pool(z)
    assert torch.equal(rep, z.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))


def test_normalization_buffers_are_in_state_dict_and_used():
    s = Student(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    sd = s.state_dict()
    assert torch.equal(sd["mean"], torch.tensor([0.5, 0.5, 0.5]))
    assert torch.equal(sd["std"], torch.tensor([0.25, 0.25, 0.25]))
    x = _x()
    t = Student()
    t.load_state_dict(sd)
    assert torch.equal(t(x)[1], s(x)[1])
    # Forward normalizes internally: equal to running the layers on (x - mean) / std by hand.
    manual = s.classifier(s.pool(s.features((x - 0.5) / 0.25)))
    assert torch.allclose(s(x)[1], manual)
    s.set_normalization((0.4, 0.4, 0.4), (0.2, 0.2, 0.2))
    assert not torch.allclose(s(x)[1], manual)


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="std"):
        Student(std=(0.2, 0.0, 0.2))
    with pytest.raises(ValueError, match="float"):
        Student()(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        Student()(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="arch"):
        Teacher(arch="resnet1000")
    with pytest.raises(ValueError, match="student"):
        make_student("mobilenet")


def test_alexnet_lite_contract_and_exportable_layers():
    m = AlexNetLite(num_classes=10).eval()
    z, logits = m(_x())
    assert z.shape == (3, 64, 2, 2) and logits.shape == (3, 10)
    allowed = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Linear, nn.Sequential)
    for name, mod in m.named_modules():
        assert name == "" or isinstance(mod, allowed), f"{name}: {type(mod).__name__} cannot be exported"
    assert "mean" in m.state_dict() and "std" in m.state_dict()


@pytest.mark.parametrize("arch", ["vgg19", "small"])
def test_teacher_feature_shape(arch):
    t = Teacher(num_classes=10, arch=arch).eval()
    feature, logits = t(_x(2))
    assert feature.shape == (2, 512, 1, 1) and logits.shape == (2, 10)
    assert "mean" in t.state_dict()


def test_vgg19_teacher_layout():
    t = Teacher(arch="vgg19")
    convs = [m.out_channels for m in t.features if isinstance(m, nn.Conv2d)]
    assert convs == [64, 64, 128, 128] + [256] * 4 + [512] * 8
    assert sum(isinstance(m, nn.BatchNorm2d) for m in t.features) == 16
    assert sum(isinstance(m, nn.MaxPool2d) for m in t.features) == 5


def test_small_teacher_is_much_smaller():
    small = sum(p.numel() for p in Teacher(arch="small").parameters())
    big = sum(p.numel() for p in Teacher(arch="vgg19").parameters())
    assert small * 5 < big


def test_decoder_matches_teacher_feature_exactly():
    z, _ = Student()(_x(4))
    out = Decoder(in_channels=64, out_channels=512)(z)
    feature, _ = Teacher(arch="small")(_x(4))
    assert out.shape == feature.shape == (4, 512, 1, 1)
    with pytest.raises(ValueError, match="64"):
        Decoder()(torch.zeros(4, 32, 2, 2))


def test_sampler_probability_and_logit():
    z, _ = Student()(_x(5))
    s = Sampler(in_features=256)
    p, logit = s(z), s.logit(z)
    assert p.shape == (5,) and logit.shape == (5,)
    assert torch.allclose(p, torch.sigmoid(logit))
    assert bool(((p > 0) & (p < 1)).all())
    with pytest.raises(ValueError, match="256"):
        s(torch.zeros(5, 64, 4, 4))
