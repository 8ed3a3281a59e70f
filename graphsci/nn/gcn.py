"""Graph convolution (Kipf & Welling, ICLR 2017)."""
from __future__ import annotations

import torch
from torch import nn

from graphsci import ops
from graphsci.graph import Graph
from graphsci.nn.functional import is_sparse, linear


def gcn_norm(g: Graph, edge_weight: torch.Tensor | None = None, add_self_loops: bool = True):
    """``(graph, weights)`` with weights ``w_uv / sqrt(d_u d_v)`` where ``d`` is the weighted
    in-degree (self-loops of weight 1 added first when asked). Without edge weights the result
    depends on the structure alone and is memoised on the (immutable) graph."""
    def compute(w):
        h = g
        if add_self_loops:
            h, w = (g.add_self_loops(), None) if w is None else g.add_self_loops(w, 1.0)
        deg = h.in_degrees().to(torch.float32) if w is None else ops.spmm(h, e=w, op="copy_e")
        inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
        norm = ops.sddmm(h, inv_sqrt, inv_sqrt, "mul", "u", "v")
        return h, norm if w is None else norm * w

    if edge_weight is None:
        return g.memo(f"gcn_norm:{add_self_loops}", lambda: compute(None))
    return compute(edge_weight)


class GCNConv(nn.Module):
    """``h_v = W sum_u w_uv / sqrt(d_u d_v) x_u + b`` over in-edges (self-loops added)."""

    def __init__(self, in_feats: int, out_feats: int, bias: bool = True, add_self_loops: bool = True):
        super().__init__()
        self.in_feats, self.out_feats = in_feats, out_feats
        self.add_self_loops = add_self_loops
        self.linear = nn.Linear(in_feats, out_feats, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_feats)) if bias else None

    def forward(self, g: Graph, x: torch.Tensor, edge_weight: torch.Tensor | None = None):
        """``x`` is dense ``(N, in_feats)`` or a sparse COO matrix (e.g. bag-of-words)."""
        h, norm = gcn_norm(g, edge_weight, self.add_self_loops)
        norm = norm.to(x.dtype)
        if self.in_feats > self.out_feats or is_sparse(x):  # project first: fewer features move
            out = ops.spmm(h, linear(x, self.linear.weight), norm, "u_mul_e")
        else:
            out = self.linear(ops.spmm(h, x, norm, "u_mul_e"))
        return out + self.bias if self.bias is not None else out
