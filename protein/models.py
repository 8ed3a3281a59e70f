"""Residue-graph networks: edge-feature-aware message passing over the geometric features,
then a readout per protein (graph-level tasks) or a head per residue (residue-level tasks)."""
from __future__ import annotations

import torch
from torch import nn

from graphsci.graph import Graph
from graphsci.nn import AttentionReadout, Dropout, EdgeMessageConv, MaxReadout, MeanReadout, SumReadout


# readout name -> module for a given hidden size
READOUTS = {"mean": lambda hidden: MeanReadout(), "sum": lambda hidden: SumReadout(),
            "max": lambda hidden: MaxReadout(), "attention": lambda hidden: AttentionReadout(nn.Linear(hidden, 1))}


class ProteinGNN(nn.Module):
    """``edge_dim=0`` makes the geometry-free variant (messages from residue states alone)."""

    def __init__(self, node_dim: int, edge_dim: int, n_out: int, hidden: int = 128, depth: int = 4,
                 dropout: float = 0.1, level: str = "graph", readout: str = "mean"):
        super().__init__()
        if level not in ("graph", "residue"):
            raise ValueError(f"level must be 'graph' or 'residue', got {level!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        self.level, self.edge_dim = level, edge_dim
        self.embed = nn.Sequential(nn.Linear(node_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.edge_embed = nn.Linear(edge_dim, hidden) if edge_dim else None
        self.layers = nn.ModuleList([EdgeMessageConv(hidden, hidden if edge_dim else 0, dropout)
                                     for _ in range(depth)])
        # max and attention pooling suit labels decided by a few residues (a pocket, a flap tip)
        # that a mean over the whole chain would dilute.
        self.readout = READOUTS[readout](hidden) if level == "graph" else None
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), Dropout(dropout),
                                  nn.Linear(hidden, n_out))

    def embed_nodes(self, g: Graph, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x)
        ef = self.edge_embed(e) if self.edge_embed is not None else None
        for layer in self.layers:
            h = layer(g, h, ef)
        return h

    def forward(self, g: Graph, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed_nodes(g, x, e)
        if self.readout is not None:
            h = self.readout(g, h)
        return self.head(h)
