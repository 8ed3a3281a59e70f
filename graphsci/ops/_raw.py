"""The one place that calls the native kernels: thin wrappers on (R, H, D) operands that
allocate the outputs. No autograd and no checks beyond the kernel's own: callers have validated
everything. Tensors cross as DLPack capsules from ``torch.utils.dlpack.to_dlpack`` (a C call),
several times cheaper per argument than the ``__dlpack__`` protocol method."""
from __future__ import annotations

import torch
from torch.utils.dlpack import to_dlpack

from graphsci import _native
from graphsci.graph import CompressedRows, Graph

TARGET_CODE = {"u": 0, "v": 1, "e": 2}


def _dl(t):
    return None if t is None else to_dlpack(t.detach().contiguous())


# glibc serves allocations this large with a fresh mmap (its threshold never rises past 32 MiB),
# so the buffer is untouched and its own mapping: huge-page advice then saves nearly all of its
# first-touch page faults and cannot affect any other allocation.
_HUGE_OUTPUT_BYTES = 32 << 20


def _empty(shape, dtype) -> torch.Tensor:
    """An output buffer for a kernel to fill."""
    out = torch.empty(shape, dtype=dtype)
    if out.numel() * out.element_size() >= _HUGE_OUTPUT_BYTES:
        _native._C.advise_huge_pages(to_dlpack(out))
    return out


def spmm(rows: CompressedRows, lhs, rhs, op: str, reduce: str, H: int, D: int):
    """Aggregates over compressed ``rows``; ``op`` is a kernel op name (copy_lhs, mul, ...).
    Returns ``(out, arg)``; ``arg`` holds edge ids for max/min, else None."""
    ref = lhs if lhs is not None else rhs
    n = rows.indptr.numel() - 1
    out = _empty((n, H, D), ref.dtype)
    arg = _empty((n, H, D), torch.int64) if reduce in ("max", "min") else None
    # Edge ids are read only when edge operands or arg indices are involved.
    eids = rows.eids if (rhs is not None or arg is not None) else None
    _native._C.spmm(_dl(rows.indptr), _dl(rows.indices), _dl(eids), _dl(lhs), _dl(rhs), _dl(out),
                    _dl(arg), op, reduce, _native.num_threads())
    return out, arg


def sddmm(g: Graph, lhs, lhs_target: str, rhs, rhs_target: str, op: str, H: int, D: int):
    ref = lhs if lhs is not None else rhs
    out = _empty((g.num_edges, H, 1 if op == "dot" else D), ref.dtype)
    src, dst = g.index_pair
    _native._C.sddmm(_dl(src), _dl(dst), _dl(lhs), TARGET_CODE[lhs_target], _dl(rhs),
                     TARGET_CODE[rhs_target], _dl(out), op, g.num_nodes, g.num_nodes,
                     _native.num_threads())
    return out


def edge_softmax_forward(rows: CompressedRows, score2):
    out = _empty(score2.shape, score2.dtype)
    _native._C.edge_softmax_forward(_dl(rows.indptr), _dl(rows.eids), _dl(score2), _dl(out),
                                    _native.num_threads())
    return out


def edge_softmax_backward(rows: CompressedRows, y, grad):
    out = _empty(y.shape, y.dtype)
    _native._C.edge_softmax_backward(_dl(rows.indptr), _dl(rows.eids), _dl(y), _dl(grad),
                                     _dl(out), _native.num_threads())
    return out


def segment_reduce(offsets, x2, reduce: str):
    B, F = offsets.numel() - 1, x2.shape[1]
    out = _empty((B, F), x2.dtype)
    arg = _empty((B, F), torch.int64) if reduce in ("max", "min") else None
    _native._C.segment_reduce(_dl(offsets), _dl(x2), _dl(out), _dl(arg), reduce,
                              _native.num_threads())
    return out, arg


def coo_to_csr(row, col, num_rows: int, dtype) -> CompressedRows:
    e = row.numel()
    indptr = torch.empty(num_rows + 1, dtype=dtype)
    indices = torch.empty(e, dtype=dtype)
    eids = torch.empty(e, dtype=dtype)
    _native._C.coo_to_csr(_dl(row.to(dtype)), _dl(col.to(dtype)), num_rows, _dl(indptr),
                          _dl(indices), _dl(eids))
    return CompressedRows(indptr, indices, eids)


def degree(idx, num_nodes: int):
    out = torch.zeros(num_nodes, dtype=torch.int64)
    _native._C.degree(_dl(idx), _dl(out))
    return out


def propagate(rows: CompressedRows, scale, x2, y2, steps: int, a: float, b: float):
    """``steps`` of ``z <- a x + b S (A + I) S z`` from ``z = y`` over the self-looped graph's
    compressed ``rows`` (``S`` = diag(``scale``)); ``x2``/``y2`` are (N, D)."""
    out, work = _empty(y2.shape, y2.dtype), _empty(y2.shape, y2.dtype)
    _native._C.propagate(_dl(rows.indptr), _dl(rows.indices), _dl(scale), _dl(x2), _dl(y2), _dl(out),
                         _dl(work), steps, a, b, _native.num_threads())
    return out


def dropout(x, seed: int, threshold: int, scale: float):
    out = _empty(x.shape, x.dtype)
    _native._C.dropout(_dl(x), to_dlpack(out), seed, threshold, scale, _native.num_threads())
    return out
