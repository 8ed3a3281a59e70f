"""Generalised SpMM: aggregate a message computed from source-node and edge features over each
node's incoming edges, without materialising the messages."""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from graphsci import _native
from graphsci.graph import Graph
from graphsci.ops import _raw, reference
from graphsci.ops._checks import (REDUCERS, SPMM_OPS, as_3d, broadcast_hd, check_choice,
                                  check_graph, check_values, reduce_to, same_dtype)

# user-facing op -> kernel operator (lhs = source node operand, rhs = edge operand)
_KERNEL_OP = {"copy_u": "copy_lhs", "copy_e": "copy_rhs", "u_add_e": "add", "u_sub_e": "sub",
              "u_mul_e": "mul", "u_div_e": "div"}


def _take(t3: torch.Tensor, rows: torch.Tensor, H: int, D: int) -> torch.Tensor:
    """t3[rows] broadcast to (len(rows)..., H, D), indexing (h, d) per output element."""
    h = torch.arange(H).view(1, H, 1) if t3.shape[1] > 1 else torch.zeros(1, 1, 1, dtype=torch.long)
    d = torch.arange(D).view(1, 1, D) if t3.shape[2] > 1 else torch.zeros(1, 1, 1, dtype=torch.long)
    return t3[rows, h, d]


def _scatter_add_hd(num_rows: int, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """out[rows[n,h,d], h, d] += values[n,h,d] (deterministic index_add on CPU)."""
    _, H, D = values.shape
    flat = (rows * H + torch.arange(H).view(1, H, 1)) * D + torch.arange(D).view(1, 1, D)
    out = values.new_zeros(num_rows * H * D)
    out.index_add_(0, flat.reshape(-1), values.reshape(-1))
    return out.view(num_rows, H, D)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g: Graph, x3, e3, op: str, reduce: str, H: int, D: int):
        out, arg = _raw.spmm(g.csr, x3, e3, _KERNEL_OP[op], reduce, H, D)
        ctx.save_for_backward(x3, e3, arg)
        ctx.g, ctx.op, ctx.reduce, ctx.H, ctx.D = g, op, reduce, H, D
        if arg is not None:
            ctx.mark_non_differentiable(arg)
        return out, arg

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, _grad_arg):
        x3, e3, arg = ctx.saved_tensors
        g, op, H, D = ctx.g, ctx.op, ctx.H, ctx.D
        need_x, need_e = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        G = grad_out.contiguous()
        gx = ge = None
        if ctx.reduce in ("sum", "mean"):
            if ctx.reduce == "mean":
                G = G / g.in_degrees().clamp(min=1).to(G.dtype).view(-1, 1, 1)
            if need_x:
                # d/dx of sum_e op(x[u], e): the same aggregation on the reversed graph.
                kop, other = {"u_mul_e": ("mul", e3), "u_div_e": ("div", e3)}.get(op, ("copy_lhs", None))
                full, _ = _raw.spmm(g.csc, G, other, kop, "sum", H, D)
                gx = reduce_to(full, x3.shape)
            if need_e:
                if op in ("copy_e", "u_add_e", "u_sub_e"):
                    Gn = reduce_to(G, (1,) + tuple(e3.shape[1:]))
                    ge = _raw.sddmm(g, Gn, "v", None, "u", "copy_lhs", Gn.shape[1], Gn.shape[2])
                    ge = -ge if op == "u_sub_e" else ge
                else:  # mul / div: sum over broadcast axes of grad[v] * x[u]
                    if e3.shape[2] == 1 and D > 1:
                        t = _raw.sddmm(g, G, "v", x3, "u", "dot", H, D)
                    else:
                        t = _raw.sddmm(g, G, "v", x3, "u", "mul", H, D)
                    t = reduce_to(t, e3.shape)
                    ge = -t / (e3 * e3) if op == "u_div_e" else t
        elif g.num_edges == 0:  # nothing was selected: all gradients vanish
            gx = torch.zeros_like(x3) if need_x else None
            ge = torch.zeros_like(e3) if need_e else None
        else:
            valid = arg >= 0
            a = arg.clamp(min=0)
            Gm = G * valid
            xl = _take(x3, g.src[a], H, D) if x3 is not None else None
            er = _take(e3, a, H, D) if e3 is not None else None
            if need_x:
                dl = {"u_mul_e": lambda: er, "u_div_e": lambda: 1.0 / er}.get(op, lambda: 1.0)()
                gx = reduce_to(_scatter_add_hd(g.num_nodes, g.src[a], Gm * dl), x3.shape)
            if need_e:
                dr = {"u_sub_e": lambda: -1.0, "u_mul_e": lambda: xl,
                      "u_div_e": lambda: -xl / (er * er)}.get(op, lambda: 1.0)()
                ge = reduce_to(_scatter_add_hd(g.num_edges, a, Gm * dr), e3.shape)
        return None, gx, ge, None, None, None, None


