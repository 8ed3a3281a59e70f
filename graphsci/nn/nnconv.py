"""Edge-conditioned convolution (Gilmer et al., ICML 2017; Simonovsky & Komodakis, CVPR 2017)."""
from __future__ import annotations

import torch
from torch import nn

from graphsci import ops
from graphsci.graph import Graph


class NNConv(nn.Module):
    """``h_v = W_root x_v + agg_{u->v} x_u Theta(e_uv) + b`` with ``Theta`` an edge network that
    maps each edge's features to an ``(in_feats, out_feats)`` matrix."""

    def __init__(self, in_feats: int, out_feats: int, edge_nn: nn.Module, aggregator: str = "sum",
                 root_weight: bool = True, bias: bool = True):
        super().__init__()
        if aggregator not in ("sum", "mean", "max"):
            raise ValueError(f"unknown aggregator {aggregator!r}; expected sum, mean or max")
        self.in_feats, self.out_feats = in_feats, out_feats
        self.edge_nn, self.aggregator = edge_nn, aggregator
        self.root = nn.Linear(in_feats, out_feats, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.zeros(out_feats)) if bias else None

    def forward(self, g: Graph, x: torch.Tensor, edge_feats: torch.Tensor) -> torch.Tensor:
        theta = self.edge_nn(edge_feats).view(-1, self.in_feats, self.out_feats)
        # Per-edge weights make the message a batched matrix product: it has to exist per edge.
        msg = torch.bmm(x[g.src].unsqueeze(1), theta).squeeze(1)
        out = ops.spmm(g, e=msg, op="copy_e", reduce=self.aggregator)
        if self.root is not None:
            out = out + self.root(x)
        return out + self.bias if self.bias is not None else out
