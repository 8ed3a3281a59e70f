"""Thin calls into the native kernels on (R, H, D) operands, allocating the outputs. No autograd
and no checks beyond the kernel's own: callers in this package have validated everything."""
from __future__ import annotations

import torch

from graphsci import _native
from graphsci.graph import CompressedRows, Graph

TARGET_CODE = {"u": 0, "v": 1, "e": 2}


def _c(t):
    return None if t is None else t.detach().contiguous()


def spmm(rows: CompressedRows, lhs, rhs, op: str, reduce: str, H: int, D: int):
    """Aggregates over compressed ``rows``; ``op`` is a kernel op name (copy_lhs, mul, ...).
    Returns ``(out, arg)``; ``arg`` holds edge ids for max/min, else None."""
    ref = lhs if lhs is not None else rhs
    n = rows.indptr.numel() - 1
    out = torch.empty((n, H, D), dtype=ref.dtype)
    arg = torch.empty((n, H, D), dtype=torch.int64) if reduce in ("max", "min") else None
    # Edge ids are read only when edge operands or arg indices are involved.
    eids = rows.eids if (rhs is not None or arg is not None) else None
    _native._C.spmm(rows.indptr, rows.indices, eids, _c(lhs), _c(rhs), out, arg, op, reduce,
                    _native.num_threads())
    return out, arg


def sddmm(g: Graph, lhs, lhs_target: str, rhs, rhs_target: str, op: str, H: int, D: int):
    ref = lhs if lhs is not None else rhs
    out = torch.empty((g.num_edges, H, 1 if op == "dot" else D), dtype=ref.dtype)
    _native._C.sddmm(g.src, g.dst, _c(lhs), TARGET_CODE[lhs_target], _c(rhs),
                     TARGET_CODE[rhs_target], out, op, g.num_nodes, g.num_nodes,
                     _native.num_threads())
    return out
