"""Softmax of edge scores over each node's incoming edges (attention normalisation)."""
from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from graphsci import _native
from graphsci.graph import Graph
from graphsci.ops import _raw, reference
from graphsci.ops._checks import check_graph, check_values


class _EdgeSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g: Graph, score2):
        out = _raw.edge_softmax_forward(g.csr, score2)
        ctx.save_for_backward(out)
        ctx.g = g
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return None, _raw.edge_softmax_backward(ctx.g.csr, y, grad)


def edge_softmax(g: Graph, scores: torch.Tensor) -> torch.Tensor:
    """``softmax`` of ``scores`` over the incoming edges of each destination node.

    ``scores`` is ``(E,)``, ``(E, H)`` or ``(E, H, 1)`` in the graph's edge order; each head is
    normalised on its own. Stable for large scores; a node whose scores are all ``-inf`` gets 0.
    """
    g = check_graph(g)
    scores = check_values(scores, "scores", g.num_edges, "edges", g)
    s2 = scores.reshape(g.num_edges, math.prod(scores.shape[1:])).contiguous()
    if _native.covers(scores):
        out = _EdgeSoftmax.apply(g, s2) if _native.needs_grad(scores) else _raw.edge_softmax_forward(g.csr, s2)
    else:
        out = reference.edge_softmax(g, s2)
    return out.reshape(scores.shape)
