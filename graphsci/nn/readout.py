"""Graph-level readouts over a batch: one vector per member graph."""
from __future__ import annotations

import torch
from torch import nn

from graphsci import ops
from graphsci.graph import Graph


def segment_softmax(scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Softmax of per-node ``scores`` (N, ...) within each graph of a batch."""
    mx = ops.segment_reduce(scores.detach(), lengths, "max")
    ex = torch.exp(scores - mx.repeat_interleave(lengths, dim=0))
    total = ops.segment_reduce(ex, lengths, "sum")
    return ex / total.repeat_interleave(lengths, dim=0)


class _Pool(nn.Module):
    reduce = "sum"

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        return ops.segment_reduce(x, g.batch_num_nodes.to(x.device), self.reduce)


class SumReadout(_Pool):
    """Sum of node features per graph (an empty graph gives zeros)."""
    reduce = "sum"


class NormReadout(_Pool):
    """Sum of node features per graph divided by a constant ``norm`` (chemprop's default
    aggregation, norm 100). Unlike the mean it keeps the size of the molecule, which properties
    such as solubility depend on; unlike the plain sum it keeps the head's inputs near unit
    scale at initialisation, which the optimisation needs."""

    def __init__(self, norm: float = 100.0):
        super().__init__()
        if not norm > 0:
            raise ValueError(f"norm must be positive, got {norm}")
        self.norm = float(norm)

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        return super().forward(g, x) / self.norm


class MeanReadout(_Pool):
    """Mean of node features per graph (an empty graph gives zeros)."""
    reduce = "mean"


class MaxReadout(_Pool):
    """Element-wise max of node features per graph (an empty graph gives zeros)."""
    reduce = "max"


class AttentionReadout(nn.Module):
    """Gated attention pooling (Li et al., ICLR 2016): ``sum_v softmax_v(gate(x_v)) feat(x_v)``."""

    def __init__(self, gate_nn: nn.Module, feat_nn: nn.Module | None = None):
        super().__init__()
        self.gate_nn, self.feat_nn = gate_nn, feat_nn

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        lengths = g.batch_num_nodes.to(x.device)
        gate = segment_softmax(self.gate_nn(x), lengths)
        feat = self.feat_nn(x) if self.feat_nn is not None else x
        return ops.segment_reduce(gate * feat, lengths, "sum")


class Set2Set(nn.Module):
    """Set2Set (Vinyals et al., ICLR 2016): ``n_iters`` LSTM-driven attention steps; returns
    ``(batch_size, 2 * in_feats)``."""

    def __init__(self, in_feats: int, n_iters: int = 3, n_layers: int = 1):
        super().__init__()
        self.in_feats, self.n_iters, self.n_layers = in_feats, n_iters, n_layers
        self.lstm = nn.LSTM(2 * in_feats, in_feats, n_layers)

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        lengths = g.batch_num_nodes.to(x.device)
        B = lengths.numel()
        h = (x.new_zeros(self.n_layers, B, self.in_feats), x.new_zeros(self.n_layers, B, self.in_feats))
        q_star = x.new_zeros(B, 2 * self.in_feats)
        for _ in range(self.n_iters):
            q, h = self.lstm(q_star.unsqueeze(0), h)
            q = q.view(B, self.in_feats)
            score = (x * q.repeat_interleave(lengths, dim=0)).sum(-1, keepdim=True)
            alpha = segment_softmax(score, lengths)
            readout = ops.segment_reduce(alpha * x, lengths, "sum")
            q_star = torch.cat([q, readout], dim=-1)
        return q_star
