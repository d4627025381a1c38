"""LL4AL as the original (Mephisto405/Learning-Loss-for-Active-Learning): the loss-prediction module
reads the student's block outputs (after each block's ReLU and pooling), read without hooks."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from fdal.training.data import make_synthetic  # noqa: E402
from fdal.training.models import AlexNetLite, LossNet, Student  # noqa: E402
from fdal.training.strategies import SelectionContext, select  # noqa: E402
from fdal.training.student_training import FdalConfig, train_cycle  # noqa: E402

SEED = 3


def by_hand(student, x):
    """Each block's output computed layer by layer with out-of-place ReLUs."""
    f, h, outs = student.features, student.normalize(x), []
    for block in student.block_slices:
        for layer in f[block]:
            h = F.relu(h) if isinstance(layer, nn.ReLU) else layer(h)
        outs.append(h)
    return outs


@pytest.mark.parametrize("arch, shapes", [
    (Student, [(16, 8, 8), (32, 4, 4), (64, 2, 2)]),
    (AlexNetLite, [(32, 16, 16), (64, 8, 8), (64, 2, 2)]),
])
def test_block_outputs_are_after_relu_and_pooling(arch, shapes):
    torch.manual_seed(SEED)
    student = arch(num_classes=5)
    ends = [s.stop for s in student.block_slices]
    assert [s.start for s in student.block_slices] == [0] + ends[:-1] and ends[-1] == len(student.features)
    for s in student.block_slices:
        kinds = [type(m) for m in student.features[s]]
        assert kinds[-1] is nn.MaxPool2d and kinds[-2] is nn.ReLU, kinds
    x = torch.rand(4, 3, 32, 32)
    z, logits, blocks = student.forward_blocks(x)
    assert [tuple(b.shape[1:]) for b in blocks] == shapes
    for got, want in zip(blocks, by_hand(student, x)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    z_ref, logits_ref = student(x)
    assert torch.equal(z, z_ref) and torch.equal(z, blocks[-1]) and torch.equal(logits, logits_ref)
    # hooks on the convolutions (the old way) would see pre-ReLU values once the ReLUs are not in place
    for m in student.features:
        if isinstance(m, nn.ReLU):
            m.inplace = False
    conv_outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: conv_outputs.append(o))
             for m in student.features if isinstance(m, nn.Conv2d)]
    student(x)
    for h in hooks:
        h.remove()
    assert any(bool((o < 0).any()) for o in conv_outputs) and all(bool((b >= 0).all()) for b in blocks)


def test_lossnet_is_the_originals_head():
    torch.manual_seed(SEED)
    feats = [torch.rand(6, 16, 8, 8), torch.rand(6, 32, 4, 4), torch.rand(6, 64, 2, 2)]
    net = LossNet([16, 32, 64])
    assert [(h.in_features, h.out_features) for h in net.heads] == [(16, 128), (32, 128), (64, 128)]
    assert (net.out.in_features, net.out.out_features) == (3 * 128, 1)
    # global average pool -> FC 128 -> ReLU per map, concatenated -> FC 1
    hidden = torch.cat([torch.relu(h(F.adaptive_avg_pool2d(f, 1).flatten(1))) for h, f in zip(net.heads, feats)], 1)
    torch.testing.assert_close(net(feats), net.out(hidden).squeeze(1))


def test_lossnet_reads_the_block_outputs_in_training_and_selection(monkeypatch):
    seen = []
    forward = LossNet.forward
    monkeypatch.setattr(LossNet, "forward", lambda self, feats: seen.append([f.detach() for f in feats])
                        or forward(self, feats))
    ds = make_synthetic(num_classes=3, n_train=90, n_test=6, seed=SEED)
    labeled, candidates = np.arange(32), np.arange(40, 90)
    out = train_cycle("ll4al", ds, labeled, np.arange(32, 90), FdalConfig(batch_size=16).scaled(1), seed=SEED)
    assert len(seen) == 2  # one per training batch
    for feats in seen:
        assert [tuple(f.shape[1:]) for f in feats] == [(16, 8, 8), (32, 4, 4), (64, 2, 2)]
        assert all(bool((f >= 0).all()) for f in feats)
    seen.clear()
    ctx = SelectionContext(ds, labeled, out, "cpu", batch_size=20)
    select("ll4al", ctx, candidates, 10, seed=0)
    with torch.no_grad():
        want = out.student.forward_blocks(ds.train_x[candidates].float() / 255)[2]
    got = [torch.cat([feats[i] for feats in seen]) for i in range(3)]
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
