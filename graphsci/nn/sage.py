"""GraphSAGE (Hamilton et al., NeurIPS 2017)."""
from __future__ import annotations

import torch
from torch import nn

from graphsci import ops
from graphsci.graph import Graph


class SAGEConv(nn.Module):
    """``h_v = W_self x_v + W_neigh agg_{u->v} x_u``; ``aggregator`` is ``mean``, ``max`` or
    ``pool`` (max over ``relu(W_pool x_u)``). Nodes without in-edges aggregate zeros."""

    def __init__(self, in_feats: int, out_feats: int, aggregator: str = "mean", bias: bool = True):
        super().__init__()
        if aggregator not in ("mean", "max", "pool"):
            raise ValueError(f"unknown aggregator {aggregator!r}; expected mean, max or pool")
        self.aggregator = aggregator
        self.fc_self = nn.Linear(in_feats, out_feats, bias=bias)
        self.fc_neigh = nn.Linear(in_feats, out_feats, bias=False)
        self.fc_pool = nn.Linear(in_feats, in_feats) if aggregator == "pool" else None

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        if self.aggregator == "mean":  # linear, so project before aggregating
            neigh = ops.spmm(g, self.fc_neigh(x), reduce="mean")
        elif self.aggregator == "max":
            neigh = self.fc_neigh(ops.spmm(g, x, reduce="max"))
        else:
            neigh = self.fc_neigh(ops.spmm(g, torch.relu(self.fc_pool(x)), reduce="max"))
        return self.fc_self(x) + neigh