def _reference_arg(g: Graph, x3, e3, op, out3, H, D):
    """Arg edges for max/min on the reference path: the first edge (in edge order) whose
    message equals the row's result (or is NaN where the result is), or -1 for rows without
    edges."""
    E = g.num_edges
    lhs = x3[g.src].expand(E, H, D) if x3 is not None else None
    rhs = e3.expand(E, H, D) if e3 is not None else None
    m = {"copy_u": lambda: lhs, "copy_e": lambda: rhs}.get(op, lambda: reference._BINARY[op[2:5]](lhs, rhs))()
    res = out3[g.dst]
    hit = (m == res) | (m.isnan() & res.isnan())
    eid = torch.arange(E, device=m.device).view(-1, 1, 1).expand(E, H, D)
    cand = torch.where(hit, eid, torch.full_like(eid, E))
    first = torch.full((g.num_nodes, H, D), E, dtype=torch.int64, device=m.device)
    first = first.scatter_reduce(0, g.dst.view(-1, 1, 1).expand(E, H, D), cand, "amin")
    return torch.where(first == E, torch.full_like(first, -1), first)


def spmm(g: Graph, x: torch.Tensor | None = None, e: torch.Tensor | None = None,
         op: str = "copy_u", reduce: str = "sum", return_arg: bool = False):
    """Aggregate messages over incoming edges: ``out[v] = reduce_{(u,v)} op(x[u], e[(u,v)])``.

    Parameters
    ----------
    g : Graph
    x : node features ``(N,)``, ``(N, D)`` or ``(N, H, D)``; not used by ``copy_e``. A 1-D ``x``
        with a 1-D ``e`` (or none) gives a 1-D output.
    e : edge features in the graph's edge order. Against ``x`` of shape ``(N, D)``: ``(E,)``,
        ``(E, 1)`` or ``(E, D)``; against ``(N, H, D)``: ``(E, H)`` or ``(E, H, 1)`` (one scalar
        per head) or ``(E, H, D)``. Not used by ``copy_u``.
    op : ``copy_u``, ``copy_e``, ``u_add_e``, ``u_sub_e``, ``u_mul_e`` or ``u_div_e``.
    reduce : ``sum``, ``mean``, ``max`` or ``min``. Nodes without incoming edges get 0; a NaN
        message makes the reduction NaN, ``max``/``min`` included (as torch's amax/amin).
    return_arg : for max/min, also return ``(arg_u, arg_e)``: the source node and the edge that
        produced each output element (-1 where a node has no incoming edge).
    """
    g = check_graph(g)
    check_choice(op, SPMM_OPS, "op")
    check_choice(reduce, REDUCERS, "reduce")
    uses_x, uses_e = op != "copy_e", op != "copy_u"
    if uses_x and x is None:
        raise ValueError(f"op {op!r} needs node features x")
    if uses_e and e is None:
        raise ValueError(f"op {op!r} needs edge features e")
    if return_arg and reduce not in ("max", "min"):
        raise ValueError("return_arg needs reduce='max' or 'min'")
    x = check_values(x, "x", g.num_nodes, "nodes", g) if uses_x else None
    e = check_values(e, "e", g.num_edges, "edges", g) if uses_e else None
    same_dtype(x, e, "x", "e")
    x3 = as_3d(x) if x is not None else None
    e3 = as_3d(e, as_heads=x is not None and x.dim() == 3) if e is not None else None
    H, D = broadcast_hd(x3, e3, "x", "e")
    if x is None:
        out_shape = (g.num_nodes,) + tuple(e.shape[1:])
    elif x.dim() == 1 and (e is None or e.dim() == 1):
        out_shape = (g.num_nodes,)        # one value per node in, one per node out, as copy_e
    elif x.dim() == 3 or (e is not None and e.dim() == 3):
        out_shape = (g.num_nodes, H, D)
    else:
        out_shape = (g.num_nodes, D)
    if _native.covers(x, e):
        if _native.needs_grad(x, e):
            out3, arg = _SpMM.apply(g, x3, e3, op, reduce, H, D)
        else:
            out3, arg = _raw.spmm(g.csr, x3, e3, _KERNEL_OP[op], reduce, H, D)
    else:
        out3 = reference.spmm(g, x3, e3, op, reduce)
        arg = _reference_arg(g, x3, e3, op, out3.detach(), H, D) if return_arg else None
    out = out3.reshape(out_shape)
    if not return_arg:
        return out
    # arg -1 (no incoming edge) wraps to the appended -1.
    arg_u = torch.cat([g.src, g.src.new_full((1,), -1)])[arg]
    return out, arg_u.reshape(out_shape), arg.reshape(out_shape)
