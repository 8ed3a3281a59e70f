"""Pure-torch twins of the native ops: the test oracle, and the path for tensors the native
core does not cover (CUDA, half precision). Same signatures and shapes as graphsci.ops; the
gradients come from torch autograd. Messages are materialised per edge here, which is the
memory cost the native kernels avoid."""
from __future__ import annotations

import torch

from graphsci.graph import Graph

_BINARY = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
    "copy_lhs": lambda a, b: a, "copy_rhs": lambda a, b: b,
}


def _expand(a: torch.Tensor, rows: int, H: int, D: int) -> torch.Tensor:
    return a.expand(rows, H, D)


def segment_scatter(values: torch.Tensor, index: torch.Tensor, num_rows: int, reduce: str):
    """Reduces rows of ``values`` into ``num_rows`` rows by ``index``; empty rows are 0."""
    out_shape = (num_rows,) + tuple(values.shape[1:])
    idx = index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    if reduce in ("sum", "mean"):
        out = values.new_zeros(out_shape).scatter_add(0, idx, values)
        if reduce == "mean":
            count = torch.bincount(index, minlength=num_rows).clamp(min=1)
            out = out / count.view(-1, *([1] * (values.dim() - 1))).to(values.dtype)
        return out
    amax = "amax" if reduce == "max" else "amin"
    return values.new_zeros(out_shape).scatter_reduce(0, idx, values, amax, include_self=False)


def spmm(g: Graph, x3: torch.Tensor | None, e3: torch.Tensor | None, op: str, reduce: str):
    """out[v] = reduce over edges (u, v) of op(x[u], e[edge]); operands are (R, H, D)."""
    H, D = torch.broadcast_shapes(*(t.shape[1:] for t in (x3, e3) if t is not None))
    E = g.num_edges
    lhs = _expand(x3[g.src], E, H, D) if x3 is not None else None
    rhs = _expand(e3, E, H, D) if e3 is not None else None
    if op == "copy_u":
        msg = lhs
    elif op == "copy_e":
        msg = rhs
    else:
        msg = _BINARY[op[2:5]](lhs, rhs)
    return segment_scatter(msg, g.dst, g.num_nodes, reduce)


def sddmm(g: Graph, a3, b3, op: str, a_target: str, b_target: str):
    """One value per edge from operands on its source (u), destination (v) or the edge (e)."""
    pick = {"u": g.src, "v": g.dst}
    a = a3[pick[a_target]] if a_target in pick else a3
    b = b3[pick[b_target]] if b_target in pick else b3
    if op == "dot":
        return (a * b).sum(-1, keepdim=True)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    return _BINARY[op](a, b).expand(shape).clone()


def edge_softmax(g: Graph, score2: torch.Tensor) -> torch.Tensor:
    """Softmax of (E, H) scores over each node's incoming edges."""
    mx = segment_scatter(score2.detach(), g.dst, g.num_nodes, "max")
    # rows that are all -inf (fully masked) give zeros; NaN or +inf give NaN, as torch.softmax
    mx = torch.where(mx == float("-inf"), torch.zeros_like(mx), mx)
    ex = torch.exp(score2 - mx[g.dst])
    total = segment_scatter(ex, g.dst, g.num_nodes, "sum")
    safe = torch.where(total == 0, torch.ones_like(total), total)
    return torch.where(total[g.dst] == 0, torch.zeros_like(ex), ex / safe[g.dst])


def segment_reduce(x2: torch.Tensor, lengths: torch.Tensor, reduce: str) -> torch.Tensor:
    """Reduces consecutive row segments of ``x2`` (L, F) with the given lengths."""
    index = torch.repeat_interleave(torch.arange(lengths.numel(), device=x2.device), lengths.to(x2.device))
    return segment_scatter(x2, index, lengths.numel(), reduce)
