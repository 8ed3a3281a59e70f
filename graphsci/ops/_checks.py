"""Argument checks and the broadcasting rules shared by the ops. Everything that reaches the
native core passes through here first, so bad input is a ValueError naming the argument."""
from __future__ import annotations

import torch

from graphsci.graph import Graph

SPMM_OPS = ("copy_u", "copy_e", "u_add_e", "u_sub_e", "u_mul_e", "u_div_e")
REDUCERS = ("sum", "mean", "max", "min")
SDDMM_OPS = ("add", "sub", "mul", "div", "dot", "copy_lhs", "copy_rhs")
TARGETS = ("u", "v", "e")


def check_graph(g) -> Graph:
    if not isinstance(g, Graph):
        raise ValueError(f"g must be a graphsci.Graph, got {type(g).__name__}")
    return g


def check_choice(value, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value


def check_values(t, name: str, rows: int, rows_name: str, g: Graph) -> torch.Tensor:
    """A floating tensor with ``rows`` rows on the graph's device."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.layout != torch.strided:
        raise ValueError(f"{name} must be a dense tensor, got layout {t.layout}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() == 0 or t.dim() > 3:
        raise ValueError(f"{name} must have 1 to 3 dimensions, got shape {tuple(t.shape)}")
    if t.shape[0] != rows:
        raise ValueError(f"{name} has {t.shape[0]} rows but the graph has {rows} {rows_name}")
    if t.device != g.device:
        raise ValueError(f"{name} is on {t.device} but the graph is on {g.device}")
    return t


def as_3d(t: torch.Tensor, as_heads: bool = False) -> torch.Tensor:
    """(R,) -> (R, 1, 1); (R, K) -> (R, 1, K), or (R, K, 1) when ``as_heads`` (per-head
    scalars against a multi-head operand); 3-D unchanged."""
    if t.dim() == 1:
        return t.view(-1, 1, 1)
    if t.dim() == 2:
        return t.unsqueeze(-1) if as_heads else t.unsqueeze(1)
    return t


def broadcast_hd(a: torch.Tensor | None, b: torch.Tensor | None, a_name: str, b_name: str):
    """The output (H, D) of two (R, H, D)-shaped operands, each axis either equal or 1."""
    shapes = [(n, t.shape[1], t.shape[2]) for n, t in ((a_name, a), (b_name, b)) if t is not None]
    # numpy's rule: an axis of 1 takes the other's size, zero included
    H = next((s[1] for s in shapes if s[1] != 1), 1)
    D = next((s[2] for s in shapes if s[2] != 1), 1)
    for n, h, d in shapes:
        if h not in (1, H):
            raise ValueError(f"{n} has {h} heads, which does not broadcast against {H}")
        if d not in (1, D):
            raise ValueError(f"{n} has {d} features, which does not broadcast against {D}")
    return H, D


def same_dtype(a: torch.Tensor | None, b: torch.Tensor | None, a_name: str, b_name: str):
    if a is not None and b is not None and a.dtype != b.dtype:
        raise ValueError(f"{a_name} ({a.dtype}) and {b_name} ({b.dtype}) must have the same dtype")


def reduce_to(grad: torch.Tensor, shape) -> torch.Tensor:
    """Sums a (R, H, D) gradient over the axes an operand of ``shape`` was broadcast along."""
    dims = [i for i in (1, 2) if shape[i] == 1 and grad.shape[i] != 1]
    return grad.sum(dim=dims, keepdim=True) if dims else grad
