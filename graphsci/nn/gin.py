"""Graph isomorphism network layer (Xu et al., ICLR 2019)."""
from __future__ import annotations

import torch
from torch import nn

from graphsci import ops
from graphsci.graph import Graph


class GINConv(nn.Module):
    """``h_v = mlp((1 + eps) x_v + agg_{u->v} x_u)``; ``eps`` is learnable with ``train_eps``."""

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False,
                 aggregator: str = "sum"):
        super().__init__()
        if aggregator not in ("sum", "mean", "max"):
            raise ValueError(f"unknown aggregator {aggregator!r}; expected sum, mean or max")
        self.mlp, self.aggregator = mlp, aggregator
        eps_t = torch.tensor([float(eps)])
        if train_eps:
            self.eps = nn.Parameter(eps_t)
        else:
            self.register_buffer("eps", eps_t)

    def forward(self, g: Graph, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((1 + self.eps) * x + ops.spmm(g, x, reduce=self.aggregator))
