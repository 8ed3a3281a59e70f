"""Generalised SDDMM: one value per edge from operands on its source (u), destination (v) or
the edge itself (e), e.g. attention logits ``a_src[u] + a_dst[v]`` or ``<q[v], k[u]>``."""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from graphsci import _native
from graphsci.graph import Graph
from graphsci.ops import _raw, reference
from graphsci.ops._checks import (SDDMM_OPS, TARGETS, as_3d, broadcast_hd, check_choice,
                                  check_graph, check_values, reduce_to, same_dtype)


def _gather(g: Graph, t3: torch.Tensor, target: str) -> torch.Tensor:
    return t3[g.src] if target == "u" else t3[g.dst] if target == "v" else t3


def _accumulate(g: Graph, P: torch.Tensor, target: str) -> torch.Tensor:
    """Sums per-edge values P (E, H, D) into the rows of the operand's target."""
    if target == "e":
        return P
    rows = g.csc if target == "u" else g.csr
    out, _ = _raw.spmm(rows, None, P, "copy_rhs", "sum", P.shape[1], P.shape[2])
    return out


def _grad_through_product(g: Graph, G, other3, this_target, other_target, H, D):
    """Gradient of sum_e G[e] * other[other_target(e)] into this operand's rows. When the two
    operands sit on opposite ends of the edge this is one fused SpMM; otherwise the per-edge
    product is formed first."""
    if {this_target, other_target} == {"u", "v"}:
        rows = g.csc if this_target == "u" else g.csr
        out, _ = _raw.spmm(rows, other3, G, "mul", "sum", H, D)
        return out
    return _accumulate(g, (G * _gather(g, other3, other_target)).expand(-1, H, D).contiguous(), this_target)


class _SDDMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g: Graph, a3, b3, op: str, a_target: str, b_target: str, H: int, D: int):
        out = _raw.sddmm(g, a3, a_target, b3, b_target, op, H, D)
        ctx.save_for_backward(a3, b3)
        ctx.g, ctx.op, ctx.targets, ctx.H, ctx.D = g, op, (a_target, b_target), H, D
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        a3, b3 = ctx.saved_tensors
        g, op, (ta, tb), H, D = ctx.g, ctx.op, ctx.targets, ctx.H, ctx.D
        G = grad_out.contiguous()
        ga = gb = None
        if ctx.needs_input_grad[1]:
            if op in ("add", "sub", "copy_lhs"):
                full = _accumulate(g, G, ta)
            elif op in ("mul", "dot"):
                full = _grad_through_product(g, G, b3, ta, tb, H, D)
            else:  # div: d(a/b)/da = 1/b
                full = _accumulate(g, (G / _gather(g, b3, tb)).expand(-1, H, D).contiguous(), ta)
            ga = reduce_to(full, a3.shape)
        if ctx.needs_input_grad[2]:
            if op in ("add", "copy_rhs"):
                full = _accumulate(g, G, tb)
            elif op == "sub":
                full = -_accumulate(g, G, tb)
            elif op in ("mul", "dot"):
                full = _grad_through_product(g, G, a3, tb, ta, H, D)
            else:  # div: d(a/b)/db = -a/b^2
                b = _gather(g, b3, tb)
                P = -G * _gather(g, a3, ta) / (b * b)
                full = _accumulate(g, P.expand(-1, H, D).contiguous(), tb)
            gb = reduce_to(full, b3.shape)
        return None, ga, gb, None, None, None, None, None


def sddmm(g: Graph, lhs: torch.Tensor | None, rhs: torch.Tensor | None, op: str = "dot",
          lhs_target: str = "u", rhs_target: str = "v") -> torch.Tensor:
    """Per-edge ``op(lhs[lhs_target], rhs[rhs_target])``.

    Targets: ``u`` (source node, operand has N rows), ``v`` (destination node, N rows) or ``e``
    (the edge, E rows). Operands are ``(R,)``, ``(R, D)`` or ``(R, H, D)``; a 2-D operand
    against a 3-D one is read as one scalar per head. Ops: ``add``, ``sub``, ``mul``, ``div``,
    ``dot`` (contracts the feature axis: ``(E, 1)`` or ``(E, H, 1)``), ``copy_lhs``,
    ``copy_rhs``. The result has the operands' number of dimensions.
    """
    g = check_graph(g)
    check_choice(op, SDDMM_OPS, "op")
    check_choice(lhs_target, TARGETS, "lhs_target")
    check_choice(rhs_target, TARGETS, "rhs_target")
    need_l, need_r = op != "copy_rhs", op != "copy_lhs"
    rows = {"u": (g.num_nodes, "nodes"), "v": (g.num_nodes, "nodes"), "e": (g.num_edges, "edges")}
    if need_l and lhs is None:
        raise ValueError(f"op {op!r} needs lhs")
    if need_r and rhs is None:
        raise ValueError(f"op {op!r} needs rhs")
    lhs = check_values(lhs, "lhs", *rows[lhs_target], g) if need_l else None
    rhs = check_values(rhs, "rhs", *rows[rhs_target], g) if need_r else None
    same_dtype(lhs, rhs, "lhs", "rhs")
    dims = max(t.dim() for t in (lhs, rhs) if t is not None)
    a3 = as_3d(lhs, as_heads=dims == 3) if lhs is not None else None
    b3 = as_3d(rhs, as_heads=dims == 3) if rhs is not None else None
    H, D = broadcast_hd(a3, b3, "lhs", "rhs")
    if _native.covers(lhs, rhs):
        if _native.needs_grad(lhs, rhs):
            out3 = _SDDMM.apply(g, a3, b3, op, lhs_target, rhs_target, H, D)
        else:
            out3 = _raw.sddmm(g, a3, lhs_target, b3, rhs_target, op, H, D)
    else:
        # The reference gathers both operands; an absent one is stood in for by the other.
        a = a3 if a3 is not None else b3
        b = b3 if b3 is not None else a3
        ta = lhs_target if a3 is not None else rhs_target
        tb = rhs_target if b3 is not None else lhs_target
        out3 = reference.sddmm(g, a, b, op, ta, tb)
    E, Do = g.num_edges, out3.shape[2]
    if dims == 3:
        return out3
    if dims == 2:
        return out3.reshape(E, Do)
    return out3.reshape(E)
