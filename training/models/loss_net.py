"""LL4AL's loss-prediction module (Yoo & Kweon, CVPR 2019), read by the ll4al strategy."""
import torch
import torch.nn as nn


class LossNet(nn.Module):
    """Predicts a sample's training loss from the student's feature maps: global average pool ->
    Linear `width` -> ReLU per map, concatenated -> Linear 1. forward(feats) -> (N,)."""

    def __init__(self, channels, width: int = 128):
        super().__init__()
        if not channels:
            raise ValueError("LossNet needs at least one feature map")
        self.heads = nn.ModuleList(nn.Linear(c, width) for c in channels)
        self.out = nn.Linear(width * len(channels), 1)

    def forward(self, feats):
        if len(feats) != len(self.heads):
            raise ValueError(f"LossNet expects {len(self.heads)} feature maps, got {len(feats)}")
        h = [torch.relu(head(f.float().mean((2, 3)))) for head, f in zip(self.heads, feats)]
        return self.out(torch.cat(h, 1)).squeeze(1)
