"""Graph attention (Velickovic et al., ICLR 2018)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from graphsci import ops
from graphsci.graph import Graph
from graphsci.nn.functional import Dropout, dropout, linear


class GATConv(nn.Module):
    """Multi-head attention over in-edges:
    ``a_uv = softmax_u(LeakyReLU(a_l . W x_u + a_r . W x_v [+ a_e . W_e e_uv]))``,
    ``h_v = || or mean over heads of sum_u a_uv W x_u``.

    ``x`` is dense or a sparse COO matrix. Returns ``(N, heads * out_feats)`` when ``concat``
    else ``(N, out_feats)``. Self-loops are
    added (as in the paper) unless ``add_self_loops=False``; edge features then get zero rows.
    """

    def __init__(self, in_feats: int, out_feats: int, heads: int = 1, feat_drop: float = 0.0,
                 attn_drop: float = 0.0, negative_slope: float = 0.2, concat: bool = True,
                 edge_feats: int | None = None, add_self_loops: bool = True, bias: bool = True):
        super().__init__()
        self.heads, self.out_feats, self.concat = heads, out_feats, concat
        self.add_self_loops = add_self_loops
        self.fc = nn.Linear(in_feats, heads * out_feats, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, heads, out_feats))
        self.attn_r = nn.Parameter(torch.empty(1, heads, out_feats))
        self.fc_edge = nn.Linear(edge_feats, heads * out_feats, bias=False) if edge_feats else None
        self.attn_e = nn.Parameter(torch.empty(1, heads, out_feats)) if edge_feats else None
        self.feat_drop, self.attn_drop = feat_drop, Dropout(attn_drop)
        self.negative_slope = negative_slope
        self.bias = nn.Parameter(torch.zeros(heads * out_feats if concat else out_feats)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_normal_(self.fc.weight, gain=gain)
        for p in (self.attn_l, self.attn_r, self.attn_e):
            if p is not None:
                nn.init.xavier_normal_(p, gain=gain)
        if self.fc_edge is not None:
            nn.init.xavier_normal_(self.fc_edge.weight, gain=gain)

    def forward(self, g: Graph, x: torch.Tensor, edge_feats: torch.Tensor | None = None,
                return_attention: bool = False):
        if (edge_feats is None) != (self.fc_edge is None):
            raise ValueError("edge_feats must be given exactly when the layer was built with edge_feats")
        if self.add_self_loops:
            if edge_feats is None:
                g = g.memo("self_loops", g.add_self_loops)
            else:
                g, edge_feats = g.add_self_loops(edge_feats, 0.0)
        z = linear(dropout(x, self.feat_drop, self.training), self.fc.weight)
        z = z.view(-1, self.heads, self.out_feats)
        el, er = (z * self.attn_l).sum(-1), (z * self.attn_r).sum(-1)  # (N, H)
        score = ops.sddmm(g, el, er, "add", "u", "v")                   # (E, H)
        if edge_feats is not None:
            ze = self.fc_edge(edge_feats).view(-1, self.heads, self.out_feats)
            score = score + (ze * self.attn_e).sum(-1)
        alpha = self.attn_drop(ops.edge_softmax(g, F.leaky_relu(score, self.negative_slope)))
        out = ops.spmm(g, z, alpha, "u_mul_e")                          # (N, H, D)
        out = out.flatten(1) if self.concat else out.mean(1)
        if self.bias is not None:
            out = out + self.bias
        return (out, alpha) if return_attention else out
