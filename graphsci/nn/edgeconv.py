"""Message passing conditioned on edge features (e.g. geometry): the message from u to v is a
learned function of [h_u, h_v, e_uv], averaged over v's in-edges."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from graphsci import ops
from graphsci.graph import Graph
from graphsci.nn.functional import Dropout


class EdgeMessageConv(nn.Module):
    """``m_uv = W_m act(A h_u + B h_v + C e_uv)``; ``h_v <- norm(h_v + W_o [h_v, agg_u m_uv])``.

    ``A h_u`` and ``B h_v`` are computed per node and gathered (nodes are far fewer than edges),
    so a layer costs two hidden x hidden products per edge. ``edge_feats=0`` gives the same
    layer without edge features (messages from node states alone)."""

    def __init__(self, hidden: int, edge_feats: int = 0, dropout: float = 0.0, aggregator: str = "mean"):
        super().__init__()
        if aggregator not in ("sum", "mean", "max"):
            raise ValueError(f"unknown aggregator {aggregator!r}; expected sum, mean or max")
        self.edge_feats, self.aggregator = edge_feats, aggregator
        self.src_in = nn.Linear(hidden, hidden)
        self.dst_in = nn.Linear(hidden, hidden, bias=False)
        self.edge_in = nn.Linear(edge_feats, hidden, bias=False) if edge_feats else None
        self.message = nn.Linear(hidden, hidden)
        self.out = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = Dropout(dropout)

    def forward(self, g: Graph, h: torch.Tensor, edge_feats: torch.Tensor | None = None) -> torch.Tensor:
        z = self.src_in(h)[g.src] + self.dst_in(h)[g.dst]
        if self.edge_in is not None:
            if edge_feats is None or edge_feats.shape[-1] != self.edge_feats:
                raise ValueError(f"this layer expects {self.edge_feats} edge features")
            z = z + self.edge_in(edge_feats)
        msg = self.message(F.silu(z))
        agg = ops.spmm(g, e=msg, op="copy_e", reduce=self.aggregator)
        return self.norm(h + self.dropout(self.out(torch.cat([h, agg], 1))))
