"""Reductions over contiguous segments of rows: the readout of a batch of graphs."""
from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from graphsci import _native
from graphsci.ops import _raw, reference
from graphsci.ops._checks import REDUCERS, check_choice


class _SegmentReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, lengths, offsets, reduce: str):
        out, arg = _raw.segment_reduce(offsets, x2, reduce)
        ctx.save_for_backward(lengths, arg)
        ctx.reduce, ctx.L = reduce, x2.shape[0]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        lengths, arg = ctx.saved_tensors
        if ctx.reduce == "sum":
            return grad.repeat_interleave(lengths, dim=0), None, None, None
        if ctx.reduce == "mean":
            scaled = grad / lengths.clamp(min=1).to(grad.dtype).view(-1, 1)
            return scaled.repeat_interleave(lengths, dim=0), None, None, None
        F = grad.shape[1]
        valid = arg >= 0
        flat = arg * F + torch.arange(F).view(1, F)
        out = grad.new_zeros(ctx.L * F)
        out[flat[valid]] = grad[valid]  # each input element is the arg of at most one output
        return out.view(ctx.L, F), None, None, None


def segment_reduce(x: torch.Tensor, lengths, reduce: str = "sum") -> torch.Tensor:
    """Reduces ``x`` over consecutive segments of rows with the given ``lengths``.

    ``x`` is ``(L, ...)``; ``lengths`` non-negative integers summing to ``L``. Returns
    ``(len(lengths), ...)``; an empty segment gives 0. ``reduce`` is sum, mean, max or min.
    """
    check_choice(reduce, REDUCERS, "reduce")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError("x must be a floating-point torch.Tensor")
    if x.dim() == 0:
        raise ValueError("x must have at least one dimension")
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
        lengths = lengths.detach().to("cpu", torch.int64)
    else:
        lengths = torch.as_tensor(lengths, dtype=torch.int64)
    if lengths.dim() != 1:
        raise ValueError("lengths must be 1-dimensional")
    if lengths.numel() and int(lengths.min()) < 0:
        raise ValueError("lengths must be non-negative")
    if int(lengths.sum()) != x.shape[0]:
        raise ValueError(f"lengths sum to {int(lengths.sum())} but x has {x.shape[0]} rows")
    x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))
    if _native.covers(x):
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(lengths, 0)])
        if _native.needs_grad(x):
            out = _SegmentReduce.apply(x2, lengths, offsets, reduce)
        else:
            out, _ = _raw.segment_reduce(offsets, x2, reduce)
    else:
        out = reference.segment_reduce(x2, lengths, reduce)
    return out.reshape((lengths.numel(),) + tuple(x.shape[1:]))
